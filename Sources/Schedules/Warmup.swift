/// PyTorch's `LinearLR`:
/// `learningRate · (startFactor + (endFactor − startFactor) · min(k, totalIters) / totalIters)`.
public struct LinearRamp: SchedulePolicy {
  public static let name = "linear"

  /// The learning rate the factors multiply (the optimizer's `lr` in PyTorch).
  public var learningRate: Double
  /// The factor at step 0.
  public var startFactor: Double
  /// The factor from step `totalIters` on.
  public var endFactor: Double
  /// Steps over which the factor changes.
  public var totalIters: Int

  /// A linear ramp with PyTorch's defaults: factors 1/3 → 1 over 5 steps.
  public init(
    learningRate: Double, startFactor: Double = 1.0 / 3, endFactor: Double = 1,
    totalIters: Int = 5
  ) {
    self.learningRate = learningRate
    self.startFactor = startFactor
    self.endFactor = endFactor
    self.totalIters = totalIters
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    // PyTorch: 0 < start_factor ≤ 1, 0 ≤ end_factor ≤ 1.
    try Check.closed(startFactor, 0, 1, "startFactor")
    guard startFactor > 0 else {
      throw .outOfRange(parameter: "startFactor", value: startFactor, range: "(0, 1]")
    }
    try Check.closed(endFactor, 0, 1, "endFactor")
    try Check.atLeast(totalIters, 1, "totalIters")
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    ScheduleCurves(
      learningRate: .anneal(
        shape: .linear, from: learningRate * startFactor, to: learningRate * endFactor,
        length: Double(totalIters)))
  }
}

/// A linear warm-up chained before another policy, as PyTorch's
/// `SequentialLR([LinearLR(start_factor=f, total_iters=W), next], milestones=[W])` does.
///
/// For steps k < W the learning rate is `r · (f + (1 − f) k / W)`, where r is the optimizer's
/// `lr` that PyTorch's `LinearLR` scales: the next policy's base learning rate (``baseRate``),
/// which is its step-0 rate except where that policy changes the rate at step 0 itself (a
/// `MultiStepLR` milestone at 0, a `LinearLR`); from step W on, the next policy runs as if the
/// run began there and lasted T − W steps. If the next policy cycles momentum, the warm-up
/// holds its step-0 momentum.
public struct Warmup: SchedulePolicy {
  public static let name = "warmup"

  /// Warm-up steps, W.
  public var steps: Int
  /// The fraction of the next policy's starting rate the warm-up starts from.
  public var startFactor: Double
  /// The policy that follows.
  public var then: Policy

  /// A warm-up of `steps` steps from `startFactor` (PyTorch's `LinearLR` default 1/3) of the
  /// next policy's first learning rate.
  public init(steps: Int, startFactor: Double = 1.0 / 3, then: Policy) {
    self.steps = steps
    self.startFactor = startFactor
    self.then = then
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.atLeast(steps, 1, "warmupSteps")
    guard steps < totalSteps else {
      throw .notFewer(
        parameter: "warmupSteps", value: steps, limit: "totalSteps", limitValue: totalSteps)
    }
    try Check.closed(startFactor, 0, 1, "warmupStartFactor")
    guard startFactor > 0 else {
      throw .outOfRange(parameter: "warmupStartFactor", value: startFactor, range: "(0, 1]")
    }
    try then.validate(totalSteps: totalSteps - steps)
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    let rest = then.curves(totalSteps: totalSteps - steps)
    let width = Double(steps)
    let target = Self.baseRate(of: then) ?? rest.learningRate.value(at: 0)
    let rate = Curve.sequence([
      Curve.Phase(
        length: width,
        curve: .anneal(shape: .linear, from: target * startFactor, to: target, length: width)),
      Curve.Phase(length: Double(totalSteps - steps), curve: rest.learningRate),
    ])
    let momentum = rest.momentum.map { momentum in
      Curve.sequence([
        Curve.Phase(length: width, curve: .constant(momentum.value(at: 0))),
        Curve.Phase(length: Double(totalSteps - steps), curve: momentum),
      ])
    }
    return ScheduleCurves(learningRate: rate, momentum: momentum)
  }

  /// The optimizer learning rate PyTorch's `LinearLR` warms up to before `policy`: the `lr`
  /// the policy's PyTorch scheduler is built on (`initial_lr`), or `nil` to use the policy's
  /// step-0 rate.
  static func baseRate(of policy: Policy) -> Double? {
    switch policy {
    case .constant(let policy): return policy.learningRate
    case .step(let policy): return policy.learningRate
    case .multiStep(let policy): return policy.learningRate
    case .exponential(let policy): return policy.learningRate
    case .cosine(let policy): return policy.learningRate
    case .warmRestarts(let policy): return policy.learningRate
    case .linear(let policy): return policy.learningRate
    case .cyclic(let policy): return policy.baseLearningRate
    case .oneCycle(let policy): return policy.initialLearningRate
    case .sgdr, .flatCosine, .warmup, .custom: return nil
    }
  }
}
