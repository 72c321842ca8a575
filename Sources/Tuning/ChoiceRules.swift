import Foundation
import Schedules
import Sessions

// The rules that turn the trials' results into choices, with their reasons.

extension Recipe {
  func chooseBatch(_ trials: [(Int, JournalEntry)]) -> Choice<Int> {
    let ranked = trials.sorted { ($0.1.result!.finalValidationLoss, -$0.0) < ($1.1.result!.finalValidationLoss, -$1.0) }
    let best = ranked[0]
    let seconds = trials.map { $0.1.seconds }
    let detail = ranked.map { String(format: "%d: %.4f", $0.0, $0.1.result!.finalValidationLoss) }.joined(separator: ", ")
    return Choice(best.0, String(format: "lowest validation loss after equal wall time (%.0f–%.0f s each; %@)", seconds.min() ?? 0, seconds.max() ?? 0, detail))
  }

  func chooseMomentum(_ trials: [(Double, JournalEntry)]) -> Choice<Double> {
    let losses = trials.map { ($0.0, $0.1.result!.finalValidationLoss) }
    let bestLoss = losses.map(\.1).min() ?? .infinity
    let stable = losses.filter { $0.1.isFinite && $0.1 <= bestLoss * (1 + settings.stabilityTolerance) }
    guard let chosen = stable.max(by: { $0.0 < $1.0 }) else {
      return Choice(settings.momenta.min() ?? 0.9, "every momentum trial diverged; the smallest candidate is the safest")
    }
    let unstable = losses.filter { $0.0 > chosen.0 }
    let why = unstable.isEmpty ? "" : "; larger ones " + unstable.map { $0.1.isFinite ? String(format: "%g reached %.4f", $0.0, $0.1) : "\($0.0) diverged" }.joined(separator: ", ")
    return Choice(chosen.0, String(format: "the largest momentum whose early validation loss (%.4f) is within %.0f%% of the best (%.4f)%@", chosen.1, 100 * settings.stabilityTolerance, bestLoss, why))
  }

  /// The value between the best two grid values, halving the exponent (3e-4 between 1e-3 and
  /// 1e-4); when one of them is 0, a third of the other. Nil when already tried.
  static func refinement(_ results: [(Double, Double)]) -> Double? {
    let ranked = results.sorted { $0.1 < $1.1 }
    guard ranked.count >= 2 else { return nil }
    let a = ranked[0].0, b = ranked[1].0
    let value = a == 0 || b == 0 ? max(a, b) / 3 : sqrt(a * b)
    let rounded = roundToOneSignificantFigure(value)
    return results.contains { abs($0.0 - rounded) <= 1e-9 * max(rounded, 1e-300) } || rounded == 0 ? nil : rounded
  }

  /// 3.16e-4 → 3e-4, written exactly as a person would type it.
  /// The largest weight decay whose early validation loss is within `tolerance` of the lowest.
  static func chooseWeightDecay(_ results: [(Double, Double)], tolerance: Double) -> Double? {
    let ordered = results.sorted { $0.0 < $1.0 }
    return strongestClose(ordered.map(\.1), tolerance: tolerance).map { ordered[$0].0 }
  }

  /// The index of the last (strongest) of `losses` within `tolerance` of the lowest finite one;
  /// nil when none is finite.
  static func strongestClose(_ losses: [Double?], tolerance: Double) -> Int? {
    guard let lowest = losses.compactMap({ $0 }).filter(\.isFinite).min() else { return nil }
    return losses.indices.last { losses[$0].map { $0.isFinite && $0 <= lowest * (1 + tolerance) } ?? false }
  }

  static func roundToOneSignificantFigure(_ v: Double) -> Double {
    guard v > 0 else { return 0 }
    return Double(String(format: "%.0e", v)) ?? v
  }

  static func format(_ v: Double) -> String { plainNumber(v) }
  static func formatLR(_ v: Double) -> String { String(format: "%.3g", v) }
}
