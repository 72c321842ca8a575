import Foundation
import RangeTests

// How far apart two trials' early validation losses may be by chance alone, measured by
// running one trial of a phase again under another seed (other initial weights, another data
// order), and how each choice stands against it.

/// The noise of the instrument: the same trial under two seeds, once per trial phase so far.
public struct NoiseEstimate: Codable, Sendable, Equatable {
  /// A trial and its repeat: what each reached.
  public struct Pair: Codable, Sendable, Equatable {
    public var label: String
    public var losses: [Double]
    public init(label: String, losses: [Double]) {
      self.label = label
      self.losses = losses
    }
    /// The two losses' difference over their mean; nil unless both are finite.
    public var relativeDifference: Double? {
      guard losses.count == 2, losses.allSatisfy(\.isFinite), losses[0] + losses[1] > 0 else {
        return nil
      }
      return (losses[0] - losses[1]) / ((losses[0] + losses[1]) / 2)
    }
  }
  public var pairs: [Pair] = []
  public init(pairs: [Pair] = []) { self.pairs = pairs }

  /// One trial's relative standard deviation, pooled over the pairs: a pair's difference has
  /// twice one trial's variance. Nil before a finite pair.
  public var relative: Double? {
    let d = pairs.compactMap(\.relativeDifference)
    guard !d.isEmpty else { return nil }
    return sqrt(d.map { $0 * $0 }.reduce(0, +) / (2 * Double(d.count)))
  }

  /// The relative difference between two trials that noise alone stays under about 95% of the
  /// time: two standard deviations of a difference of two trials (2·√2·σ).
  public var band: Double? { relative.map { 2 * 2.0.squareRoot() * $0 } }

  /// "±1.2% (from 2 repeats under another seed)" for a report.
  public var description: String {
    guard let relative else { return "not measured" }
    let n = pairs.compactMap(\.relativeDifference).count
    return String(
      format:
        "σ %.1f%% of one trial's loss, so differences under %.1f%% are noise (from %d repeat%@ under another seed)",
      100 * relative, 100 * (band ?? 0), n, n == 1 ? "" : "s")
  }
}

/// How a choice stands against the others it was compared with, and against the noise.
public struct Margin: Codable, Sendable, Equatable {
  /// What the candidates were compared by ("early validation loss", "lowest validation loss in
  /// the LR range test").
  public var measure: String
  /// Every candidate and what it reached (lower is better; infinite: diverged or failed).
  public var candidates: [Candidate]
  public struct Candidate: Codable, Sendable, Equatable {
    public var name: String
    public var loss: Double
  }
  /// The chosen candidate's name.
  public var chosen: String
  /// Relative differences under this are taken as noise: measured (`NoiseEstimate.band`), or
  /// a tolerance where no noise was measured (`measured` false).
  public var band: Double
  public var measured: Bool
  /// Where the band is a tolerance: the noise measured for the same measure by other means
  /// (the range tests' own, `RangeTestNoise.band`). Candidates within it are reported as
  /// indistinguishable too, whatever the tolerance.
  public var measuredNoise: Double?
  /// The chosen candidate's lead over the best of the others, relative to its own loss:
  /// positive when it is the lowest, negative when the rule took one behind the lowest.
  public var margin: Double
  /// The candidates the trials could not tell from the lowest (the chosen among them).
  public var indistinguishable: [String]
  /// How a tie was settled, where it was: the stated default that picked among the
  /// indistinguishable candidates (`Margin.settle`), or a balance rule. Nil: the evidence
  /// decided.
  public var settlement: String?

  /// The difference under which candidates cannot be told apart: the band, or the measured
  /// noise where that is wider.
  public var resolution: Double { max(band, measuredNoise ?? 0) }

  /// Clear: the chosen candidate is the lowest by more than the band (and the measured noise).
  public var isClear: Bool { margin > resolution }

  public init(
    measure: String, candidates: [Candidate], chosen: String, band: Double, measured: Bool,
    measuredNoise: Double? = nil
  ) {
    self.measure = measure
    self.candidates = candidates
    self.chosen = chosen
    self.band = band
    self.measured = measured
    self.measuredNoise = measured ? nil : measuredNoise
    let mine = candidates.first { $0.name == chosen }?.loss ?? .infinity
    let others = candidates.filter { $0.name != chosen }.map(\.loss).filter(\.isFinite)
    if let best = others.min(), mine.isFinite, mine > 0 {
      margin = (best - mine) / mine
    } else {
      margin = mine.isFinite ? .infinity : -.infinity
    }
    indistinguishable = Margin.within(
      max(band, self.measuredNoise ?? 0), of: candidates.map(\.loss)
    )
    .map { candidates[$0].name }
  }

  /// Indices of the finite losses within `band` (relative) of the lowest.
  public static func within(_ band: Double, of losses: [Double]) -> [Int] {
    guard let lowest = losses.filter(\.isFinite).min() else { return [] }
    return losses.indices.filter { losses[$0].isFinite && losses[$0] <= lowest * (1 + band) }
  }

  /// "2.1% behind the lowest, against a noise band of 2.7%: indistinguishable from 64".
  public var verdict: String {
    describe(
      noise: measured
        ? "a noise band of %.1f%%"
        : measuredNoise.map {
          String(
            format: "a tolerance of %%.0f%%%% (the range tests' noise, from one pair: %.1f%%%%)",
            100 * $0)
        } ?? "a tolerance of %.0f%% (noise not measured)",
      ahead: "%.1f%% ahead of the next"
    ) { lead, noise, others in
      others.isEmpty
        ? "\(lead), against \(noise): clear"
        : "\(lead), against \(noise): indistinguishable from \(others)"
    }
  }

  /// A few words for a table: "clear: 3.1% ahead (noise 2.4%)", "indistinguishable from 64: …".
  public var summary: String {
    describe(
      noise: measured
        ? "noise %.1f%%"
        : measuredNoise.map {
          String(format: "tolerance %%.0f%%%%; range-test noise %.1f%%%%", 100 * $0)
        }
          ?? "tolerance %.0f%%; noise not measured",
      ahead: "%.1f%% ahead"
    ) { lead, noise, others in
      others.isEmpty
        ? "clear: \(lead) (\(noise))"
        : "indistinguishable from \(others): \(lead) (\(noise))"
          + (settlement == nil ? "" : "; a tie, settled by rule (see why)")
    }
  }

  /// The verdict's parts (the lead or lag, the band, the others the noise cannot tell from the
  /// chosen one), put together by `sentence`; the cases with nothing to weigh said alike.
  private func describe(
    noise: String, ahead: String, _ sentence: (String, String, String) -> String
  ) -> String {
    guard candidates.count >= 2 else { return "the only candidate" }
    guard margin.isFinite else {
      return margin > 0 ? "the only one that trained" : "every candidate failed"
    }
    let lead =
      margin >= 0
      ? String(format: ahead, 100 * margin)
      : String(format: "%.1f%% behind the lowest", -100 * margin)
    let others = indistinguishable.filter { $0 != chosen }.joined(separator: ", ")
    return sentence(lead, String(format: noise, 100 * band), others)
  }
}

/// The noise of an LR range test's readings: one condition swept twice. The first range test
/// and the batch-size phase's test at the starting batch size sweep the same network, data and
/// seed from two starting rates (the first from the default start, the later ones from a start
/// read off the first), so how far they differ is how far a range test's readings move for
/// reasons other than the condition. The dropout, augmentation and weight-decay comparisons of
/// range tests, and the maximum learning rate, are reported against it.
public struct RangeTestNoise: Codable, Sendable, Equatable {
  /// The condition swept twice ("batch 128").
  public var label: String
  /// Each sweep's lowest validation loss, maximum learning rate and usable end (the largest
  /// rate up to which its curve stays usable; the sweep's last rate when it never stopped).
  public var lowestValidationLosses: [Double]
  public var maximumLearningRates: [Double]
  public var usableUpTo: [Double]

  public init(
    label: String, lowestValidationLosses: [Double], maximumLearningRates: [Double],
    usableUpTo: [Double]
  ) {
    self.label = label
    self.lowestValidationLosses = lowestValidationLosses
    self.maximumLearningRates = maximumLearningRates
    self.usableUpTo = usableUpTo
  }

  /// The pair from the two sweeps of one condition; nil unless both measured a validation loss.
  public init?(label: String, _ a: ConditionSummary, _ b: ConditionSummary) {
    guard let la = a.lowestValidationLoss, let lb = b.lowestValidationLoss else { return nil }
    self.init(
      label: label, lowestValidationLosses: [la, lb],
      maximumLearningRates: [a.maximumLearningRate, b.maximumLearningRate].compactMap { $0 },
      usableUpTo: [a.stableUpTo, b.stableUpTo].compactMap { $0 })
  }

  /// The two lowest validation losses' relative difference (their difference over their mean).
  public var relativeDifference: Double? { estimate.pairs[0].relativeDifference.map(abs) }

  /// The relative difference of two range tests' lowest validation losses that noise alone
  /// stays under: `NoiseEstimate.band` of this one pair (2·√2·σ with σ = |d|/√2, so 2·|d|).
  public var band: Double? { estimate.band }

  private var estimate: NoiseEstimate {
    NoiseEstimate(pairs: [.init(label: label, losses: lowestValidationLosses)])
  }

  /// The larger of two readings over the smaller (1.5: the two sweeps read 1.5× apart).
  static func ratio(_ values: [Double]) -> Double? {
    guard values.count == 2, let low = values.min(), low > 0, let high = values.max() else {
      return nil
    }
    return high / low
  }
  public var learningRateRatio: Double? { Self.ratio(maximumLearningRates) }

  /// How far apart two range tests' maximum learning rates may read and still be taken as
  /// noise: the square of one pair's ratio (the pair's band, as `band` is for losses), and at
  /// least 2×, as one pair can read alike by chance (1.01× measured, where other runs of the
  /// same set-up read 1.5×).
  public static func poolingTolerance(_ noise: RangeTestNoise?) -> Double {
    max(2, pow(noise?.learningRateRatio ?? 1, 2))
  }
  public var usableRatio: Double? { Self.ratio(usableUpTo) }

  /// "batch 128 swept twice: lowest validation loss 0.5983 and 0.6457 (7.6% apart, so range
  /// tests closer than 15.2% are noise); maximum LR 0.0848 and 0.0567 (1.5× apart); usable up
  /// to LR 0.419 and 10".
  public var description: String {
    var parts = [
      String(
        format:
          "%@ swept twice: lowest validation loss %.4f and %.4f (%.1f%% apart, so range tests closer than %.1f%% are noise, from this one pair)",
        label, lowestValidationLosses[0], lowestValidationLosses[1],
        100 * (relativeDifference ?? 0), 100 * (band ?? 0))
    ]
    if let r = learningRateRatio {
      parts.append(
        String(
          format: "maximum LR %@ and %@ (%.2f× apart)", Self.format(maximumLearningRates[0]),
          Self.format(maximumLearningRates[1]), r))
    }
    if usableUpTo.count == 2 {
      parts.append(
        "usable up to LR \(Self.format(usableUpTo[0])) and \(Self.format(usableUpTo[1]))")
    }
    return parts.joined(separator: "; ")
  }

  static func format(_ v: Double) -> String { String(format: "%.3g", v) }
}
