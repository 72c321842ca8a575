/// A learning-rate policy: its parameters, and how they build the curves of a run.
///
/// Each conforming type holds a library's parameters under their own names (PyTorch's
/// `pct_start` is ``OneCycle/pctStart``) and builds its schedule from ``Curve`` primitives and
/// combinators rather than from a formula of its own.
public protocol SchedulePolicy: Sendable, Hashable, Codable {
  /// The policy's name on the command line and in JSON, e.g. `one-cycle`.
  static var name: String { get }
  /// Throws if the parameters cannot make a schedule of `totalSteps` steps.
  func validate(totalSteps: Int) throws(ScheduleError)
  /// The curves of a run of `totalSteps` steps, evaluated at the step number `k`, 0 ≤ k < T.
  ///
  /// Call only after ``validate(totalSteps:)`` succeeded.
  func curves(totalSteps: Int) -> ScheduleCurves
}

/// The learning-rate curve of a schedule and, when the policy cycles it, the momentum curve
/// (beta1 for Adam-style optimizers).
public struct ScheduleCurves: Sendable, Hashable, Codable {
  /// The learning rate against the step number.
  public var learningRate: Curve
  /// The momentum against the step number, or `nil` when the policy leaves momentum alone.
  public var momentum: Curve?

  /// Creates curves from a learning-rate curve and an optional momentum curve.
  public init(learningRate: Curve, momentum: Curve? = nil) {
    self.learningRate = learningRate
    self.momentum = momentum
  }
}
