import Foundation

/// How a phase settles candidates its trials cannot tell apart: the tied candidate nearest a
/// stated default (the method's usual value), never the extreme of the grid on a difference
/// inside the noise. A 20-minute Fashion-MNIST tune took the grid's largest weight decay (3e-3)
/// on a difference under its own measured noise, stacked it with dropout and flips, underfit
/// and ended at 90.98%; tunes that kept 1e-4 … 3e-4 reached 92.8–92.9%.
///
/// "Nearest" is measured on the candidate's natural scale: by ratio for batch sizes and weight
/// decays (log scale), by difference for momenta. `lean` says which side wins a tie of
/// distances, and whether the default is a ceiling (weight decay: the largest tied value at or
/// below it, so ties lean to less regularization).
public struct TieDefault: Sendable, Equatable {
  public enum Scale: Sendable, Equatable { case linear, logarithmic }
  public enum Lean: Sendable, Equatable {
    /// The nearest; at equal distance, the larger.
    case nearestThenLarger
    /// The largest at or below the default; the smallest above it when none is.
    case atOrBelow
  }
  /// The value the phase falls back to.
  public var value: Double
  /// Where it comes from, for the reason: "Smith's usual top of the cycle".
  public var source: String
  public var scale: Scale
  public var lean: Lean

  public init(_ value: Double, source: String, scale: Scale, lean: Lean = .nearestThenLarger) {
    self.value = value
    self.source = source
    self.scale = scale
    self.lean = lean
  }

  /// The index among `tied` (indices into `values`) the default settles on.
  /// - Precondition: `tied` is not empty.
  public func settle(_ values: [Double], tied: [Int]) -> Int {
    precondition(!tied.isEmpty, "nothing to settle among \(values)")
    switch lean {
    case .atOrBelow:
      let below = tied.filter { values[$0] <= value * (1 + 1e-9) }
      if let top = below.max(by: { values[$0] < values[$1] }) { return top }
      return tied.min { values[$0] < values[$1] }!
    case .nearestThenLarger:
      return tied.min { a, b in
        let da = distance(values[a])
        let db = distance(values[b])
        return abs(da - db) > 1e-12 ? da < db : values[a] > values[b]
      }!
    }
  }

  /// How far a candidate is from the default on its scale; 0 is as far below the smallest
  /// positive value as a decade (log scale has no place for it).
  func distance(_ v: Double) -> Double {
    switch scale {
    case .linear: return abs(v - value)
    case .logarithmic:
      guard v > 0, value > 0 else { return v == value ? 0 : .infinity }
      return abs(log(v / value))
    }
  }

  /// "the starting batch size 128" for a reason.
  public func describe(_ format: (Double) -> String) -> String {
    "\(source) \(format(value))"
  }
}

extension Margin {
  /// Settles a comparison: the lowest when it is clear of the noise, otherwise the tied
  /// candidate the stated default picks. Returns the index into `values` and, when the default
  /// decided, the words that say so (for the reason and `settlement`).
  static func settle(
    losses: [Double], values: [Double], band: Double, by rule: TieDefault,
    format: (Double) -> String
  ) -> (index: Int, settlement: String?)? {
    let tied = within(band, of: losses)
    guard !tied.isEmpty else { return nil }
    if tied.count == 1 { return (tied[0], nil) }
    let pick = rule.settle(values, tied: tied)
    let names = tied.sorted { values[$0] < values[$1] }.map { format(values[$0]) }
    let how: String
    switch rule.lean {
    case .atOrBelow:
      how =
        values[pick] <= rule.value * (1 + 1e-9)
        ? "the largest of them at or below \(rule.describe(format))"
        : "the smallest of them, all being above \(rule.describe(format))"
    case .nearestThenLarger:
      how = "the one nearest \(rule.describe(format))"
    }
    return (
      pick,
      "the trials could not tell \(names.joined(separator: ", ")) apart, so the stated default settled it: \(how), not an end of the grid on a difference inside the noise"
    )
  }
}
