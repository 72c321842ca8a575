import ArgumentParser

/// One of an enumeration's raw values, accepted as any text and checked when the schedule is
/// made, so that a wrong value ends with the command's one-line message (ArgumentParser's own
/// message for a bad choice adds the usage text). Help and completion still list the values.
struct ChoiceArgument<Value: CaseIterable & RawRepresentable>: ExpressibleByArgument
where Value.RawValue == String {
  var text: String

  init?(argument: String) {
    text = argument
  }

  init(_ value: Value) {
    text = value.rawValue
  }

  static var allValueStrings: [String] { Value.allCases.map(\.rawValue) }

  var defaultValueDescription: String { text }

  /// The chosen value, or a one-line error naming `flag` and the accepted values.
  func value(for flag: String) throws -> Value {
    guard let value = Value(rawValue: text) else {
      throw ValidationError(
        "\(flag) must be one of \(Self.allValueStrings.joined(separator: ", ")); got '\(text)'.")
    }
    return value
  }
}

extension Optional {
  /// The wrapped choice's value, or `nil` when the option was not given.
  func value<Value>(for flag: String) throws -> Value? where Wrapped == ChoiceArgument<Value> {
    try self?.value(for: flag)
  }
}

/// A list of whole numbers written `30,80` or as separate values, checked when the schedule is
/// made (for a one-line message, as ``ChoiceArgument``).
struct IntegerList: ExpressibleByArgument {
  var text: String

  init?(argument: String) {
    text = argument
  }

  /// The numbers, or a one-line error naming `flag`.
  func values(for flag: String) throws -> [Int] {
    try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
      guard let value = Int(part.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError("\(flag) takes whole numbers such as 30,80; got '\(text)'.")
      }
      return value
    }
  }
}

/// A length of time written 90s, 20m, 1h or 1h30m (a bare number is minutes).
struct WallTime: ExpressibleByArgument, CustomStringConvertible, Equatable {
  var seconds: Double
  init?(argument: String) {
    let text = argument.lowercased()
    if let minutes = Double(text) {
      seconds = minutes * 60
      return
    }
    var total = 0.0
    var number = ""
    for c in text {
      if c.isNumber || c == "." {
        number.append(c)
        continue
      }
      guard let value = Double(number) else { return nil }
      switch c {
      case "h": total += value * 3600
      case "m": total += value * 60
      case "s": total += value
      default: return nil
      }
      number = ""
    }
    guard number.isEmpty, total > 0 else { return nil }
    seconds = total
  }
  var description: String {
    let s = Int(seconds.rounded())
    if s % 3600 == 0 { return "\(s / 3600)h" }
    if s >= 3600 { return "\(s / 3600)h\(s / 60 % 60)m" }
    if s % 60 == 0 { return "\(s / 60)m" }
    return "\(s)s"
  }
  var defaultValueDescription: String { description }
}

/// The checks of the commands' `validate()`, each naming the flag and the value at fault in
/// one shape of message; an absent optional passes.
enum Valid {
  static func positive<T: Numeric & Comparable>(_ flag: String, _ values: [T]) throws {
    for v in values where !(v > .zero) {
      throw ValidationError("\(flag) must be positive, got \(v)")
    }
  }
  static func positive<T: Numeric & Comparable>(_ flag: String, _ value: T?) throws {
    try positive(flag, value.map { [$0] } ?? [])
  }
  static func atLeast(_ flag: String, _ minimum: Int, _ value: Int?) throws {
    if let value, value < minimum {
      throw ValidationError("\(flag) must be at least \(minimum), got \(value)")
    }
  }
  /// In [0, 1): dropout rates, shares.
  static func fraction<T: BinaryFloatingPoint>(_ flag: String, _ values: [T]) throws {
    for v in values where !(v >= 0 && v < 1) {
      throw ValidationError("\(flag) must be in [0, 1), got \(v)")
    }
  }
  /// In (0, 1): momenta.
  static func open(_ flag: String, _ values: [Double]) throws {
    for v in values where !(v > 0 && v < 1) {
      throw ValidationError("\(flag) must be in (0, 1), got \(v)")
    }
  }
  static func nonNegative(_ flag: String, _ values: [Double]) throws {
    for v in values where !(v >= 0 && v.isFinite) {
      throw ValidationError("\(flag) must be non-negative, got \(v)")
    }
  }
}
