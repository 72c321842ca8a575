import Foundation
import Schedules
import Sessions

// How the recipe fits its work into the budget: trial lengths, range-test steps, the smallest
// budget that holds it, the batch sizes that fit into memory.

extension Recipe {
  /// The batch sizes of the range-test sweeps the weight-decay and regularization phases will
  /// run at batch `b` (one per condition: the best two weight decays, each studied dropout rate
  /// and augmentation).
  func laterSweeps(at b: Int) -> [Int] {
    let count =
      (studies(.weightDecay) ? 2 : 0) + (studiesRegularization ? regularizationRangeTests : 0)
    return Array(repeating: b, count: count)
  }

  /// Range-test sweeps of the regularization phase: of the studies with two candidates or
  /// more, those a program applies (its `start` event's `honours`; all of them in-process).
  var regularizationRangeTests: Int {
    func sweeps(_ count: Int, _ phase: Phase) -> Int {
      count >= 2 && notApplied(phase) == nil ? count : 0
    }
    return sweeps(settings.dropouts.count, .dropout)
      + sweeps(settings.augmentations.count, .augmentation)
  }

  /// Trials the momentum phase runs: one per candidate, one for the bottom of the cycle where
  /// there are several, and the noise repeat.
  var momentumTrials: Int {
    momenta.count + min(1, max(0, settings.minMomenta.count - 1)) + noiseRepeats
  }
  /// Trials the weight-decay phase runs: the grid, its refinement and the noise repeat.
  var weightDecayTrials: Int { weightDecays.count + 1 + noiseRepeats }

  /// Trials the momentum and weight-decay phases will run.
  var laterTrials: Int {
    (studies(.momentum) ? momentumTrials : 0) + (studies(.weightDecay) ? weightDecayTrials : 0)
  }

  /// Whether the recipe studies `phase`: the program applies what it studies, and the budget
  /// did not leave it out (`fitStudiesToBudget`).
  func studies(_ phase: Phase) -> Bool { notApplied(phase) == nil && leftOut[phase] == nil }

  /// Why the program cannot take what `phase` studies (its start event lists the field in
  /// `ignores`, or does not list an optional one in `honours`), or nil. In-process every
  /// phase applies.
  func notApplied(_ phase: Phase) -> String? {
    guard let program, let field = phase.field, !program.applies(field) else { return nil }
    return field == "dropout" || field == "augmentation"
      ? "your program does not apply \(field) (its start event does not list it in \"honours\")"
      : "your program does not apply \(field) (its start event lists it in \"ignores\")"
  }

  /// Steps of each trial when what is left of the tuning share is split among `trials` more,
  /// at the throughput measured so far: the weight-decay phase re-plans, so a machine running
  /// slower than the batch-size phase measured does not push the final run short.
  func replannedSteps(_ batch: Int, trials: Int) -> Int {
    trialSteps(
      seconds: plannedTrialSeconds(trials: trials, rangeTests: laterSweeps(at: batch)),
      batchSize: batch)
  }

  /// The steps of a phase's trials: those of its trials already in the journal (a resumed run
  /// compares trials of one length), else `planned`.
  func trialSteps(phase: Phase, batchSize: Int, planned: Int) -> Int {
    journal.entries.first { $0.phase == phase && $0.trial?.batchSize == batchSize }?.trial?.steps
      ?? planned
  }

  /// Splits what is left of the tuning share of the budget over the trials still to run,
  /// after setting aside time for the range tests still to run (`rangeTests`: their batch
  /// sizes; each sweeps the samples `rangeTestSteps(batchSize:)` gives it).
  func plannedTrialSeconds(trials: Int, rangeTests: [Int]) -> Double {
    if let fixed = settings.trialSeconds { return fixed }
    // With slots, a phase's specs run side by side: the time goes by rounds, not by specs, and
    // each trial gets up to `slots` times longer.
    let rounds = (Double(trials) / Double(max(1, backend.runner.slots))).rounded(.up)
    let available =
      tuningShare - elapsed - sweepSeconds(rangeTests, firstSteps: rangeTestSteps)
    return max(0.5, available / max(1, rounds))
  }

  /// Seconds of the budget the tuning may use: `1 − finalShare` of it; where the budget left
  /// studies out (`fitStudiesToBudget`), what the studies kept need at their smallest
  /// (`keptStudiesSeconds`), the rest going to the final run instead of to longer trials. A
  /// budget that holds the studies only near their smallest is short for the final run too: a
  /// 20-minute tune of a PyTorch script spent 7 of its minutes on studies that all tied, and
  /// its final run trained 8 epochs where the script's own defaults trained 13.
  var tuningShare: Double {
    min(settings.budget * (1 - settings.finalShare), keptStudiesSeconds ?? .infinity)
  }

  /// Seconds of range tests at the batch sizes `batches` when the first sweeps `firstSteps`:
  /// by rounds where the backend runs several at once (the slowest of each round).
  func sweepSeconds(_ batches: [Int], firstSteps: Int) -> Double {
    let each = batches.map {
      rangeTestSeconds(steps: rangeTestSteps(batchSize: $0, first: firstSteps), batchSize: $0)
    }.sorted(by: >)
    let slots = max(1, backend.runner.slots)
    return stride(from: 0, to: each.count, by: slots).map { each[$0] }.reduce(0, +)
  }

  /// How much longer than planned a trial may run before it is stopped: a machine that slows
  /// down (another job, a throttled core) must not spend the final run's share. A 60-second
  /// tune whose 2-second trials ran 77 s under load ended at 2:10 with a one-epoch final run.
  static var trialSlowdown: Double { 3 }

  /// The longest a trial may run: `trialSlowdown` times what its training, validation passes
  /// and start should take at the throughput measured so far. One stopped there counts as
  /// failed (its steps are not comparable with the others'), so the phase decides among the
  /// rest and the budget keeps the final run's share. nil before any throughput is measured
  /// (`study` with fixed steps): then nothing says how long it should take.
  func trialTimeLimit(_ s: TrialSettings) -> Double? {
    guard !samplesPerSecond.isEmpty else { return nil }
    let training = Double(s.steps * s.batchSize) / throughput(s.batchSize)
    let passes =
      costs.evaluationPassSeconds == nil
      ? training * (Self.rangeTestOverhead - 1) : costs.overhead(evaluations: s.evaluations)
    return Self.trialSlowdown * (training + passes + startupSeconds)
  }

  /// Steps of a trial at batch `b` that fill `seconds`, a program's start-up and validation
  /// passes excluded.
  public func trialSteps(seconds: Double, batchSize b: Int) -> Int {
    let training = costs.split(seconds: seconds, limit: settings.trialEvaluations).training
    return max(10, Int(training * throughput(b) / Double(b)))
  }

  /// Validation passes of a trial of `steps` at batch `b`: `settings.trialEvaluations`, fewer
  /// where a program's passes would take more than half as long as the training.
  func trialEvaluations(steps: Int, batchSize b: Int) -> Int {
    costs.evaluations(
      trainingSeconds: Double(steps * b) / throughput(b), limit: settings.trialEvaluations)
  }

  /// Seconds of a range test of `steps` at batch `b`: its training, and its validation passes
  /// — half as much again in-process, a program's measured passes — and a program's start.
  func rangeTestSeconds(steps: Int, batchSize b: Int? = nil) -> Double {
    let b = b ?? settings.startBatchSize
    let training = Double(steps * b) / throughput(b)
    guard costs.evaluationPassSeconds != nil else {
      return training * Self.rangeTestOverhead + startupSeconds
    }
    return training
      + costs.overhead(
        evaluations: costs.rangeTestValidations(trainingSeconds: training, limit: 10) + 1)
  }

  /// Why a trial phase does not run, or nil when it does: its trials would be shorter than
  /// `minimumTrialSteps` (they could not separate anything), or the tuning has spent its
  /// share of the budget (the final run keeps its own).
  func reasonToSkip(_ phase: Phase, steps: Int) -> String? {
    // A resumed run decides as it did: a phase with journaled work runs (reusing it), and one
    // the journal went past without was skipped.
    if journal.entries.contains(where: { $0.phase == phase }) { return nil }
    if let why = notApplied(phase) { return "not studied: \(why)" }
    let later = recipeSteps.drop { !$0.phases.contains(phase) }.dropFirst().flatMap(\.phases)
    if journal.entries.contains(where: { later.contains($0.phase) }) {
      return "not studied, as in the run this one resumes"
    }
    if let why = leftOut[phase] { return why }
    let share = tuningShare
    if elapsed > share {
      return String(
        format:
          "not studied: the tuning had used %.0f s of its %.0f s share of the budget, and the final run keeps its own",
        elapsed, share)
    }
    if steps < settings.minimumTrialSteps {
      return
        "not studied: its trials would have \(steps) steps, fewer than the \(settings.minimumTrialSteps) that can separate anything (a larger budget gives longer trials)"
    }
    return nil
  }

  /// A range test's cost over its training steps alone: its validation passes add about half.
  static var rangeTestOverhead: Double { 1.5 }

  /// Steps of a range test at batch `b`: as many samples as the first one's, and at least
  /// 100 steps (or the first one's, if fewer), so its curve keeps enough points.
  /// (`first`: the first one's steps, where they are still being planned.)
  func rangeTestSteps(batchSize b: Int, first: Int? = nil) -> Int {
    let first = first ?? rangeTestSteps
    return max(min(100, first), first * settings.startBatchSize / b)
  }

  /// Measures the throughput (or reads it from the journal), leaves out the studies the
  /// budget cannot hold (`fitStudiesToBudget`), then, when all the range tests (the first, one
  /// per further batch size, and the later phases') would take more than `rangeTestShare` of
  /// the tuning time at the measured throughput, first drops the regularization study, whose
  /// range tests are most of them, and only then shortens them. A 20-minute Fashion-MNIST budget keeps its 210 steps and all 11 sweeps;
  /// at 3 minutes, 11 sweeps would take twice the whole tuning share. A resumed run keeps the
  /// steps of its first range test.
  public func fitRangeTestsToBudget() throws {
    let first = journal.entry(firstRangeTestKey)
    if let done = first {
      record(done)
    } else {
      try measureThroughput(batchSize: settings.startBatchSize)
    }
    // Without a measured throughput (a probe that reported too few steps) there is nothing to
    // judge by.
    if !samplesPerSecond.isEmpty { try fitStudiesToBudget() }
    // The range tests share the tuning time with the trials; where no trial phase is left
    // (the budget left them out, or the program applies none of them), they may have all of
    // it: a 5-minute tune of a slow-starting program swept 60 steps over eight decades and
    // read its rate 14 times below what a longer sweep reads.
    let studied = Self.studiesKeptFirst.filter { studies($0) }
    let seconds =
      studied.isEmpty
      ? settings.budget * (1 - settings.finalShare) : tuningShare * settings.rangeTestShare
    let b0 = settings.startBatchSize
    func sweeps() -> [Int] {
      [b0] + (studies(.batchSize) ? settings.batchSizes : []) + laterSweeps(at: b0)
    }
    // The most steps whose sweeps fit (a sweep's cost grows with its steps).
    func affordable(_ batches: [Int]) -> Int {
      var low = 0
      var high = settings.rangeTestSteps
      while low < high {
        let mid = (low + high + 1) / 2
        if sweepSeconds(batches, firstSteps: mid) <= seconds { low = mid } else { high = mid - 1 }
      }
      return low
    }
    var steps = affordable(sweeps())
    // The regularization study goes before any range test is shortened: a short first sweep
    // reads the learning rate low (79 steps at batch 128 read 0.0027 where 158 at batch 64
    // read 0.069, on a 20-minute Fashion-MNIST tune at 870 samples/s), and the rate matters
    // more than the dropout and augmentation its sweeps choose between.
    if steps < settings.rangeTestSteps && studiesRegularization
      && regularizationRangeTests > 0
      && !journal.entries.contains(where: { $0.phase == .dropout || $0.phase == .augmentation })
    {
      studiesRegularization = false
      steps = affordable(sweeps())
      onEvent?(
        .note(
          "no regularization study: its \(regularizationRangeTests) range tests do not fit into this budget beside range tests of \(settings.rangeTestSteps) steps"
        ))
    }
    // Beside a study the range tests keep their full length, even past `rangeTestShare`: a
    // study is kept only where the budget holds them at that length beside its trials of
    // `studiedTrialSteps` (`fitStudiesToBudget`), and the first sweep's reading matters more
    // than the trials' length. A 3-minute tune whose keep decision costed them at 60 steps
    // swept 189, kept the weight-decay study on the promise of 100-step trials, then skipped
    // it: its trials would have had 27. Only where no study is kept are they shortened.
    if !studied.isEmpty { steps = settings.rangeTestSteps }
    steps = min(settings.rangeTestSteps, max(settings.minimumRangeTestSteps, steps))
    if let done = first?.rangeTest?.conditions.first?.condition.steps { steps = done }
    if steps < settings.rangeTestSteps && first == nil {
      onEvent?(
        .note(
          "range tests shortened to \(steps) steps (from \(settings.rangeTestSteps)) to fit into the budget"
        ))
    }
    rangeTestSteps = steps
  }

  var firstRangeTestKey: String { "lr/range-test/\(settings.startBatchSize)" }
}

extension Recipe {
  /// The momentum candidates for the program's optimizer (RecipeDefaults.swift).
  var momenta: [Double] { settings.momentumGrid(for: program) }
  /// The weight-decay grid for the program's optimizer.
  var weightDecays: [Double] { settings.weightDecayCandidates(for: program).grid }
  /// The weight decay before the weight-decay phase chooses, for the program's optimizer.
  var priorWeightDecay: Double { settings.weightDecayPrior(for: program) }
  /// Where the weight-decay phase settles values its trials cannot tell apart: the largest at
  /// or below the prior for the program's optimizer (AdamW's 1e-2, not Smith's L2 5e-4, which
  /// would settle an AdamW tie at 0), so ties lean to less regularization (dropout and
  /// augmentation, studied next, add theirs; the prior is for networks regularized by weight
  /// decay alone).
  var weightDecayDefault: TieDefault {
    TieDefault(
      priorWeightDecay, source: "the prior weight decay", scale: .logarithmic, lean: .atOrBelow)
  }
}
