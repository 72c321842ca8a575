import Foundation
import Tensors

/// Adam with decoupled weight decay (Loshchilov & Hutter), exactly as PyTorch's
/// `torch.optim.AdamW` (without AMSGrad).
///
/// For each parameter p with gradient g, learning rate η, β₁ (`momentum`), β₂, ε and weight
/// decay λ, with t the number of steps this parameter has taken (counting this one):
///
///     p ← p·(1 − η·λ)
///     m ← m + (1 − β₁)·(g − m)        (PyTorch's lerp; m starts at 0)
///     v ← β₂·v + (1 − β₂)·g²           (v starts at 0)
///     m̂ ← m / (1 − β₁ᵗ),  v̂ ← v / (1 − β₂ᵗ)
///     p ← p − η·m̂ / (√v̂ + ε)
///
/// computed, as PyTorch does, as p ← p − (η / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε), the
/// scalar factors in double and the element arithmetic in float32. The hyper-parameters are
/// read when the step is taken, so a schedule may change η, β₁ or λ between steps; the bias
/// corrections use the current β₁ and β₂. A parameter without a gradient is skipped and its t
/// does not advance.
///
/// - Complexity: O(n) per step for n parameter elements in vectorized loops; no allocation
///   after the first step.
public final class AdamW: Optimizer {
  public let parameters: [Tensor]
  public var learningRate: Double
  /// β₁, the decay rate of the first-moment estimate.
  public var momentum: Double
  /// The decay rate of the second-moment estimate.
  public var beta2: Double
  /// The term added to the denominator for numerical stability.
  public var epsilon: Double
  /// The decoupled weight decay λ: parameters shrink by a factor 1 − η·λ each step.
  public var weightDecay: Double
  public private(set) var stepCount = 0
  /// β₁ under its usual name; the same value as `momentum`.
  public var beta1: Double {
    get { momentum }
    set { momentum = newValue }
  }

  /// Per parameter: steps taken, first and second moment estimates (nil before its first step).
  private var steps: [Int]
  private var firstMoments: [Storage?]
  private var secondMoments: [Storage?]

  /// An optimizer for `parameters` (row-major tensors, each listed once). The defaults are
  /// PyTorch's.
  public init(
    parameters: [Tensor], learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999,
    epsilon: Double = 1e-8, weightDecay: Double = 0.01
  ) {
    precondition(learningRate >= 0, "invalid learning rate \(learningRate)")
    precondition(beta1 >= 0 && beta1 < 1, "invalid beta1 \(beta1): needs 0 ≤ β₁ < 1")
    precondition(beta2 >= 0 && beta2 < 1, "invalid beta2 \(beta2): needs 0 ≤ β₂ < 1")
    precondition(epsilon >= 0, "invalid epsilon \(epsilon)")
    precondition(weightDecay >= 0, "invalid weight decay \(weightDecay)")
    checkParameters(parameters)
    self.parameters = parameters
    self.learningRate = learningRate
    self.momentum = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
    steps = Array(repeating: 0, count: parameters.count)
    firstMoments = Array(repeating: nil, count: parameters.count)
    secondMoments = Array(repeating: nil, count: parameters.count)
  }

  public func step() {
    stepCount += 1
    let shrink = Float(1 - learningRate * weightDecay)
    let weight = Float(1 - momentum)
    let b2 = Float(beta2)
    let oneMinusB2 = Float(1 - beta2)
    let eps = Float(epsilon)
    for (index, parameter) in parameters.enumerated() {
      guard let grad = plainGradient(of: parameter, index: index) else { continue }
      let n = parameter.count
      steps[index] += 1
      let t = Double(steps[index])
      let m = firstMoments[index] ?? Storage(zeros: n)
      let v = secondMoments[index] ?? Storage(zeros: n)
      firstMoments[index] = m
      secondMoments[index] = v
      let correction1 = 1 - pow(momentum, t)
      let correction2 = 1 - pow(beta2, t)
      Self.update(
        parameter.storage.pointer, grad.storage.pointer, m.pointer, v.pointer, n,
        shrink: shrink, weight: weight, b2: b2, oneMinusB2: oneMinusB2,
        stepSize: Float(-(learningRate / correction1)),
        rootCorrection2: Float(pow(correction2, 0.5)), eps: eps)
    }
  }

  /// One fused pass in PyTorch's operation order: `p.mul_(shrink)`, `m.lerp_(g, weight)`,
  /// `v.mul_(b2).addcmul_(g, g, value: 1 − b2)`, `denom = v.sqrt() / rootCorrection2 + eps`,
  /// `p.addcdiv_(m, denom, value: stepSize)`; eight elements at a time (see `forEachChunk`).
  private static func update(
    _ p: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>, _ n: Int,
    shrink: Float, weight: Float, b2: Float, oneMinusB2: Float, stepSize: Float,
    rootCorrection2: Float, eps: Float
  ) {
    // PyTorch's lerp uses the form with the smaller weight for accuracy.
    let smallWeight = abs(weight) < 0.5
    let oneMinusWeight = 1 - weight
    forEachChunk(of: n) { i, width in
      let gi = g.chunk(at: i, width: width)
      var mi = m.chunk(at: i, width: width)
      mi = smallWeight ? mi + weight * (gi - mi) : gi - (gi - mi) * oneMinusWeight
      let vi = v.chunk(at: i, width: width) * b2 + oneMinusB2 * gi * gi
      m.store(mi, at: i, width: width)
      v.store(vi, at: i, width: width)
      let denominator = vi.vectorSquareRoot / rootCorrection2 + eps
      let pi = p.chunk(at: i, width: width) * shrink
      p.store(pi + stepSize * mi / denominator, at: i, width: width)
    }
  }

  public func snapshot() -> OptimizerState {
    var buffers: [String: [Float]] = [:]
    var scalars: [String: Double] = [:]
    for index in parameters.indices where steps[index] > 0 {
      scalars["\(index).step"] = Double(steps[index])
      buffers["\(index).exp_avg"] = firstMoments[index].map { Array($0.buffer) }
      buffers["\(index).exp_avg_sq"] = secondMoments[index].map { Array($0.buffer) }
    }
    return OptimizerState(
      kind: "AdamW", stepCount: stepCount,
      hyperParameters: [
        "learningRate": learningRate, "momentum": momentum, "beta2": beta2,
        "epsilon": epsilon, "weightDecay": weightDecay,
      ],
      scalars: scalars, buffers: buffers, parameterCounts: parameters.map(\.count))
  }

  public func validate(_ state: OptimizerState) throws(OptimizerStateError) {
    try state.check(
      kind: "AdamW", parameterCounts: parameters.map(\.count),
      hyperParameters: ["learningRate", "momentum", "beta2", "epsilon", "weightDecay"],
      buffers: ["exp_avg", "exp_avg_sq"], scalars: ["step"])
    // A parameter has its step count and both moments, or none of them.
    for index in parameters.indices {
      let step = state.scalars["\(index).step"]
      if let step, step < 1 { throw .invalidScalar(name: "\(index).step", value: step) }
      let hasStep = step != nil
      for name in ["\(index).exp_avg", "\(index).exp_avg_sq"]
      where (state.buffers[name] != nil) != hasStep {
        throw .missingEntry(hasStep ? name : "\(index).step")
      }
    }
  }

  public func restore(_ state: OptimizerState) {
    do { try validate(state) } catch { preconditionFailure("cannot restore AdamW: \(error)") }
    let h = state.hyperParameters
    learningRate = h["learningRate"]!
    momentum = h["momentum"]!
    beta2 = h["beta2"]!
    epsilon = h["epsilon"]!
    weightDecay = h["weightDecay"]!
    stepCount = state.stepCount
    steps = parameters.indices.map { Int(state.scalars["\($0).step"] ?? 0) }
    firstMoments = parameters.indices.map { state.buffers["\($0).exp_avg"].map(makeStorage) }
    secondMoments = parameters.indices.map { state.buffers["\($0).exp_avg_sq"].map(makeStorage) }
  }
}
