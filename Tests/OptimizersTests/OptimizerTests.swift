import Tensors
import Testing

@testable import Optimizers

/// All optimizer tests, run one at a time (the engine's kernel caches are not thread-safe).
///
/// Expected values are worked by hand from the pseudo-code in PyTorch's documentation of
/// `torch.optim.SGD` and `torch.optim.AdamW` (https://pytorch.org/docs/stable/optim.html);
/// the arithmetic is in the comments next to each number.
@Suite(.serialized) struct OptimizerTests {}

// MARK: - Helpers

/// The fixed gradients fed to the two-element parameter [1, −2] in the worked examples.
let exampleGradients: [[Float]] = [[0.5, -1], [0.25, 0.5], [1, -0.5]]

/// A fresh two-element parameter [1, −2].
func exampleParameter() -> Tensor { Tensor(shape: [2], values: [1, -2], requiresGrad: true) }

/// Feeds `gradients` to `parameter` one step at a time and returns its values after each step.
/// `beforeStep(i)` runs before step i (0-based), e.g. to change hyper-parameters.
func trajectory(
  of parameter: Tensor, under optimizer: some Optimizer, gradients: [[Float]],
  beforeStep: (Int) -> Void = { _ in }
) -> [[Float]] {
  var result: [[Float]] = []
  for (i, gradient) in gradients.enumerated() {
    optimizer.zeroGradients()
    parameter.grad = Tensor(shape: parameter.shape, values: gradient)
    beforeStep(i)
    optimizer.step()
    result.append(parameter.values)
  }
  return result
}

/// Expects every float within a relative 1e-6 (a few float32 roundings) of the exact value.
func expectClose(
  _ actual: [[Float]], _ expected: [[Double]], sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(actual.count == expected.count, sourceLocation: sourceLocation)
  for (step, (a, e)) in zip(actual, expected).enumerated() {
    #expect(a.count == e.count, sourceLocation: sourceLocation)
    for (x, y) in zip(a, e) {
      #expect(
        abs(Double(x) - y) <= 1e-6 * max(1, abs(y)),
        "after step \(step + 1): \(x) vs expected \(y)", sourceLocation: sourceLocation)
    }
  }
}

/// The exact bit patterns of a tensor's values, for bit-identical comparisons.
func bits(_ tensor: Tensor) -> [UInt32] { tensor.values.map(\.bitPattern) }
