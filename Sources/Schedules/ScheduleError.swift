import Foundation

/// A schedule parameter a user can get wrong, and the sentence that says how.
///
/// Parameters are named as the policy types spell them (`maxLearningRate`, `pctStart`); the
/// `discipline` command maps those names to its flags.
public enum ScheduleError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
  /// A run must have at least one step.
  case noSteps(totalSteps: Int)
  /// A value that must be a finite number greater than zero.
  case notPositive(parameter: String, value: Double)
  /// A value that must be a finite number in a range, written as in mathematics, e.g. "(0, 1)".
  case outOfRange(parameter: String, value: Double, range: String)
  /// A whole number that must be at least `minimum`.
  case tooSmall(parameter: String, value: Int, minimum: Int)
  /// A lower bound above its upper bound: `baseLearningRate` above `maxLearningRate`, or
  /// `baseMomentum` above `maxMomentum`.
  case baseAboveMax(base: String, baseValue: Double, max: String, maxValue: Double)
  /// A parameter that only some variants use, set for another: `threePhase` for fastai.
  case onlyFor(parameter: String, scope: String, got: String)
  /// A count that must be smaller than another: warm-up steps and the run's steps.
  case notFewer(parameter: String, value: Int, limit: String, limitValue: Int)
  /// A combination of parameters that cannot work, in a sentence of its own.
  case inconsistent(String)
  /// A parameter `policy` cannot do without (`PolicyArguments`).
  case missing(parameter: String, policy: String)
  /// A parameter given for a policy that does not use it, with the policies that do.
  case notFor(parameter: String, policy: String, users: [String])
  /// A parameter that means something only beside another.
  case needs(parameter: String, other: String)

  /// The parameter the error is about, if there is exactly one.
  public var parameter: String? {
    switch self {
    case .noSteps: return "totalSteps"
    case .notPositive(let parameter, _), .outOfRange(let parameter, _, _),
      .tooSmall(let parameter, _, _):
      return parameter
    case .baseAboveMax(let base, _, _, _): return base
    case .onlyFor(let parameter, _, _), .notFewer(let parameter, _, _, _): return parameter
    case .missing(let parameter, _), .notFor(let parameter, _, _), .needs(let parameter, _):
      return parameter
    case .inconsistent: return nil
    }
  }

  /// One sentence, naming parameters with `name(parameter)`.
  public func message(naming name: (String) -> String) -> String {
    switch self {
    case .noSteps(let totalSteps):
      return "\(name("totalSteps")) must be at least 1; got \(totalSteps)."
    case .notPositive(let parameter, let value):
      return "\(name(parameter)) must be a positive finite number; got \(value)."
    case .outOfRange(let parameter, let value, let range):
      return "\(name(parameter)) must be a finite number in \(range); got \(value)."
    case .tooSmall(let parameter, let value, let minimum):
      return "\(name(parameter)) must be at least \(minimum); got \(value)."
    case .baseAboveMax(let base, let baseValue, let max, let maxValue):
      return "\(name(base)) (\(baseValue)) must not be above \(name(max)) (\(maxValue))."
    case .onlyFor(let parameter, let scope, let got):
      return "\(name(parameter)) applies to \(scope) only, not to \(got)."
    case .notFewer(let parameter, let value, let limit, let limitValue):
      return "\(name(parameter)) (\(value)) must be fewer than \(name(limit)) (\(limitValue))."
    case .inconsistent(let sentence):
      return sentence
    case .missing(let parameter, let policy):
      return "\(policy) needs \(name(parameter))."
    case .notFor(let parameter, let policy, let users):
      return
        "\(name(parameter)) does not apply to \(policy) (it is for \(users.joined(separator: ", ")))."
    case .needs(let parameter, let other):
      return "\(name(parameter)) needs \(name(other))."
    }
  }

  public var description: String { message(naming: { $0 }) }
  public var errorDescription: String? { description }
}

/// Checks shared by the policies' `validate` methods.
enum Check {
  /// A bound as people write it: 0 and 1 rather than 0.0 and 1.0.
  static func format(_ value: Double) -> String {
    if value.rounded() == value, abs(value) < 1e15 { return String(Int(value)) }
    return String(value)
  }

  static func steps(_ totalSteps: Int) throws(ScheduleError) {
    guard totalSteps >= 1 else { throw .noSteps(totalSteps: totalSteps) }
  }

  static func positive(_ value: Double, _ parameter: String) throws(ScheduleError) {
    guard value.isFinite, value > 0 else {
      throw .notPositive(parameter: parameter, value: value)
    }
  }

  /// `value` in the open interval (lower, upper).
  static func open(_ value: Double, _ lower: Double, _ upper: Double, _ parameter: String)
    throws(ScheduleError)
  {
    guard value.isFinite, value > lower, value < upper else {
      throw .outOfRange(
        parameter: parameter, value: value, range: "(\(format(lower)), \(format(upper)))")
    }
  }

  /// `value` in the closed interval [lower, upper].
  static func closed(_ value: Double, _ lower: Double, _ upper: Double, _ parameter: String)
    throws(ScheduleError)
  {
    guard value.isFinite, value >= lower, value <= upper else {
      throw .outOfRange(
        parameter: parameter, value: value, range: "[\(format(lower)), \(format(upper))]")
    }
  }

  /// `value` in the half-open interval [lower, upper).
  static func halfOpen(_ value: Double, _ lower: Double, _ upper: Double, _ parameter: String)
    throws(ScheduleError)
  {
    guard value.isFinite, value >= lower, value < upper else {
      throw .outOfRange(
        parameter: parameter, value: value, range: "[\(format(lower)), \(format(upper)))")
    }
  }

  static func nonNegative(_ value: Double, _ parameter: String) throws(ScheduleError) {
    guard value.isFinite, value >= 0 else {
      throw .outOfRange(parameter: parameter, value: value, range: "[0, ∞)")
    }
  }

  static func atLeast(_ value: Int, _ minimum: Int, _ parameter: String) throws(ScheduleError) {
    guard value >= minimum else {
      throw .tooSmall(parameter: parameter, value: value, minimum: minimum)
    }
  }

  static func momentum(_ value: Double, _ parameter: String) throws(ScheduleError) {
    try closed(value, 0, 1, parameter)
  }

  static func ordered(
    _ base: Double, _ baseName: String, _ max: Double, _ maxName: String
  ) throws(ScheduleError) {
    guard base <= max else {
      throw .baseAboveMax(base: baseName, baseValue: base, max: maxName, maxValue: max)
    }
  }
}
