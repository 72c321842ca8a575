import Foundation
import Sessions
import TrialProtocol

/// One setting under which a range test runs: the values that differ from the base settings
/// (an overlay of weight decays, dropouts, momenta or batch sizes).
public struct RangeTestCondition: Codable, Sendable, Equatable {
  /// How it is named in files and legends, e.g. "wd=1e-4".
  public var name: String
  public var weightDecay: Double?
  /// Momentum at the start and end of the sweep (equal for a constant momentum).
  public var momentum: Double?
  public var minimumMomentum: Double?
  public var batchSize: Int?
  public var dropout: Double?
  /// Augmentation by name (none, flip, crop-flip).
  public var augmentation: String?
  /// Sweep length for this condition (a different batch size has a different epoch length).
  public var steps: Int?

  public init(
    name: String, weightDecay: Double? = nil, momentum: Double? = nil,
    minimumMomentum: Double? = nil,
    batchSize: Int? = nil, dropout: Double? = nil, augmentation: String? = nil, steps: Int? = nil
  ) {
    self.name = name
    self.weightDecay = weightDecay
    self.momentum = momentum
    self.minimumMomentum = minimumMomentum
    self.batchSize = batchSize
    self.dropout = dropout
    self.augmentation = augmentation
    self.steps = steps
  }

  /// The base settings with this condition's values.
  public func applied(to base: RangeTestSettings) -> RangeTestSettings {
    var s = base
    if let weightDecay { s.weightDecay = weightDecay }
    if let momentum {
      s.momentum = momentum
      s.minimumMomentum = minimumMomentum ?? momentum
    }
    if let steps { s.steps = steps }
    return s
  }
}

/// A condition's range tests (one per repeat) and what they say together.
public struct ConditionSummary: Codable, Sendable, Equatable {
  public var condition: RangeTestCondition
  /// Seeds of the repeats, in the order of `runs`.
  public var seeds: [UInt64]
  public var runs: [RangeTestResult]
  /// Median over the repeats of each suggestion.
  public var suggestions: Suggestions
  /// Median over the repeats of the chosen maximum learning rate.
  public var maximumLearningRate: Double?
  public var chosen: SuggestionMethod?
  /// The smallest and largest chosen maximum over the repeats.
  public var spread: ClosedRange<Double>?
  public var reason: String
  /// Lowest smoothed training loss and lowest validation loss over the repeats.
  public var lowestLoss: Double?
  public var lowestValidationLoss: Double?
  /// The largest learning rate up to which the curve stays usable: where the smoothed loss
  /// climbs back above its starting value, or the sweep diverges or ends (median over repeats).
  public var stableUpTo: Double?
  /// The learning rate at which the sweep diverged (median over the repeats that did).
  public var divergedAt: Double?

  /// Combines the repeats of one condition.
  public init(condition: RangeTestCondition, seeds: [UInt64], runs: [RangeTestResult]) {
    self.condition = condition
    self.seeds = seeds
    self.runs = runs
    suggestions = Suggestions()
    for method in SuggestionMethod.allCases {
      suggestions[method] = Self.median(runs.compactMap { $0.reading.suggestions[method] })
    }
    let maxima = runs.compactMap(\.reading.maximumLearningRate)
    maximumLearningRate = Self.median(maxima)
    if let low = maxima.min(), let high = maxima.max() { spread = low...high }
    let methods = runs.compactMap(\.reading.chosen)
    chosen = SuggestionMethod.allCases.max { a, b in
      methods.filter { $0 == a }.count < methods.filter { $0 == b }.count
    }
    if methods.isEmpty { chosen = nil }
    lowestLoss = runs.compactMap(\.reading.lowestLoss).min()
    lowestValidationLoss = runs.compactMap { $0.bestValidation?.loss }.min()
    stableUpTo = Self.median(runs.compactMap(Self.stableLimit))
    divergedAt = Self.median(runs.compactMap(\.divergedAtLearningRate))
    if runs.count == 1 {
      reason = runs[0].reading.reason
    } else if let maximumLearningRate, let spread {
      let failed = runs.count - maxima.count
      reason =
        String(
          format: "median of %d repeats (%@ to %@)%@: ", runs.count,
          CurveReading.format(spread.lowerBound),
          CurveReading.format(spread.upperBound), failed > 0 ? ", \(failed) of them unreadable" : ""
        )
        + (runs.first { $0.reading.maximumLearningRate != nil }?.reading.reason ?? "")
      _ = maximumLearningRate
    } else {
      reason =
        "no suggestion: none of the \(runs.count) repeats could be read (\(runs.first?.reading.problem ?? "no curve"))"
    }
  }

  /// Where the run's smoothed loss first rises back above its value at the start of the reading
  /// (after the first tenth) past its lowest point; the divergence or last learning rate otherwise.
  static func stableLimit(_ run: RangeTestResult) -> Double? {
    let points = run.points
    guard points.count >= 2 else { return nil }
    let start = points.count / 10
    let smoothed = points[start...].map(\.smoothedLoss)
    guard
      let lowest = smoothed.indices.filter({ smoothed[$0].isFinite }).min(by: {
        smoothed[$0] < smoothed[$1]
      })
    else { return nil }
    let first = smoothed[smoothed.startIndex]
    if let back = smoothed.indices.first(where: { $0 > lowest && !(smoothed[$0] <= first) }) {
      return points[max(start, back - 1)].learningRate
    }
    return points.last!.learningRate
  }

  static func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : sqrt(sorted[mid - 1] * sorted[mid])
  }
}

/// Range tests under one or more conditions, compared, and the learning rates they suggest.
public struct RangeTestComparison: Codable, Sendable, Equatable {
  public var conditions: [ConditionSummary]
  /// The condition with the lowest validation loss (training loss when none was measured).
  public var lowestLossCondition: String?
  /// The condition that stays usable to the largest learning rate.
  public var mostStableCondition: String?
  public var suggestedMaximumLearningRate: Double?
  /// max/`oneCycleDivisor` for 1cycle, max/4 for cyclical policies.
  public var suggestedMinimumLearningRate: Double?
  public var suggestedCyclicMinimumLearningRate: Double?
  public var reason: String

  public init(conditions: [ConditionSummary], oneCycleDivisor: Double = 10) {
    self.conditions = conditions
    let measuredValidation = conditions.contains { $0.lowestValidationLoss != nil }
    func score(_ c: ConditionSummary) -> Double? {
      measuredValidation ? c.lowestValidationLoss : c.lowestLoss
    }
    let best = conditions.filter { score($0) != nil }.min { score($0)! < score($1)! }
    lowestLossCondition = best?.condition.name
    mostStableCondition =
      conditions.filter { $0.stableUpTo != nil }.max { $0.stableUpTo! < $1.stableUpTo! }?.condition
      .name
    // The suggestion comes from the best condition that could be read.
    let readable = conditions.filter { $0.maximumLearningRate != nil }
    let source =
      readable.filter { score($0) != nil }.min { score($0)! < score($1)! } ?? readable.first
    suggestedMaximumLearningRate = source?.maximumLearningRate
    suggestedMinimumLearningRate = source?.maximumLearningRate.map { $0 / oneCycleDivisor }
    suggestedCyclicMinimumLearningRate = source?.maximumLearningRate.map { $0 / 4 }
    if let source {
      reason =
        conditions.count > 1
        ? "\(source.condition.name) reaches the lowest \(measuredValidation ? "validation" : "training") loss; \(source.reason)"
        : source.reason
    } else {
      reason = conditions.first?.reason ?? "no range test ran"
    }
  }
}

extension RangeTest {
  /// Runs a range test for every condition and every repeat, each on a fresh session from
  /// `makeSession(condition, seed)`, and compares them. Repeat r uses seed `seed + r`.
  public static func compare<Session: TrainingSession>(
    conditions: [RangeTestCondition], repeats: Int = 1, seed: UInt64, base: RangeTestSettings,
    oneCycleDivisor: Double = 10,
    makeSession: (RangeTestCondition, UInt64) throws -> Session,
    onStart: ((_ condition: Int, _ repeatIndex: Int, _ settings: RangeTestSettings) -> Void)? = nil,
    onPoint: ((RangeTestPoint) -> Void)? = nil, shouldStop: @escaping () -> Bool = { false },
    clock: @escaping () -> Double = { Date().timeIntervalSinceReferenceDate }
  ) throws -> RangeTestComparison {
    try compare(
      conditions: conditions, repeats: repeats, seed: seed, base: base,
      oneCycleDivisor: oneCycleDivisor,
      onStart: onStart, shouldStop: shouldStop
    ) { condition, s, settings in
      try run(
        on: try makeSession(condition, s), settings: settings, onPoint: onPoint,
        shouldStop: shouldStop, clock: clock)
    }
  }

  /// Runs a range test for every condition and every repeat with `run(condition, seed,
  /// settings)` — on a session, or as a spec through a runner — and compares them.
  public static func compare(
    conditions: [RangeTestCondition], repeats: Int = 1, seed: UInt64, base: RangeTestSettings,
    oneCycleDivisor: Double = 10,
    onStart: ((_ condition: Int, _ repeatIndex: Int, _ settings: RangeTestSettings) -> Void)? = nil,
    shouldStop: () -> Bool = { false },
    run: (RangeTestCondition, UInt64, RangeTestSettings) throws -> RangeTestResult
  ) throws -> RangeTestComparison {
    var summaries: [ConditionSummary] = []
    for (c, condition) in conditions.enumerated() {
      var runs: [RangeTestResult] = []
      var seeds: [UInt64] = []
      for r in 0..<max(1, repeats) {
        if shouldStop() { break }
        let s = seed &+ UInt64(r)
        let settings = condition.applied(to: base)
        onStart?(c, r, settings)
        runs.append(try run(condition, s, settings))
        seeds.append(s)
      }
      if !runs.isEmpty {
        summaries.append(ConditionSummary(condition: condition, seeds: seeds, runs: runs))
      }
    }
    return RangeTestComparison(conditions: summaries, oneCycleDivisor: oneCycleDivisor)
  }

  /// Runs a range test for every condition and every repeat as specs through `runner`, and
  /// compares them. `spec` makes each one's spec and directory from its condition, seed and
  /// settings. A runner of one slot takes them one by one (`onStart` before each); one of more
  /// gets them all together, side by side (`onTogether` first, with their number and steps).
  public static func compare(
    conditions: [RangeTestCondition], repeats: Int = 1, seed: UInt64, base: RangeTestSettings,
    oneCycleDivisor: Double = 10,
    runner: some TrialRunner,
    onStart: ((_ condition: Int, _ repeatIndex: Int, _ settings: RangeTestSettings) -> Void)? = nil,
    onTogether: ((_ count: Int, _ steps: Int) -> Void)? = nil,
    onPoint: ((RangeTestPoint) -> Void)? = nil,
    shouldStop: @escaping () -> Bool = { false },
    spec: (RangeTestCondition, UInt64, RangeTestSettings) -> (TrialSpec, URL?)
  ) throws -> RangeTestComparison {
    let count = conditions.count * max(1, repeats)
    guard runner.slots > 1 && count > 1 else {
      return try compare(
        conditions: conditions, repeats: repeats, seed: seed, base: base,
        oneCycleDivisor: oneCycleDivisor, onStart: onStart, shouldStop: shouldStop
      ) { condition, s, settings in
        let (trial, directory) = spec(condition, s, settings)
        return try run(
          with: runner, spec: trial, directory: directory, settings: settings, onPoint: onPoint,
          shouldStop: shouldStop)
      }
    }
    onTogether?(count, conditions.map { $0.applied(to: base).steps }.reduce(0, +) * max(1, repeats))
    var jobs: [(condition: Int, seed: UInt64, job: RangeTestJob)] = []
    for (c, condition) in conditions.enumerated() {
      for r in 0..<max(1, repeats) {
        let s = seed &+ UInt64(r)
        let settings = condition.applied(to: base)
        let (trial, directory) = spec(condition, s, settings)
        jobs.append(
          (
            c, s,
            try RangeTestJob(
              settings: settings, spec: trial, directory: directory, onPoint: onPoint)
          ))
      }
    }
    let runs = try runner.runAll(jobs.map(\.job.job), shouldStop: shouldStop)
    var summaries: [ConditionSummary] = []
    for (c, condition) in conditions.enumerated() {
      // A sweep the user stopped before its first step leaves no curve.
      let mine = jobs.indices.filter {
        jobs[$0].condition == c && (runs[$0].status != .interrupted || !runs[$0].losses.isEmpty)
      }
      let results = try mine.map { try jobs[$0].job.result(runs[$0]) }
      if !results.isEmpty {
        summaries.append(
          ConditionSummary(condition: condition, seeds: mine.map { jobs[$0].seed }, runs: results))
      }
    }
    return RangeTestComparison(conditions: summaries, oneCycleDivisor: oneCycleDivisor)
  }
}
