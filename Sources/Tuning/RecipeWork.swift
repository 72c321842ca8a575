import Foundation
import RangeTests
import Sessions
import TrialProtocol

/// A range-test comparison the recipe asks for: its journal key and label, the conditions
/// (one sweep each) and the batch size each runs at.
struct RangeTestWork {
  var key: String
  var phase: Phase
  var label: String
  var conditions: [RangeTestCondition]
  var base: RangeTestSettings
  var batchSize: (RangeTestCondition) -> Int
}

/// A short trial the recipe asks for.
struct TrialWork {
  var key: String
  var phase: Phase
  var label: String
  var settings: TrialSettings
  /// The key of the trial this one repeats under another seed (a noise measurement).
  var repeatOf: String? = nil
}

extension Recipe {
  /// Runs (or reuses from the journal) range-test comparisons, all their sweeps handed to the
  /// backend together so they run side by side where it has slots; one after another, each
  /// journaled as it ends, where it has one. A comparison whose run failed is a failure in
  /// its place (the others stand).
  func rangeTests(_ works: [RangeTestWork]) throws -> [Result<RangeTestComparison, Error>] {
    if backend.runner.slots <= 1 && works.count > 1 {
      return try works.flatMap { try rangeTests([$0]) }
    }
    var outcomes = [Result<RangeTestComparison, Error>?](repeating: nil, count: works.count)
    var pending: [(work: Int, condition: Int, job: RangeTestJob)] = []
    var steps = 0
    let progress = ProgressCounter { [weak self] k, loss in self?.onEvent?(.step(k, loss: loss)) }
    for (i, w) in works.enumerated() {
      if let done = journal.entry(w.key), let comparison = done.rangeTest {
        onEvent?(.finished(done, reused: true))
        record(done)
        outcomes[i] = .success(comparison)
        continue
      }
      do {
        for (c, condition) in w.conditions.enumerated() {
          let settings = condition.applied(to: w.base)
          let spec = settings.spec(
            key: w.conditions.count == 1 ? w.key : "\(w.key)/\(condition.name)",
            batchSize: w.batchSize(condition),
            seed: self.settings.seed, dropout: condition.dropout ?? regularization.dropout,
            augmentation: condition.augmentation ?? regularization.augmentation)
          pending.append(
            (
              i, c,
              try RangeTestJob(settings: settings, spec: spec, directory: directory(for: spec)) {
                p in progress.step(p.loss)
              }
            ))
          steps += settings.steps
        }
      } catch {
        outcomes[i] = .failure(error)
        pending.removeAll { $0.work == i }
      }
    }
    guard !pending.isEmpty else { return outcomes.map { $0! } }
    let running = Set(pending.map(\.work)).sorted()
    onEvent?(
      .started(
        key: works[running[0]].key, label: running.map { works[$0].label }.joined(separator: "; "),
        steps: steps))
    let t0 = backend.now()
    let runs = try run(pending.map(\.job.job))
    if shouldStop() { throw Interrupted() }
    let wall = backend.now() - t0
    let total = runs.map(\.seconds).reduce(0, +)
    for i in running {
      let mine = pending.indices.filter { pending[$0].work == i }
      let w = works[i]
      do {
        let results = try mine.map { try pending[$0].job.result(runs[$0]) }
        let summaries = zip(mine, results).map { k, result in
          ConditionSummary(
            condition: w.conditions[pending[k].condition], seeds: [settings.seed], runs: [result])
        }
        let comparison = RangeTestComparison(
          conditions: summaries, oneCycleDivisor: settings.divFactor)
        // The wall time of side-by-side runs is shared out, so the journal's seconds add up to it.
        let seconds = total > 0 ? wall * mine.map { runs[$0].seconds }.reduce(0, +) / total : wall
        var entry = JournalEntry(
          key: w.key, phase: w.phase, label: w.label, rangeTest: comparison, seconds: seconds)
        entry.program = program
        entry.setMachines(mine.map { runs[$0] })
        try journal.append(entry)
        record(entry)
        onEvent?(.finished(entry, reused: false))
        outcomes[i] = .success(comparison)
      } catch let error as JournalError {
        throw error
      } catch {
        outcomes[i] = .failure(error)
      }
    }
    return outcomes.map { $0! }
  }

  /// Runs (or reuses) one range-test comparison; a failed run throws.
  func rangeTest(
    key: String, phase: Phase, label: String, conditions: [RangeTestCondition],
    base: RangeTestSettings,
    batchSize: @escaping (RangeTestCondition) -> Int
  ) throws -> RangeTestComparison {
    try rangeTests([
      RangeTestWork(
        key: key, phase: phase, label: label, conditions: conditions, base: base,
        batchSize: batchSize)
    ])[0].get()
  }

  /// Runs (or reuses from the journal) short trials, handed to the backend together as
  /// `rangeTests` does. A trial whose directory already holds a spec for its key (a resumed
  /// run's, queued or finished on a cluster) keeps that spec's steps, so it is the same spec
  /// and the phase's trials stay of one length.
  func trials(_ works: [TrialWork]) throws -> [JournalEntry] {
    if backend.runner.slots <= 1 && works.count > 1 {
      return try works.flatMap { try trials([$0]) }
    }
    var entries = [JournalEntry?](repeating: nil, count: works.count)
    var pending: [(work: Int, settings: TrialSettings, reading: TrialReading, job: TrialJob)] = []
    let progress = ProgressCounter { [weak self] k, loss in self?.onEvent?(.step(k, loss: loss)) }
    for (i, w) in works.enumerated() {
      if let done = journal.entry(w.key), done.result != nil {
        onEvent?(.finished(done, reused: true))
        record(done)
        entries[i] = done
        continue
      }
      var settings = w.settings
      if let folder = backend.trialsDirectory?.appendingPathComponent(
        TrialSpec.directoryName(for: w.key)),
        let earlier = try? TrialSpec.read(from: folder.appendingPathComponent(TrialSpec.specFile)),
        earlier.kind == .trial
      {
        settings.steps = earlier.steps
      }
      var spec = try settings.spec(key: w.key, regularization: regularization)
      spec.maxSeconds = trialTimeLimit(settings)
      let reading = TrialReading(spec: spec) { _, loss in progress.step(loss) }
      pending.append(
        (
          i, settings, reading,
          TrialJob(spec: spec, directory: directory(for: spec), observe: reading.observe)
        ))
    }
    guard !pending.isEmpty else { return entries.map { $0! } }
    onEvent?(
      .started(
        key: works[pending[0].work].key,
        label: pending.map { works[$0.work].label }.joined(separator: "; "),
        steps: pending.map(\.settings.steps).reduce(0, +)))
    let t0 = backend.now()
    let runs = try run(pending.map(\.job))
    if shouldStop() { throw Interrupted() }
    let wall = backend.now() - t0
    let total = runs.map(\.seconds).reduce(0, +)
    for (k, p) in pending.enumerated() {
      let w = works[p.work]
      let result = p.reading.result(runs[k])
      let seconds = total > 0 ? wall * runs[k].seconds / total : wall
      var entry = JournalEntry(
        key: w.key, phase: w.phase, label: w.label, trial: p.settings, result: result,
        seconds: seconds)
      entry.repeatOf = w.repeatOf
      entry.program = program
      entry.setMachines([runs[k]])
      try journal.append(entry)
      record(entry)
      onEvent?(.finished(entry, reused: false))
      entries[p.work] = entry
    }
    warnOfMixedMachines(entries.compactMap { $0 })
    return entries.map { $0! }
  }

  /// Runs (or reuses) one short trial.
  func trial(key: String, phase: Phase, label: String, _ settings: TrialSettings) throws
    -> JournalEntry
  {
    try trials([TrialWork(key: key, phase: phase, label: label, settings: settings)])[0]
  }

  // MARK: - Noise

  /// The trial among `entries` with the lowest finite early validation loss.
  func lowestTrial(_ entries: [JournalEntry]) -> JournalEntry? {
    entries.filter { $0.result?.finalValidationLoss.isFinite ?? false }.min {
      $0.result!.finalValidationLoss < $1.result!.finalValidationLoss
    }
  }

  /// The same trial under the next seed: other initial weights, another data order.
  func repeatWork(of entry: JournalEntry) -> TrialWork {
    var s = entry.trial!
    s.seed = settings.seed &+ 1
    // Not "KEY/…": a key's children are the conditions of one piece of work.
    return TrialWork(
      key: "\(entry.key)-seed-\(s.seed)", phase: entry.phase,
      label: "\(entry.label), seed \(s.seed)", settings: s, repeatOf: entry.key)
  }

  /// Adds trials and their repeats to the noise estimate, and says the band they give.
  func addNoise(_ pairs: [(original: JournalEntry, again: JournalEntry)]) {
    for (original, again) in pairs {
      noise.pairs.append(
        NoiseEstimate.Pair(
          label: original.label,
          losses: [
            original.result?.finalValidationLoss ?? .infinity,
            again.result?.finalValidationLoss ?? .infinity,
          ]))
    }
    guard let band = noise.band else { return }
    let each = pairs.map { original, again in
      String(
        format: "%@ again under seed %d: %.4f against %.4f", original.label, settings.seed &+ 1,
        again.result?.finalValidationLoss ?? .infinity,
        original.result?.finalValidationLoss ?? .infinity)
    }
    onEvent?(
      .note(
        String(
          format: "noise: %@; differences under %.1f%% are noise",
          each.joined(separator: "; "), 100 * band)))
  }

  /// Repeats per trial phase that measure the noise: one, the phase's lowest trial again
  /// under another seed.
  var noiseRepeats: Int { settings.measuresNoise ? 1 : 0 }
  /// The extra repeat of a measurement while the noise has fewer than two finite pairs: the
  /// phase's two lowest trials are both run again (a phase with one candidate gives one pair,
  /// and the next phase repeats two). A band from one pair is |Z| times the true band (Z
  /// standard normal: a quarter of the time under a third of it): a tune once called batch
  /// 64 clear of 128 on a band of 0.1%, which the next phases' pairs widened to 4.7%. From two
  /// pairs it is under a third of the truth one time in ten.
  var firstNoiseExtra: Int {
    settings.measuresNoise && noise.pairs.compactMap(\.relativeDifference).count < 2 ? 1 : 0
  }

  /// Runs the phase's lowest trial again under another seed (with `alongside`, side by side
  /// where there are slots) and adds the pair to the noise estimate; until the noise has two
  /// pairs, its two lowest trials (`firstNoiseExtra`). Returns `alongside`'s entries.
  func measureNoise(_ phaseTrials: [JournalEntry], alongside: [TrialWork] = []) throws
    -> [JournalEntry]
  {
    guard settings.measuresNoise, let lead = lowestTrial(phaseTrials) else {
      return try alongside.isEmpty ? [] : trials(alongside)
    }
    var originals = [lead]
    if firstNoiseExtra > 0, let second = lowestTrial(phaseTrials.filter { $0.key != lead.key }) {
      originals.append(second)
    }
    let done = try trials(alongside + originals.map(repeatWork(of:)))
    addNoise(Array(zip(originals, done.suffix(originals.count))).map { ($0, $1) })
    return Array(done.prefix(alongside.count))
  }

  /// The relative difference below which two trials count as indistinguishable: the measured
  /// noise band, or `fallback` where none was measured.
  func noiseBand(fallback: Double) -> (band: Double, measured: Bool) {
    noise.band.map { ($0, true) } ?? (fallback, false)
  }

  /// Trials compared by what they reach in equal wall time must have run on equal machines.
  func warnOfMixedMachines(_ entries: [JournalEntry]) {
    let kinds = Set(entries.compactMap(\.machines).joined())
    guard kinds.count > 1, let phase = entries.first?.phase else { return }
    onEvent?(
      .note(
        "the \(phase.rawValue) trials ran on different kinds of machines (\(kinds.sorted().joined(separator: "; "))): their equal-time comparison is not fair; pin them to one kind with --slurm-args (e.g. --constraint)"
      ))
  }
}

extension JournalEntry {
  /// Keeps where the runs ran, when their runners said.
  mutating func setMachines(_ runs: [TrialRunResult]) {
    let nodes = runs.compactMap(\.node)
    let machines = runs.compactMap(\.machine)
    self.nodes = nodes.isEmpty ? nil : nodes
    self.machines = machines.isEmpty ? nil : machines
  }
}

/// Counts the steps of runs side by side into one progress count.
final class ProgressCounter {
  private var done = 0
  private let report: (Int, Double) -> Void
  init(report: @escaping (Int, Double) -> Void) { self.report = report }
  func step(_ loss: Double) {
    report(done, loss)
    done += 1
  }
}
