import Foundation

/// How an operation's output sends its gradient back: the inputs and a closure that maps the
/// output's gradient to one gradient per input (nil where an input needs none).
///
/// The closure must not capture the output tensor itself (that would make a cycle); it
/// captures the storage or values it needs instead.
final class GradientFunction {
  let inputs: [Tensor]
  let backward: (Tensor) -> [Tensor?]
  init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
    self.inputs = inputs
    self.backward = backward
  }
}

/// Whether operations record the graph for `backward()`; off inside `withoutGradients`.
/// Task-local (thread-local outside tasks), so one thread's evaluation does not switch off
/// another's recording.
enum GradientMode {
  @TaskLocal static var recording = true
}

var gradientRecording: Bool { GradientMode.recording }

/// Runs `body` without recording operations for differentiation (evaluation, optimizer updates).
public func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
  try GradientMode.$recording.withValue(false) { try body() }
}

/// Whether an operation on these inputs must record a backward function.
@inline(__always)
func needsGradient(_ inputs: Tensor...) -> Bool {
  guard gradientRecording else { return false }
  for t in inputs where t.requiresGrad { return true }
  return false
}

extension Tensor {
  /// Marks this tensor as the output of an operation on `inputs`.
  func record(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> [Tensor?]) {
    requiresGrad = true
    gradientFunction = GradientFunction(inputs: inputs, backward: backward)
  }

  /// Whether this tensor was computed by a recorded operation (not a leaf).
  public var isLeaf: Bool { gradientFunction == nil }

  /// Computes gradients of this scalar with respect to every leaf that requires them,
  /// accumulating into their `grad`. The graph is released afterwards.
  public func backward() {
    precondition(count == 1, "backward() needs a scalar; this tensor has shape \(shape)")
    // Topological order by iterative depth-first search.
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    var stack: [(Tensor, Bool)] = [(self, false)]
    while let (t, expanded) = stack.popLast() {
      if expanded {
        order.append(t)
        continue
      }
      if !visited.insert(ObjectIdentifier(t)).inserted { continue }
      stack.append((t, true))
      if let f = t.gradientFunction {
        for input in f.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input))
        {
          stack.append((input, false))
        }
      }
    }
    accumulateGradient(Tensor(repeating: 1, shape: shape))
    for t in order.reversed() {
      guard let f = t.gradientFunction else { continue }
      t.gradientFunction = nil
      guard let g = t.grad else { continue }
      t.grad = nil
      let grads = withoutGradients { f.backward(g) }
      for (input, grad) in zip(f.inputs, grads) {
        if let grad, input.requiresGrad { input.accumulateGradient(grad) }
      }
    }
  }

  /// Adds `gradient` to `grad`. Gradients are never modified in place once stored (they may be
  /// shared between tensors), so accumulation makes a new tensor.
  func accumulateGradient(_ gradient: Tensor) {
    precondition(gradient.shape == shape, "gradient of shape \(gradient.shape) for tensor \(shape)")
    let g = gradient.reordered(to: descriptor)
    if let existing = grad {
      let sum = Tensor(shape: shape, storage: Storage(count: storageCount), layout: layout)
      Vector.add(
        existing.storage.pointer, g.storage.pointer, into: sum.storage.pointer, count: storageCount)
      grad = sum
    } else {
      grad = g
    }
  }

  /// Clears the accumulated gradient.
  public func zeroGradient() { grad = nil }
}
