import Foundation

/// The value of a hyper-parameter beyond the spec's own fields (one a phase added to the
/// recipe: `label_smoothing`, `warmup_steps`): a number, an integer or a word, as JSON gives
/// it. The spec carries such values under `hyperparameters`, the journal with each trial's
/// settings, and `hyperparameters.json` under their names (Docs/ARCHITECTURE.md, "a new
/// hyper-parameter").
public enum HyperValue: Codable, Sendable, Hashable, CustomStringConvertible {
  case number(Double)
  case integer(Int)
  case text(String)

  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let i = try? c.decode(Int.self) {
      self = .integer(i)
    } else if let d = try? c.decode(Double.self) {
      self = .number(d)
    } else if let s = try? c.decode(String.self) {
      self = .text(s)
    } else {
      throw DecodingError.dataCorruptedError(
        in: c, debugDescription: "a hyper-parameter's value must be a number or a string")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .number(let d): try c.encode(d)
    case .integer(let i): try c.encode(i)
    case .text(let s): try c.encode(s)
    }
  }

  /// Numbers are equal by value: JSON writes 0.0 as `0`, which reads back as an integer, and a
  /// resumed run must find the same value it journaled.
  public static func == (a: HyperValue, b: HyperValue) -> Bool {
    switch (a, b) {
    case (.text(let x), .text(let y)): x == y
    case (.text, _), (_, .text): false
    default: a.number == b.number
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch self {
    case .text(let s): hasher.combine(s)
    default: hasher.combine(number)
    }
  }

  /// The value as a number, where it is one.
  public var number: Double? {
    switch self {
    case .number(let d): d
    case .integer(let i): Double(i)
    case .text: nil
    }
  }

  /// As a command line or a report writes it: `0.1`, `3`, `flip`.
  public var description: String {
    switch self {
    case .number(let d): String(format: "%g", d)
    case .integer(let i): "\(i)"
    case .text(let s): s
    }
  }
}
