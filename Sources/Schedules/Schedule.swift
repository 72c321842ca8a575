/// The learning rate (and, where a policy cycles it, the momentum) for every step of a run.
///
/// A schedule is a policy with its parameters and a run length `T`; step `k` (0 ≤ k < T) gets
/// the values in force for the `k`-th optimizer step, which is what PyTorch's optimizer holds
/// before its `k`-th `step()` when the scheduler is stepped after each optimizer step, and what
/// fastai's `ParamScheduler` sets before batch `k`.
///
/// ```swift
/// let schedule = try Schedule(.oneCycle(OneCycle(maxLearningRate: 0.1)), totalSteps: 100)
/// schedule.learningRate(at: 0)   // 0.004 (max / 25)
/// schedule.learningRate(at: 29)  // 0.1
/// schedule.momentum(at: 29)      // 0.85
/// ```
///
/// Encodes as `{"policy": {"name": …, "parameters": {…}}, "totalSteps": T}`; decoding checks
/// the parameters again.
public struct Schedule: Sendable, Hashable {
  /// The policy and its parameters.
  public let policy: Policy
  /// The number of optimizer steps in the run, T.
  public let totalSteps: Int
  /// The curves the policy builds for this run (for a stretched schedule, for the run it was
  /// first made for).
  public let curves: ScheduleCurves
  /// Re-plans of the run's length, oldest first: see ``stretched(from:totalSteps:)``.
  public let stretches: [Stretch]

  /// A change of a run's length at a step: the steps before it keep their values, the rest of
  /// the curve is spread over the steps left, so the learning rate goes on from where it is.
  public struct Stretch: Sendable, Hashable, Codable {
    /// The first step whose value moves.
    public var from: Int
    /// The run's length before the change.
    public var totalStepsBefore: Int
    public init(from: Int, totalStepsBefore: Int) {
      self.from = from
      self.totalStepsBefore = totalStepsBefore
    }
  }

  /// A schedule of `policy` over a run of `totalSteps` optimizer steps.
  ///
  /// - Throws: ``ScheduleError`` naming the first parameter that cannot work.
  public init(_ policy: Policy, totalSteps: Int) throws(ScheduleError) {
    try policy.validate(totalSteps: totalSteps)
    self.policy = policy
    self.totalSteps = totalSteps
    self.curves = policy.curves(totalSteps: totalSteps)
    self.stretches = []
  }

  /// A schedule of `policy` first made for a run of the oldest stretch's length (or
  /// `totalSteps`), then stretched as `stretches` say: a stretched schedule made again.
  public init(_ policy: Policy, totalSteps: Int, stretches: [Stretch]) throws(ScheduleError) {
    let base = try Schedule(policy, totalSteps: stretches.first?.totalStepsBefore ?? totalSteps)
    self.init(base, totalSteps: totalSteps, stretches: stretches)
  }

  private init(_ base: Schedule, totalSteps: Int, stretches: [Stretch]) {
    policy = base.policy
    curves = base.curves
    self.totalSteps = totalSteps
    self.stretches = stretches
  }

  /// The same run made `newTotal` steps long at step `step`: steps before `step` keep their
  /// values, and what was left of the curve after it is spread evenly over the `newTotal − step`
  /// steps now left. A one-cycle run found too short or too long after its warm-up keeps its
  /// learning rate continuous, instead of jumping to where the new length's curve would be.
  public func stretched(from step: Int, totalSteps newTotal: Int) -> Schedule {
    precondition(
      step >= 0 && step < newTotal && step < totalSteps,
      "a stretch from step \(step) needs steps left before and after it")
    return Schedule(
      self, totalSteps: newTotal,
      stretches: stretches + [Stretch(from: step, totalStepsBefore: totalSteps)])
  }

  /// Where on the curves step `step` reads: the step itself, or, after stretches, the point
  /// each one maps it to (newest first).
  func position(_ step: Int) -> Double {
    var p = Double(step), total = Double(totalSteps)
    for s in stretches.reversed() {
      let from = Double(s.from), before = Double(s.totalStepsBefore)
      // [from, total − 1] onto [from, before − 1]: the last step reads the curve's last step.
      if p > from { p = from + (p - from) * (before - 1 - from) / max(1, total - 1 - from) }
      total = before
    }
    return p
  }

  /// The learning rate for optimizer step `step` (counted from 0).
  ///
  /// Steps at or past ``totalSteps`` continue the policy's curve (periodic policies keep
  /// cycling; phased ones hold their final value).
  public func learningRate(at step: Int) -> Double {
    precondition(step >= 0, "schedule step must not be negative; got \(step)")
    return curves.learningRate.value(at: position(step))
  }

  /// The momentum (beta1 for Adam) for optimizer step `step`, or `nil` when the policy does not
  /// cycle momentum and the optimizer's own value stands.
  public func momentum(at step: Int) -> Double? {
    precondition(step >= 0, "schedule step must not be negative; got \(step)")
    return curves.momentum?.value(at: position(step))
  }

  /// Whether the policy sets the momentum too.
  public var cyclesMomentum: Bool { curves.momentum != nil }

  /// The values for steps 0 ..< ``totalSteps``.
  ///
  /// - Complexity: O(T × size of the curves).
  public func values() -> [ScheduleValue] {
    (0..<totalSteps).map { step in
      ScheduleValue(
        step: step, learningRate: learningRate(at: step), momentum: momentum(at: step))
    }
  }
}

/// The hyper-parameters in force for one optimizer step.
public struct ScheduleValue: Sendable, Hashable, Codable {
  /// The step, counted from 0.
  public var step: Int
  /// The learning rate.
  public var learningRate: Double
  /// The momentum (beta1 for Adam), or `nil` when the policy does not set it.
  public var momentum: Double?

  /// Creates the values for one step.
  public init(step: Int, learningRate: Double, momentum: Double?) {
    self.step = step
    self.learningRate = learningRate
    self.momentum = momentum
  }
}

extension Schedule: Codable {
  enum CodingKeys: String, CodingKey {
    case policy, totalSteps, stretches
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let policy = try container.decode(Policy.self, forKey: .policy)
    let totalSteps = try container.decode(Int.self, forKey: .totalSteps)
    let stretches = try container.decodeIfPresent([Stretch].self, forKey: .stretches) ?? []
    do {
      try self.init(policy, totalSteps: totalSteps, stretches: stretches)
    } catch {
      throw DecodingError.dataCorruptedError(
        forKey: .policy, in: container, debugDescription: error.description)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(policy, forKey: .policy)
    try container.encode(totalSteps, forKey: .totalSteps)
    if !stretches.isEmpty { try container.encode(stretches, forKey: .stretches) }
  }
}
