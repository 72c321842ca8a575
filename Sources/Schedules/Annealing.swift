import Foundation

/// The shape of one annealing phase: how a value travels from `start` to `end` as the phase's
/// position goes from 0 to 1.
///
/// These are the annealing functions of fastai's `callback/schedule.py` (`SchedLin`, `SchedCos`,
/// `SchedExp`, `SchedPoly`) and of PyTorch's `OneCycleLR` (`_annealing_linear`,
/// `_annealing_cos`):
///
/// | shape | value at position `p` |
/// | --- | --- |
/// | `linear` | `start + p (end − start)` |
/// | `cosine` | `end + (start − end)(1 + cos πp) / 2` |
/// | `exponential` | `start (end / start)^p` (both of one sign, neither zero) |
/// | `polynomial(power:)` | `start + (end − start) p^power` |
///
/// ```swift
/// Annealing.cosine.value(from: 1, to: 0, at: 0.5)  // 0.5
/// ```
public enum Annealing: Sendable, Hashable {
  /// A straight line from start to end.
  case linear
  /// Half a cosine wave: flat at both ends, steepest in the middle.
  case cosine
  /// Constant ratio per unit of position: a straight line on a log scale.
  case exponential
  /// `start + (end − start) · p^power`, fastai's `SchedPoly`.
  case polynomial(power: Double)

  /// The value at `position`, which is clamped to [0, 1] so a phase holds its end values
  /// outside itself.
  ///
  /// - Complexity: O(1).
  public func value(from start: Double, to end: Double, at position: Double) -> Double {
    let p = min(max(position, 0), 1)
    switch self {
    case .linear:
      return start + p * (end - start)
    case .cosine:
      return end + (start - end) / 2 * (cos(Double.pi * p) + 1)
    case .exponential:
      return start * pow(end / start, p)
    case .polynomial(let power):
      return start + (end - start) * pow(p, power)
    }
  }
}

/// Encodes as `"linear"`, `"cosine"`, `"exponential"` or `{"polynomial": power}`.
extension Annealing: Codable {
  private enum CodingKeys: String, CodingKey {
    case polynomial
  }

  public init(from decoder: any Decoder) throws {
    if let container = try? decoder.container(keyedBy: CodingKeys.self) {
      self = .polynomial(power: try container.decode(Double.self, forKey: .polynomial))
      return
    }
    let container = try decoder.singleValueContainer()
    switch try container.decode(String.self) {
    case "linear": self = .linear
    case "cosine": self = .cosine
    case "exponential": self = .exponential
    case let other:
      throw DecodingError.dataCorruptedError(
        in: container,
        debugDescription: "unknown annealing '\(other)'; expected linear, cosine, exponential "
          + "or {\"polynomial\": power}")
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .linear, .cosine, .exponential:
      var container = encoder.singleValueContainer()
      try container.encode(
        self == .linear ? "linear" : self == .cosine ? "cosine" : "exponential")
    case .polynomial(let power):
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(power, forKey: .polynomial)
    }
  }
}
