import Foundation
import Schedules
import Sessions

// The rules that turn the trials' results into choices, with their reasons.

extension Recipe {
  /// The batch size with the lowest validation loss after equal wall time when it is clear of
  /// the noise; among the batch sizes the noise cannot tell apart, the one nearest the starting
  /// batch size (Docs/METHOD.md §3 asks for the largest unless the comparison says otherwise, but a
  /// comparison inside the noise says nothing, and the grid's largest is its extreme).
  func chooseBatch(_ trials: [(Int, JournalEntry)]) -> Choice<Int> {
    let losses = trials.map { $0.1.result!.finalValidationLoss }
    let (band, measured) = noiseBand(fallback: 0)
    let seconds = trials.map { $0.1.seconds }
    let detail = trials.map { String(format: "%d: %.4f", $0.0, $0.1.result!.finalValidationLoss) }
      .joined(separator: ", ")
    guard
      let (pick, settlement) = Margin.settle(
        losses: losses, values: trials.map { Double($0.0) }, band: band,
        by: settings.batchSizeDefault, format: { String(Int($0)) })
    else {
      let smallest = trials.map(\.0).min()!
      return Choice(
        smallest, "every batch-size trial diverged (\(detail)); the smallest batch is the safest")
    }
    var margin = Margin(
      measure: "early validation loss after equal wall time",
      candidates: trials.map { .init(name: String($0.0), loss: $0.1.result!.finalValidationLoss) },
      chosen: String(trials[pick].0), band: band, measured: measured)
    margin.settlement = settlement
    let (low, high) = (
      String(format: "%.0f", seconds.min() ?? 0), String(format: "%.0f", seconds.max() ?? 0)
    )
    let timing = low == high ? "\(low) s each" : "\(low)–\(high) s each"
    let why = settlement ?? "lowest validation loss after equal wall time"
    return Choice(
      trials[pick].0, "\(why) (\(timing); \(detail)); \(margin.verdict)", margin: margin)
  }

  /// The momentum with the lowest early validation loss when it is clear of the noise; among
  /// the momenta the noise cannot tell apart, the one nearest Smith's usual 0.95 (Docs/METHOD.md §2,
  /// §4: the largest that stays stable; every tied one trained stably).
  func chooseMomentum(_ trials: [(Double, JournalEntry)]) -> Choice<Double> {
    let losses = trials.map { $0.1.result!.finalValidationLoss }
    let (band, measured) = noiseBand(fallback: settings.stabilityTolerance)
    guard
      let (pick, settlement) = Margin.settle(
        losses: losses, values: trials.map(\.0), band: band, by: settings.momentumDefault,
        format: plainNumber)
    else {
      return Choice(
        momenta.min() ?? 0.9,
        "every momentum trial diverged; the smallest candidate is the safest")
    }
    let chosen = trials[pick]
    var margin = Margin(
      measure: "early validation loss",
      candidates: trials.map {
        .init(name: plainNumber($0.0), loss: $0.1.result!.finalValidationLoss)
      },
      chosen: plainNumber(chosen.0), band: band, measured: measured)
    margin.settlement = settlement
    let unstable = trials.filter { !$0.1.result!.finalValidationLoss.isFinite }.map(\.0)
    let why =
      unstable.isEmpty
      ? "" : "; " + unstable.map { "\(plainNumber($0)) diverged" }.joined(separator: ", ")
    let best = losses.filter(\.isFinite).min() ?? .infinity
    return Choice(
      chosen.0,
      String(
        format: "%@ (early validation loss %.4f, the lowest %.4f)%@; %@",
        settlement ?? "the lowest early validation loss, clear of the noise",
        chosen.1.result!.finalValidationLoss, best, why, margin.verdict), margin: margin)
  }

  /// The value between the best two grid values, halving the exponent (3e-4 between 1e-3 and
  /// 1e-4); when one of them is 0, a third of the other. Nil when already tried.
  static func refinement(_ results: [(Double, Double)]) -> Double? {
    let ranked = results.sorted { $0.1 < $1.1 }
    guard ranked.count >= 2 else { return nil }
    let a = ranked[0].0
    let b = ranked[1].0
    let value = a == 0 || b == 0 ? max(a, b) / 3 : sqrt(a * b)
    let rounded = roundToOneSignificantFigure(value)
    return results.contains { abs($0.0 - rounded) <= 1e-9 * max(rounded, 1e-300) } || rounded == 0
      ? nil : rounded
  }

  /// The index of the last (strongest) of `losses` within `tolerance` of the lowest finite one;
  /// nil when none is finite.
  static func strongestClose(_ losses: [Double?], tolerance: Double) -> Int? {
    guard let lowest = losses.compactMap({ $0 }).filter(\.isFinite).min() else { return nil }
    return losses.indices.last {
      losses[$0].map { $0.isFinite && $0 <= lowest * (1 + tolerance) } ?? false
    }
  }

  /// 3.16e-4 → 3e-4, written exactly as a person would type it.
  static func roundToOneSignificantFigure(_ v: Double) -> Double {
    guard v > 0 else { return 0 }
    return Double(String(format: "%.0e", v)) ?? v
  }

  static func format(_ v: Double) -> String { plainNumber(v) }
  static func formatLR(_ v: Double) -> String { String(format: "%.3g", v) }
}
