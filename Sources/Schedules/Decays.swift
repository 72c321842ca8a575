/// A fixed learning rate for the whole run.
public struct ConstantRate: SchedulePolicy {
  public static let name = "constant"

  /// The learning rate.
  public var learningRate: Double

  /// A constant policy at `learningRate`.
  public init(learningRate: Double) {
    self.learningRate = learningRate
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    ScheduleCurves(learningRate: .constant(learningRate))
  }
}

/// PyTorch's `StepLR`: `learningRate · gamma^⌊k / stepSize⌋`.
public struct StepDecay: SchedulePolicy {
  public static let name = "step"

  /// The learning rate of the first `stepSize` steps.
  public var learningRate: Double
  /// Steps between decays.
  public var stepSize: Int
  /// The factor applied at each decay.
  public var gamma: Double

  /// A step decay with PyTorch's default gamma of 0.1.
  public init(learningRate: Double, stepSize: Int, gamma: Double = 0.1) {
    self.learningRate = learningRate
    self.stepSize = stepSize
    self.gamma = gamma
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    try Check.atLeast(stepSize, 1, "stepSize")
    try Check.positive(gamma, "gamma")
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    ScheduleCurves(
      learningRate: .geometric(start: learningRate, factor: gamma, interval: Double(stepSize)))
  }
}

/// PyTorch's `MultiStepLR`: `learningRate · gamma^n` where n counts the milestones at or
/// before step k (a milestone listed twice counts twice).
public struct MultiStepDecay: SchedulePolicy {
  public static let name = "multi-step"

  /// The learning rate before the first milestone.
  public var learningRate: Double
  /// The steps at which the rate is multiplied by gamma, in increasing order.
  public var milestones: [Int]
  /// The factor applied at each milestone.
  public var gamma: Double

  /// A multi-step decay with PyTorch's default gamma of 0.1; milestones are sorted.
  public init(learningRate: Double, milestones: [Int], gamma: Double = 0.1) {
    self.learningRate = learningRate
    self.milestones = milestones.sorted()
    self.gamma = gamma
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    try Check.positive(gamma, "gamma")
    for milestone in milestones { try Check.atLeast(milestone, 0, "milestones") }
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    let sorted = milestones.sorted()
    var phases: [Curve.Phase] = []
    var previous = 0
    var rate = learningRate
    for milestone in sorted {
      phases.append(Curve.Phase(length: Double(milestone - previous), curve: .constant(rate)))
      previous = milestone
      rate *= gamma
    }
    phases.append(
      Curve.Phase(length: Double(max(totalSteps - previous, 0)), curve: .constant(rate)))
    return ScheduleCurves(learningRate: .sequence(phases))
  }
}

/// PyTorch's `ExponentialLR`: `learningRate · gamma^k`.
public struct ExponentialDecay: SchedulePolicy {
  public static let name = "exponential"

  /// The learning rate at step 0.
  public var learningRate: Double
  /// The factor applied every step.
  public var gamma: Double

  /// An exponential decay by `gamma` per step.
  public init(learningRate: Double, gamma: Double) {
    self.learningRate = learningRate
    self.gamma = gamma
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    try Check.positive(gamma, "gamma")
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    ScheduleCurves(learningRate: .geometric(start: learningRate, factor: gamma, interval: 1))
  }
}
