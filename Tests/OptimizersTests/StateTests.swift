import Foundation
import Tensors
import Testing

@testable import Optimizers

/// Parameters of a few sizes (some not a multiple of the vector width) and a deterministic
/// gradient for each step.
private func makeParameters() -> [Tensor] {
  [37, 300, 1].enumerated().map { index, count in
    Tensor(
      shape: [count],
      values: (0..<count).map { Float(sin(Double($0 * 3 + index))) }, requiresGrad: true)
  }
}

private func gradient(for parameter: Tensor, index: Int, step: Int) -> Tensor {
  let values = (0..<parameter.count).map { i in
    Float(cos(Double(i * 7 + step * 13 + index)) * (1 + Double(step % 3)))
  }
  return Tensor(shape: parameter.shape, values: values)
}

/// Runs `steps` more steps from `first`, with the hyper-parameters a cyclical schedule would
/// set, leaving parameter 2 without a gradient on odd steps.
private func run(_ optimizer: some Optimizer, steps range: Range<Int>) {
  for step in range {
    optimizer.zeroGradients()
    for (index, parameter) in optimizer.parameters.enumerated() where index != 2 || step % 2 == 0 {
      parameter.grad = gradient(for: parameter, index: index, step: step)
    }
    optimizer.learningRate = 0.01 * Double(1 + step % 4)
    optimizer.momentum = 0.95 - 0.02 * Double(step % 4)
    optimizer.step()
  }
}

private func copies(_ parameters: [Tensor]) -> [Tensor] {
  parameters.map { Tensor(shape: $0.shape, values: $0.values, requiresGrad: true) }
}

/// Snapshots after 3 steps, continues 4 steps; then restores the snapshot into a fresh
/// optimizer (made with other hyper-parameters) on copies of the parameters, and into the same
/// optimizer after putting the parameters back, and expects the same 4 steps bit for bit.
private func expectExactContinuation(_ make: ([Tensor]) -> some Optimizer) throws {
  let parameters = makeParameters()
  let original = make(parameters)
  run(original, steps: 0..<3)
  let state = original.snapshot()
  let saved = copies(parameters)
  run(original, steps: 3..<7)
  let finalState = original.snapshot()

  // A fresh optimizer, restored from the in-memory snapshot.
  let resumed = make(copies(saved))
  resumed.learningRate = 123
  resumed.restore(state)
  #expect(resumed.snapshot() == state)
  run(resumed, steps: 3..<7)
  for (a, b) in zip(parameters, resumed.parameters) { #expect(bits(a) == bits(b)) }
  #expect(resumed.snapshot() == finalState)

  // The same optimizer, rewound.
  for (parameter, value) in zip(parameters, saved) { parameter.assign(value) }
  original.restore(state)
  run(original, steps: 3..<7)
  #expect(original.snapshot() == finalState)

  // Through JSON, as a checkpoint would store it.
  let decoded = try JSONDecoder().decode(
    OptimizerState.self, from: JSONEncoder().encode(state))
  #expect(decoded == state)
  let fromFile = make(copies(saved))
  try fromFile.validate(decoded)
  fromFile.restore(decoded)
  run(fromFile, steps: 3..<7)
  for (a, b) in zip(parameters, fromFile.parameters) { #expect(bits(a) == bits(b)) }
}

extension OptimizerTests {
  @Test func sgdSnapshotRestoreContinuesExactly() throws {
    try expectExactContinuation { parameters in
      SGD(
        parameters: parameters, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4,
        nesterov: true)
    }
    try expectExactContinuation { parameters in
      SGD(parameters: parameters, learningRate: 0.01, momentum: 0.9, dampening: 0.1)
    }
  }

  @Test func adamWSnapshotRestoreContinuesExactly() throws {
    try expectExactContinuation { parameters in
      AdamW(parameters: parameters, learningRate: 0.01, beta2: 0.99, weightDecay: 0.05)
    }
  }

  @Test func snapshotNamesStateAsPyTorch() {
    let parameters = makeParameters()
    let sgd = SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9)
    let adam = AdamW(parameters: parameters, learningRate: 0.1)
    #expect(sgd.snapshot().buffers.isEmpty)
    run(sgd, steps: 0..<1)
    run(adam, steps: 0..<1)
    #expect(
      Set(sgd.snapshot().buffers.keys) == [
        "0.momentum_buffer", "1.momentum_buffer", "2.momentum_buffer",
      ])
    #expect(sgd.snapshot().buffers["1.momentum_buffer"]?.count == 300)
    #expect(
      Set(adam.snapshot().buffers.keys) == [
        "0.exp_avg", "0.exp_avg_sq", "1.exp_avg", "1.exp_avg_sq", "2.exp_avg", "2.exp_avg_sq",
      ])
    #expect(adam.snapshot().scalars == ["0.step": 1, "1.step": 1, "2.step": 1])
    #expect(adam.snapshot().hyperParameters["momentum"] == adam.momentum)
  }

  @Test func snapshotIsACopy() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
    p.grad = Tensor(shape: [2], values: [1, 1])
    sgd.step()
    let state = sgd.snapshot()
    sgd.step()
    #expect(state.buffers["0.momentum_buffer"] == [1, 1])
    #expect(state.stepCount == 1)
  }

  @Test func invalidStatesAreRejected() {
    let parameters = makeParameters()
    let sgd = SGD(parameters: parameters, learningRate: 0.1, momentum: 0.9)
    let adam = AdamW(parameters: parameters, learningRate: 0.1)
    run(sgd, steps: 0..<1)
    run(adam, steps: 0..<1)
    #expect(throws: OptimizerStateError.wrongKind(expected: "SGD", found: "AdamW")) {
      try sgd.validate(adam.snapshot())
    }
    let fewer = SGD(parameters: Array(parameters.prefix(2)), learningRate: 0.1)
    #expect(
      throws: OptimizerStateError.parameterMismatch(expected: [37, 300], found: [37, 300, 1])
    ) {
      try fewer.validate(sgd.snapshot())
    }
    var short = sgd.snapshot()
    short.buffers["1.momentum_buffer"]?.removeLast()
    #expect(
      throws: OptimizerStateError.bufferSize(name: "1.momentum_buffer", expected: 300, found: 299)
    ) {
      try sgd.validate(short)
    }
    var stray = sgd.snapshot()
    stray.buffers["7.momentum_buffer"] = [0]
    #expect(throws: OptimizerStateError.unknownEntry("7.momentum_buffer")) {
      try sgd.validate(stray)
    }
    var noRate = sgd.snapshot()
    noRate.hyperParameters["learningRate"] = nil
    #expect(throws: OptimizerStateError.missingHyperParameter("learningRate")) {
      try sgd.validate(noRate)
    }
    var partial = adam.snapshot()
    partial.buffers["2.exp_avg_sq"] = nil
    #expect(throws: OptimizerStateError.missingEntry("2.exp_avg_sq")) {
      try adam.validate(partial)
    }
    var fractional = adam.snapshot()
    fractional.scalars["0.step"] = 1.5
    #expect(throws: OptimizerStateError.invalidScalar(name: "0.step", value: 1.5)) {
      try adam.validate(fractional)
    }
    #expect(
      OptimizerStateError.wrongKind(expected: "SGD", found: "AdamW").description
        == "optimizer state is for AdamW, not SGD")
  }
}
