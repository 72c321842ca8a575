import Foundation
import RangeTests
import Schedules
import Sessions

extension Phase {
  public static let batchSize = Phase(studying: .batchSize)
}

/// What the batch-size phase decided.
public struct BatchSizeDecision: Sendable {
  public var batchSize: Choice<Int>
  /// The range test's maximum learning rate at the chosen batch size.
  public var learningRate: Double
  /// Steps of a trial at the chosen batch size in the planned trial time.
  public var stepsPerTrial: Int
  /// Each batch size's range-test reading, and the same made monotone in the batch size.
  public var readings: [Int: Double] = [:]
  public var monotoneReadings: [Int: Double] = [:]
  /// How far range tests differ by chance: the starting batch size swept twice (nil when the
  /// phase did not run, or either sweep measured no validation loss).
  public var rangeTestNoise: RangeTestNoise? = nil
}

/// Phase 2: the batch size, from the first range test's maximum learning rate.
public struct BatchSizeStep: RecipeStep {
  public init() {}
  public var title: String { Phase.batchSize.rawValue }
  public func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let first = try findings.required(\.firstRangeTest, by: title, from: "learning rate")
    findings.batch = try recipe.batchSizePhase(
      startLearningRate: first.suggestedMaximumLearningRate!, trialsLeft: recipe.laterTrials,
      mayBeSkipped: true, sweepFrom: findings.rangeTestStart)
  }
}

extension Recipe {
  /// Phase 2: for each candidate an LR range test and a one-cycle trial of equal wall time.
  /// The starting batch size is tested again with the same sweep as the others (the first
  /// test's wider sweep reads differently), and the readings are made monotone in the batch
  /// size (Docs/METHOD.md §3: larger batches tolerate larger rates).
  /// With `mayBeSkipped` (the recipe; `study` always runs it), the phase is not run when its
  /// trials would be too short to separate anything (`reasonToSkip`).
  public func batchSizePhase(
    startLearningRate lr0: Double, trialsLeft: Int, mayBeSkipped: Bool = false,
    sweepFrom start: Double?
  ) throws -> BatchSizeDecision {
    let b0 = settings.startBatchSize
    var candidates = batchCandidates()
    let original = candidates
    func planned(_ candidates: [Int]) -> Double {
      plannedTrialSeconds(
        trials: candidates.count + noiseRepeats + firstNoiseExtra + trialsLeft,
        rangeTests: candidates + laterSweeps(at: b0))
    }
    var trialSeconds = planned(candidates)
    // A candidate whose trial of equal wall time would have fewer steps than can separate
    // anything is neither swept nor tried: its loss would say how far a few steps get, not how
    // well the batch size trains (batch 512 of a 20-minute tune of a PyTorch script had 11
    // steps, after a range test of 87 s). The largest goes first (it has the fewest steps in
    // the time), and the plan is remade without its sweep and trial, so the others get its
    // time: planned beside a batch-512 sweep that never ran, a 3-minute tune's trials had 87
    // steps and batch 256 was dropped too. The starting batch size stays; a resumed run keeps
    // the candidates it journaled.
    var dropped: [(batch: Int, steps: Int, seconds: Double)] = []
    if mayBeSkipped, notApplied(.batchSize) == nil, leftOut[.batchSize] == nil,
      candidates.count >= 2, !journal.entries.contains(where: { $0.phase == .batchSize })
    {
      while let largest = candidates.filter({ $0 != b0 }).max(),
        case let steps = trialSteps(seconds: trialSeconds, batchSize: largest),
        steps < settings.minimumTrialSteps
      {
        dropped.append((largest, steps, trialSeconds))
        candidates.removeAll { $0 == largest }
        trialSeconds = planned(candidates)
      }
    }
    let skip =
      mayBeSkipped
      ? reasonToSkip(.batchSize, steps: trialSteps(seconds: trialSeconds, batchSize: b0))
      : notApplied(.batchSize)
    var tooShort: String?
    if skip == nil, !dropped.isEmpty {
      dropped.sort { $0.batch < $1.batch }
      let batches = dropped.map { String($0.batch) }.joined(separator: ", ")
      tooShort =
        dropped.count == 1
        ? String(
          format:
            "batch %@ not tried: its trials of %.0f s would have %d steps, fewer than the %d that can separate anything",
          batches, dropped[0].seconds, dropped[0].steps, settings.minimumTrialSteps)
        : String(
          format:
            "batch %@ not tried: their trials (of %@ s) would have %@ steps, fewer than the %d that can separate anything",
          batches, dropped.map { String(format: "%.0f", $0.seconds) }.joined(separator: ", "),
          dropped.map { String($0.steps) }.joined(separator: ", "), settings.minimumTrialSteps)
      onEvent?(.note(tooShort!))
    }
    // Where only the starting batch size is left, there is nothing to compare.
    if let why = skip ?? (candidates.count < 2 ? tooShort.map { "not studied: \($0)" } : nil),
      original.count >= 2 || original == [b0] || notApplied(.batchSize) != nil
    {
      onEvent?(.note("batch size \(why); the starting batch size \(b0) is taken"))
      let later = plannedTrialSeconds(
        trials: trialsLeft + firstNoiseExtra, rangeTests: laterSweeps(at: b0))
      return BatchSizeDecision(
        batchSize: Choice(
          b0, "\(why); the stated default, the starting batch size of the first range test"),
        learningRate: lr0, stepsPerTrial: trialSteps(seconds: later, batchSize: b0))
    }
    var lrForBatch: [Int: Double] = [:]
    // A range test per candidate first (side by side where the backend has slots), then the trials.
    let untested = candidates
    let readings = try rangeTests(
      untested.map { b in
        let steps = rangeTestSteps(batchSize: b)
        return RangeTestWork(
          key: "batch-size/range-test/\(b)", phase: .batchSize, label: "LR range test, batch \(b)",
          conditions: [RangeTestCondition(name: "batch \(b)", batchSize: b, steps: steps)],
          base: rangeSettings(
            steps: steps, weightDecay: priorWeightDecay,
            momentum: momenta.last ?? 0.9, validate: true, start: start),
          batchSize: { $0.batchSize! })
      })
    var tried: [Int] = []
    for (b, reading) in zip(untested, readings) {
      switch reading {
      case .success(let c):
        lrForBatch[b] = c.suggestedMaximumLearningRate ?? lr0 * Double(b) / Double(b0)
      case .failure(let error as RangeTestError):
        // The program failed at this batch size (out of memory, say): the others decide.
        onEvent?(.note("batch \(b) left out: \(error.description)"))
      case .failure(let error): throw error
      }
    }
    // Where its second test failed, the starting batch size keeps the first test's reading.
    if lrForBatch[b0] == nil && candidates.contains(b0) { lrForBatch[b0] = lr0 }
    // The starting batch size swept twice measures the range tests' noise.
    var rangeTestNoise: RangeTestNoise?
    if let i = untested.firstIndex(of: b0), case .success(let again) = readings[i],
      let a = journal.entry(firstRangeTestKey)?.rangeTest?.conditions.first,
      let b = again.conditions.first
    {
      rangeTestNoise = RangeTestNoise(label: "batch \(b0)", a, b)
      if let n = rangeTestNoise { onEvent?(.note("range-test noise: \(n.description)")) }
    }
    let raw = lrForBatch
    lrForBatch = Self.monotoneInBatchSize(
      lrForBatch, tolerance: RangeTestNoise.poolingTolerance(rangeTestNoise))
    let adjusted = raw.keys.sorted().filter { abs(raw[$0]! - lrForBatch[$0]!) > 1e-12 * raw[$0]! }
    if !adjusted.isEmpty {
      onEvent?(
        .note(
          "LR readings made monotone in the batch size (larger batches tolerate larger rates): "
            + adjusted.map {
              "\($0): \(Self.formatLR(raw[$0]!)) → \(Self.formatLR(lrForBatch[$0]!))"
            }.joined(separator: ", ")))
    }
    // A study left out whose one candidate is not the starting batch size (a training split too
    // small for it to give 20 batches an epoch) takes that candidate at its range test's
    // reading: there is nothing to compare, and no trial to run (a 60-second tune of 901
    // samples ran two 23-step trials of it, a second of the final run's share each).
    if let why = skip, candidates.count == 1, let b = candidates.first, let lr = lrForBatch[b] {
      let reason =
        "\(why); \(b), the only candidate (the starting batch size is \(b0)), is taken at its range test's reading"
      onEvent?(.note("batch size \(reason)"))
      let later = plannedTrialSeconds(
        trials: trialsLeft + firstNoiseExtra, rangeTests: laterSweeps(at: b))
      return BatchSizeDecision(
        batchSize: Choice(b, reason), learningRate: lr,
        stepsPerTrial: trialSteps(seconds: later, batchSize: b), readings: raw,
        monotoneReadings: lrForBatch, rangeTestNoise: rangeTestNoise)
    }
    for b in candidates where lrForBatch[b] != nil { tried.append(b) }
    // Equal wall time needs every candidate's throughput measured alike: a range test's rate
    // includes its session's start, which on a short test undercounts larger batches by a
    // fifth (Fashion-MNIST: batch 256 planned for 25 s ran 19 s, batch 64 26 s). The backend's
    // own probe where it has one (not again on resume); a program's range tests already leave
    // its start-up out.
    for b in tried where journal.entry("batch-size/trial/\(b)") == nil {
      if let rate = try backend.measureThroughput(
        batchSize: b, regularization: regularization, seed: settings.seed)
      {
        samplesPerSecond[b] = rate
      }
    }
    let entries = try trials(
      tried.map { b in
        let steps = trialSteps(seconds: trialSeconds, batchSize: b)
        return TrialWork(
          key: "batch-size/trial/\(b)", phase: .batchSize,
          label: "batch \(b), \(Int(trialSeconds.rounded())) s",
          settings: TrialSettings(
            batchSize: b, maxLearningRate: lrForBatch[b]!, divFactor: settings.divFactor,
            weightDecay: priorWeightDecay,
            steps: steps, evaluations: trialEvaluations(steps: steps, batchSize: b),
            validationBatches: settings.validationBatches,
            seed: settings.seed))
      })
    let batchTrials = Array(zip(tried, entries))
    guard !batchTrials.isEmpty else {
      throw RecipeError(
        description:
          "no batch size could be tried: the range test failed at every candidate (\(candidates.map(String.init).joined(separator: ", ")))"
      )
    }
    _ = try measureNoise(batchTrials.map(\.1))
    var choice = chooseBatch(batchTrials)
    if let tooShort { choice.reason += "; \(tooShort)" }
    let batch = choice.value
    // The momentum and weight-decay trials share what is left of the tuning time.
    let later = plannedTrialSeconds(
      trials: trialsLeft + firstNoiseExtra, rangeTests: laterSweeps(at: batch))
    return BatchSizeDecision(
      batchSize: choice, learningRate: lrForBatch[batch]!,
      stepsPerTrial: trialSteps(seconds: later, batchSize: batch),
      readings: raw, monotoneReadings: lrForBatch, rangeTestNoise: rangeTestNoise)
  }

  /// Candidates within the memory limit: measured for the ones tried, extrapolated linearly
  /// in the batch size for the next.
  func batchCandidates() -> [Int] {
    var result: [Int] = []
    var measured: [(Int, Double)] = []
    for b in settings.batchSizes.sorted() {
      if measured.count >= 2 {
        let (b1, m1) = measured[measured.count - 2]
        let (b2, m2) = measured[measured.count - 1]
        let predicted = m2 + (m2 - m1) / Double(b2 - b1) * Double(b - b2)
        if predicted > settings.maxMemory {
          onEvent?(
            .note(
              String(
                format:
                  "skipping batch %d: about %.0f MiB expected, over the --max-memory limit of %.0f MiB",
                b, predicted, settings.maxMemory)))
          continue
        }
      }
      if let m = backend.memoryUse(batchSize: b) {
        if m > settings.maxMemory {
          onEvent?(
            .note(
              String(
                format:
                  "skipping batch %d: %.0f MiB measured, over the --max-memory limit of %.0f MiB",
                b, m, settings.maxMemory)))
          continue
        }
        measured.append((b, m))
      }
      result.append(b)
    }
    return result.isEmpty ? [settings.batchSizes.min() ?? settings.startBatchSize] : result
  }

  /// Learning-rate readings made non-decreasing in the batch size, as larger batches tolerate
  /// larger rates (Docs/METHOD.md §3).
  /// - Adjacent violators that are within `tolerance` (a ratio) of each other are pooled to
  ///   their geometric mean: a reading that breaks the order by no more than a range test's
  ///   noise is taken as that noise, averaged with its neighbours.
  /// - A reading below a smaller batch's by more than `tolerance` is not noise but a curve
  ///   read wrongly (a short sweep at a large batch reads "still trains up to" far too early:
  ///   0.0028 at batch 128 where batch 64 read 0.0657, in a 3-minute tune). Pooling it would
  ///   drag the good reading down with it; it is raised to the smaller batch's instead, which
  ///   by the same premise the larger batch tolerates, and its trial tests that.
  static func monotoneInBatchSize(_ readings: [Int: Double], tolerance: Double) -> [Int: Double] {
    let sorted = readings.keys.sorted()
    let limit = log(max(tolerance, 1))
    var blocks: [(sum: Double, members: [Int])] = []
    for b in sorted {
      blocks.append((log(readings[b]!), [b]))
      while blocks.count >= 2 {
        let last = blocks[blocks.count - 1]
        let previous = blocks[blocks.count - 2]
        let gap =
          previous.sum / Double(previous.members.count) - last.sum / Double(last.members.count)
        guard gap > 0, gap <= limit else { break }
        blocks.removeLast()
        blocks[blocks.count - 1] = (previous.sum + last.sum, previous.members + last.members)
      }
    }
    var result: [Int: Double] = [:]
    var floor = 0.0
    for block in blocks {
      // A reading that keeps the order stands exactly as read.
      let pooled =
        block.members.count == 1
        ? readings[block.members[0]]! : exp(block.sum / Double(block.members.count))
      floor = max(floor, pooled)
      for b in block.members { result[b] = floor }
    }
    return result
  }
}
