import Tensors

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
/// weight decay, exactly as PyTorch's `torch.optim.SGD`.
///
/// For each parameter p with gradient ∇ at step t, with learning rate η, momentum μ,
/// dampening τ and weight decay λ (all read when the step is taken, so schedules may change
/// them between steps):
///
///     g ← ∇ + λ·p                                  (skipped when λ = 0)
///     if μ ≠ 0:
///       b ← g                 on the parameter's first step with momentum
///       b ← μ·b + (1 − τ)·g   afterwards
///       g ← g + μ·b  if Nesterov, else g ← b
///     p ← p − η·g
///
/// The first momentum step is not dampened. When μ is 0 the momentum buffer, if any, is
/// neither used nor updated. Arithmetic is float32 element by element in PyTorch's order; the
/// coefficients are computed in double and rounded to float, as PyTorch does with Python
/// scalars. (PyTorch's vectorized kernels may fuse a multiply-add, so results can differ from
/// it in the last bit.)
///
/// - Complexity: O(n) per step for n parameter elements in vectorized loops; no allocation
///   after the first step.
public final class SGD: Optimizer {
  public let parameters: [Tensor]
  public var learningRate: Double
  public var momentum: Double
  /// The dampening τ: the gradient enters the momentum buffer scaled by 1 − τ.
  public var dampening: Double
  public var weightDecay: Double
  /// Whether to use Nesterov momentum (needs μ > 0 and τ = 0).
  public var nesterov: Bool
  public private(set) var stepCount = 0
  /// One momentum buffer per parameter, created at its first step with momentum.
  private var momentumBuffers: [Storage?]

  /// An optimizer for `parameters` (row-major tensors, each listed once).
  public init(
    parameters: [Tensor], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
    weightDecay: Double = 0, nesterov: Bool = false
  ) {
    precondition(learningRate >= 0, "invalid learning rate \(learningRate)")
    precondition(momentum >= 0, "invalid momentum \(momentum)")
    precondition(weightDecay >= 0, "invalid weight decay \(weightDecay)")
    precondition(
      !nesterov || (momentum > 0 && dampening == 0),
      "Nesterov momentum needs momentum > 0 and dampening 0 (momentum \(momentum), "
        + "dampening \(dampening))")
    checkParameters(parameters)
    self.parameters = parameters
    self.learningRate = learningRate
    self.momentum = momentum
    self.dampening = dampening
    self.weightDecay = weightDecay
    self.nesterov = nesterov
    momentumBuffers = Array(repeating: nil, count: parameters.count)
  }

  public func step() {
    stepCount += 1
    let rate = Float(-learningRate)
    let decay = Float(weightDecay)
    let mu = Float(momentum)
    let keep = Float(1 - dampening)
    for (index, parameter) in parameters.enumerated() {
      guard let grad = plainGradient(of: parameter, index: index) else { continue }
      let p = parameter.storage.pointer
      let g = grad.storage.pointer
      let n = parameter.count
      if momentum == 0 {
        Self.plainStep(p, g, n, rate: rate, decay: decay)
      } else if let buffer = momentumBuffers[index] {
        Self.momentumStep(
          p, g, buffer.pointer, n, rate: rate, decay: decay, mu: mu, keep: keep,
          nesterov: nesterov)
      } else {
        let buffer = Storage(count: n)
        momentumBuffers[index] = buffer
        Self.firstMomentumStep(
          p, g, buffer.pointer, n, rate: rate, decay: decay, mu: mu, nesterov: nesterov)
      }
    }
  }

  // The three loops below differ only in the momentum update. Each element goes through
  // PyTorch's operations in PyTorch's order, eight at a time (see `forEachChunk`).

  /// p ← p − η·(∇ + λ·p).
  private static func plainStep(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ n: Int,
    rate: Float, decay: Float
  ) {
    let hasDecay = decay != 0
    forEachChunk(of: n) { i, width in
      let pi = p.chunk(at: i, width: width)
      var d = g.chunk(at: i, width: width)
      if hasDecay { d = d + decay * pi }
      p.store(pi + rate * d, at: i, width: width)
    }
  }

  /// b ← g; p ← p − η·(Nesterov ? g + μ·b : b).
  private static func firstMomentumStep(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafeMutablePointer<Float>,
    _ n: Int, rate: Float, decay: Float, mu: Float, nesterov: Bool
  ) {
    let hasDecay = decay != 0
    forEachChunk(of: n) { i, width in
      let pi = p.chunk(at: i, width: width)
      var d = g.chunk(at: i, width: width)
      if hasDecay { d = d + decay * pi }
      b.store(d, at: i, width: width)
      let u = nesterov ? d + mu * d : d
      p.store(pi + rate * u, at: i, width: width)
    }
  }

  /// b ← μ·b + (1 − τ)·g; p ← p − η·(Nesterov ? g + μ·b : b).
  private static func momentumStep(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafeMutablePointer<Float>,
    _ n: Int, rate: Float, decay: Float, mu: Float, keep: Float, nesterov: Bool
  ) {
    let hasDecay = decay != 0
    forEachChunk(of: n) { i, width in
      let pi = p.chunk(at: i, width: width)
      var d = g.chunk(at: i, width: width)
      if hasDecay { d = d + decay * pi }
      let velocity = mu * b.chunk(at: i, width: width) + keep * d
      b.store(velocity, at: i, width: width)
      let u = nesterov ? d + mu * velocity : velocity
      p.store(pi + rate * u, at: i, width: width)
    }
  }

  public func snapshot() -> OptimizerState {
    var buffers: [String: [Float]] = [:]
    for (index, buffer) in momentumBuffers.enumerated() {
      if let buffer { buffers["\(index).momentum_buffer"] = Array(buffer.buffer) }
    }
    return OptimizerState(
      kind: "SGD", stepCount: stepCount,
      hyperParameters: [
        "learningRate": learningRate, "momentum": momentum, "dampening": dampening,
        "weightDecay": weightDecay, "nesterov": nesterov ? 1 : 0,
      ],
      buffers: buffers, parameterCounts: parameters.map(\.count))
  }

  public func validate(_ state: OptimizerState) throws(OptimizerStateError) {
    try state.check(
      kind: "SGD", parameterCounts: parameters.map(\.count),
      hyperParameters: ["learningRate", "momentum", "dampening", "weightDecay", "nesterov"],
      buffers: ["momentum_buffer"])
  }

  public func restore(_ state: OptimizerState) {
    do { try validate(state) } catch { preconditionFailure("cannot restore SGD: \(error)") }
    let h = state.hyperParameters
    learningRate = h["learningRate"]!
    momentum = h["momentum"]!
    dampening = h["dampening"]!
    weightDecay = h["weightDecay"]!
    nesterov = h["nesterov"]! != 0
    stepCount = state.stepCount
    momentumBuffers = parameters.indices.map { index in
      state.buffers["\(index).momentum_buffer"].map(makeStorage)
    }
  }
}

/// New storage holding a copy of `values`.
func makeStorage(_ values: [Float]) -> Storage {
  let storage = Storage(count: values.count)
  values.withUnsafeBufferPointer { source in
    if let base = source.baseAddress { storage.pointer.update(from: base, count: values.count) }
  }
  return storage
}
