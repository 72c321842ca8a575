import Foundation
@testable import RangeTests
import Sessions
import Testing
@testable import TrialProtocol
@testable import Tuning

/// Analytic sessions behind the recipe, on a virtual clock.
/// A test-only runner: the analytic backend's sessions in rounds of its `slots`, side by side
/// on the virtual clock (a round takes as long as its longest job).
struct VirtualSlots: TrialRunner {
  let backend: AnalyticBackend
  var slots: Int { backend.slots }
  func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws -> [TrialRunResult] {
    backend.batches.append(jobs.count)
    let clock = backend.clock
    var results: [TrialRunResult] = []
    for first in stride(from: 0, to: jobs.count, by: slots) {
      let start = clock.now
      var end = start
      for job in jobs[first..<min(jobs.count, first + slots)] {
        clock.set(start)
        backend.specsRun.append(job.spec)
        var runner = backend.sessionRunner
        if let facts = backend.programFacts { runner.program = facts }
        results += try runner.runAll([job], shouldStop: shouldStop)
        end = max(end, clock.now)
      }
      clock.set(end)
    }
    return results
  }
}

final class AnalyticBackend: SessionBackend {
  let clock = VirtualClock()
  var samples = 512
  var features = 8
  var noise = 0.1
  /// Seconds per step: constant, or proportional to the batch size.
  var secondsPerStep: (Int) -> Double = { _ in 0.01 }
  /// Steps with a momentum above this return NaN (a synthetic instability).
  var momentumLimit: Double?
  /// Simulated seconds of one evaluation (a pass over the validation split).
  var evaluationSeconds = 0.0
  /// Extra seconds of each step of the final session after its first `after` steps: a
  /// machine that slows down once the final run has been planned.
  var finalSlowdown: (after: Int, extraSeconds: Double)?
  private(set) var sessionsMade = 0
  /// What the runs' start events say, as a program's would (nil: the engine's).
  var programFacts: ProgramFacts?
  /// Every spec run, in order.
  var specsRun: [TrialSpec] = []

  /// The regularization of the sessions made, in order.
  private(set) var regularizations: [Regularization] = []

  func makeSession(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> LimitedSession
  {
    sessionsMade += 1
    regularizations.append(regularization)
    return LimitedSession(
      AnalyticSession(
        features: features, samples: samples, noise: noise, batchSize: batchSize, seed: seed,
        secondsPerStep: secondsPerStep(batchSize), clock: clock), momentumLimit: momentumLimit,
      evaluationSeconds: evaluationSeconds)
  }
  func makeFinalSession(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> LimitedSession
  {
    let session = try makeSession(batchSize: batchSize, regularization: regularization, seed: seed)
    session.slowdown = finalSlowdown
    return session
  }
  func memoryUse(batchSize: Int) -> Double? { 100 + Double(batchSize) }
  func now() -> Double { clock.now }

  /// Specs run at once: with more than one, the jobs handed over together run side by side on
  /// the virtual clock (a round of `slots` jobs takes as long as its longest).
  var slots = 1
  /// How many jobs each `runAll` was given.
  fileprivate(set) var batches: [Int] = []
  var runner: any TrialRunner { VirtualSlots(backend: self) }

  /// Where final states are saved: shared by the backends of one test, as a disk would be.
  var finalStore: FinalStore?
  final class FinalStore {
    var saved: (state: AnalyticSession.State, record: FinalRunRecord)?
    var saves = 0
  }
  func saveFinalState(_ session: LimitedSession, _ record: FinalRunRecord) throws {
    finalStore?.saved = (session.snapshot(), record)
    finalStore?.saves += 1
  }
  func loadFinalState(into session: LimitedSession) throws -> FinalRunRecord? {
    guard let saved = finalStore?.saved else { return nil }
    session.restore(saved.state)
    return saved.record
  }
  func removeFinalState() { finalStore?.saved = nil }
}

/// An analytic session that diverges above a momentum limit.
final class LimitedSession: TrainingSession {
  let inner: AnalyticSession
  let momentumLimit: Double?
  let evaluationSeconds: Double
  var slowdown: (after: Int, extraSeconds: Double)?
  private var stepsRun = 0
  init(_ inner: AnalyticSession, momentumLimit: Double?, evaluationSeconds: Double = 0) {
    self.inner = inner
    self.momentumLimit = momentumLimit
    self.evaluationSeconds = evaluationSeconds
  }
  var stepsPerEpoch: Int { inner.stepsPerEpoch }
  var stepsTaken: Int { inner.stepsTaken }
  func step(_ h: HyperParameters) -> Double {
    stepsRun += 1
    if let slowdown, stepsRun > slowdown.after { inner.clock?.advance(slowdown.extraSeconds) }
    if let limit = momentumLimit, h.momentum > limit + 1e-12 {
      _ = inner.step(h)
      return .nan
    }
    return inner.step(h)
  }
  func evaluate(_ split: DataSplit, maxBatches: Int?) -> Evaluation {
    inner.clock?.advance(evaluationSeconds)
    return inner.evaluate(split, maxBatches: maxBatches)
  }
  func snapshot() -> AnalyticSession.State { inner.snapshot() }
  func restore(_ state: AnalyticSession.State) { inner.restore(state) }
}

@Suite struct RecipeTests {
  func journal(
    _ settings: [String: String] = ["test": "1"], resume: Bool = false, at url: URL? = nil
  ) throws -> Journal {
    let file =
      url
      ?? FileManager.default.temporaryDirectory.appendingPathComponent(
        "journal-\(UUID().uuidString).jsonl")
    return try Journal(url: file, settings: settings, resume: resume)
  }

  func settings(budget: Double = 600) -> RecipeSettings {
    var s = RecipeSettings(budget: budget)
    s.startBatchSize = 32
    s.batchSizes = [16, 32, 64]
    s.weightDecays = [1e-2, 1e-3, 0]
    s.rangeTestSteps = 150
    s.validationBatches = nil
    // The analytic problem separates in a few steps; these tests' short budgets are about
    // other things than too-short trials (SettlementTests has those).
    s.minimumTrialSteps = 10
    return s
  }

  @Test func aTrialWithoutAValidScheduleThrows() {
    let trial = TrialSettings(batchSize: 32, maxLearningRate: 0, weightDecay: 0, steps: 10, seed: 0)
    #expect(throws: RecipeError.self) { try trial.run(on: AnalyticSession(), clock: { 0 }) }
  }

  @Test func refinementHalvesTheExponent() {
    #expect(
      Recipe<AnalyticBackend>.refinement([(1e-3, 0.5), (1e-4, 0.4), (1e-5, 0.6), (0, 0.7)]) == 3e-4)
    #expect(
      Recipe<AnalyticBackend>.refinement([(1e-3, 0.9), (1e-4, 0.6), (1e-5, 0.5), (0, 0.55)]) == 3e-6
    )
    // Between the best two, adjacent or not; nothing when already tried.
    #expect(Recipe<AnalyticBackend>.refinement([(1e-2, 0.45), (1e-4, 0.4), (0, 0.6)]) == 1e-3)
    #expect(Recipe<AnalyticBackend>.refinement([(1e-3, 0.5), (3e-4, 0.6), (1e-4, 0.4)]) == nil)
  }

  @Test func theWeightDecayRangeTestsLowestPointIsWeighedAgainstTheirNoise() {
    func summary(_ name: String, _ loss: Double) -> ConditionSummary {
      var c = ConditionSummary(
        condition: RangeTestCondition(name: name, weightDecay: 0), seeds: [0], runs: [])
      c.lowestValidationLoss = loss
      return c
    }
    let comparison = RangeTestComparison(conditions: [
      summary("wd 0.001", 0.7055), summary("wd 3e-05", 0.7060),
    ])
    let noise = RangeTestNoise(
      label: "batch 128", lowestValidationLosses: [0.5983, 0.6457], maximumLearningRates: [],
      usableUpTo: [])
    let other = Recipe<AnalyticBackend>.rangeTestLowest(
      comparison, chosen: "wd 3e-05", noise: noise)
    #expect(other.contains("wd 0.001 reached the lowest validation loss (0.7055 against 0.7060"))
    #expect(other.contains("within the range tests' noise of 15.2%"), "\(other)")
    #expect(
      Recipe<AnalyticBackend>.rangeTestLowest(comparison, chosen: "wd 0.001", noise: noise)
        == "; its LR range test also reached the lowest validation loss")
    #expect(
      !Recipe<AnalyticBackend>.rangeTestLowest(comparison, chosen: "wd 3e-05", noise: nil)
        .contains("noise"))
  }

  @Test func regularizationIsTheStrongestOfTheCloseOnes() {
    func choose(_ rows: [(Double, Double?, Double?)], _ tolerance: Double) -> Double {
      Recipe<AnalyticBackend>.chooseRegularization(
        rows.map { (value: $0.0, name: "\($0.0)", validation: $0.1, stableUpTo: $0.2) },
        kind: "rates", tolerance: tolerance, why: ""
      ).value
    }
    // tune's run 4 on Fashion-MNIST: 0.25 is within 10% of the lowest, 0.5 is not.
    let rows: [(Double, Double?, Double?)] = [
      (0, 0.5241, 0.59), (0.25, 0.5206, 0.5), (0.5, 0.6013, 1),
    ]
    #expect(choose(rows, 0.1) == 0.25)
    #expect(choose(rows, 0.2) == 0.5)
    #expect(choose([(0, 0.5, 0.6), (0.25, 0.56, 0.5)], 0.1) == 0)
    // Unmeasured settings are never chosen.
    #expect(choose([(0, 0.5, 1), (0.1, 0.5, 1), (0.3, nil, 5)], 0.1) == 0.1)
    // Nothing measured: the weakest.
    #expect(choose([(0.1, nil, nil), (0.2, nil, nil)], 0.1) == 0.1)
  }

  @Test func theRegularizationStudyRunsAfterWeightDecayAndSetsTheFinalRun() throws {
    let backend = AnalyticBackend()
    var s = settings()
    s.dropouts = [0, 0.3]
    s.augmentations = ["none", "flip"]
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    let outcome = try recipe.run()
    #expect(
      recipe.journal.entries.contains {
        $0.phase == .dropout && $0.rangeTest?.conditions.count == 2
      })
    #expect(
      recipe.journal.entries.contains {
        $0.phase == .augmentation && $0.rangeTest?.conditions.count == 2
      })
    #expect(
      s.dropouts.contains(outcome.dropout.value)
        && s.augmentations.contains(outcome.augmentation.value))
    #expect(
      backend.regularizations.last
        == Regularization(dropout: outcome.dropout.value, augmentation: outcome.augmentation.value))
    // Every session before the study used the prior; the augmentation study used the chosen rate.
    let studyIndex = backend.regularizations.firstIndex { $0.dropout == 0.3 }!
    #expect(backend.regularizations[..<studyIndex].allSatisfy { $0 == s.regularization })
    let flip = backend.regularizations.firstIndex { $0.augmentation == "flip" }!
    #expect(backend.regularizations[flip].dropout == outcome.dropout.value)
  }

  @Test func momentumIsTheLargestStableOne() throws {
    let backend = AnalyticBackend()
    backend.momentumLimit = 0.96
    let recipe = Recipe(backend: backend, settings: settings(), journal: try journal())
    let outcome = try recipe.run()
    #expect(outcome.maxMomentum.value == 0.95)
    #expect(
      outcome.maxMomentum.reason.contains("0.99 diverged")
        && outcome.maxMomentum.reason.contains("0.97 diverged"))
  }

  @Test func batchSizeAtEqualWallTime() throws {
    // Each step costs the same whatever the batch: in equal time the largest batch sees the
    // most data with the least gradient noise.
    let backend = AnalyticBackend()
    backend.noise = 1
    // Trials short enough that no batch size reaches the noise floor.
    let recipe = Recipe(backend: backend, settings: settings(budget: 100), journal: try journal())
    var notes: [String] = []
    recipe.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try recipe.run()
    let margin = try #require(outcome.batchSize.margin)
    #expect(margin.indistinguishable.contains("64"), "\(outcome.batchSize.reason) \(notes)")
    // Whatever wins, the rule holds: the lowest when clear of the noise, else the tied batch
    // size nearest the starting one.
    if margin.indistinguishable.count > 1 {
      let tied = margin.indistinguishable.compactMap(Int.init)
      let start = Double(recipe.settings.startBatchSize)
      let distance = { (b: Int) in abs(log(Double(b) / start)) }
      let nearest = tied.map(distance).min()!
      #expect(distance(outcome.batchSize.value) <= nearest + 1e-12 && margin.settlement != nil)
    } else {
      #expect(outcome.batchSize.value == 64 && margin.settlement == nil)
    }
    // Equal wall time: the trials' virtual seconds agree within a few percent.
    let times = recipe.journal.entries.filter { $0.phase == .batchSize && $0.result != nil }.map(
      \.seconds)
    // Three candidates and the two lowest ones' repeats under another seed (the noise: the
    // tune's first measurement, so two pairs).
    #expect(times.count == 5)
    #expect(
      recipe.journal.entries.filter { $0.phase == .batchSize && $0.repeatOf != nil }.count == 2)
    #expect(times.max()! - times.min()! < 0.05 * times.max()!, "\(times)")
  }

  @Test func slotsRunAPhaseSideBySideAndLengthenItsTrials() throws {
    let one = AnalyticBackend()
    let sequential = Recipe(backend: one, settings: settings(budget: 300), journal: try journal())
    _ = try sequential.run()
    let two = AnalyticBackend()
    two.slots = 2
    let parallel = Recipe(backend: two, settings: settings(budget: 300), journal: try journal())
    _ = try parallel.run()
    #expect(
      parallel.elapsed <= 300 * 1.1 && parallel.elapsed >= 300 * 0.7,
      "used \(parallel.elapsed) of 300")
    // The batch-size and weight-decay phases handed their three trials over together; with one
    // slot they go one by one.
    #expect(two.batches.contains(3) && !one.batches.contains(3), "\(two.batches) / \(one.batches)")
    // Planned in rounds of two, each trial is longer.
    func steps(_ r: Recipe<AnalyticBackend>) -> Int {
      r.journal.entries.first { $0.phase == .momentum }!.trial!.steps
    }
    #expect(
      Double(steps(parallel)) >= 1.5 * Double(steps(sequential)),
      "\(steps(parallel)) against \(steps(sequential))")
    // The journal shares the wall time out: its seconds add up to no more than the clock's.
    #expect(parallel.journal.entries.map(\.seconds).reduce(0, +) <= parallel.elapsed)
  }

  @Test func learningRateIsBelowTheStabilityLimit() throws {
    let backend = AnalyticBackend()
    let outcome = try Recipe(
      backend: backend, settings: settings(budget: 200), journal: try journal()
    ).run()
    let probe = AnalyticSession(batchSize: outcome.batchSize.value)
    // With momentum the heavy-ball limit is 2(1+β)/λ; the one-cycle peak must stay below it.
    let limit = 2 * (1 + outcome.minMomentum.value) / probe.largestCurvature
    #expect(outcome.maxLearningRate.value < limit)
    #expect(outcome.maxLearningRate.value > limit / 200)
    #expect(abs(outcome.minLearningRate.value - outcome.maxLearningRate.value / 10) < 1e-12)
    #expect(outcome.test.loss < 0.1)
  }

  /// A program that does not take the batch size or the momentum (its start event lists them
  /// in `ignores`) gets neither phase: no trials that would measure only noise, and the
  /// reasons say why.
  @Test func phasesAProgramDoesNotApplyAreNotRun() throws {
    let backend = AnalyticBackend()
    backend.programFacts = ProgramFacts(
      honours: [], trainSamples: nil, ignores: ["batch_size", "momentum"])
    let recipe = Recipe(backend: backend, settings: settings(budget: 300), journal: try journal())
    let outcome = try recipe.run()
    let studied = Set(recipe.journal.entries.filter { $0.trial != nil }.map(\.phase))
    #expect(!studied.contains(.batchSize) && !studied.contains(.momentum), "\(studied)")
    #expect(studied.contains(.weightDecay))
    #expect(outcome.batchSize.reason.contains("does not apply batch_size"))
    #expect(outcome.maxMomentum.reason.contains("does not apply momentum"))
    #expect(recipe.elapsed <= 300 * 1.1)
  }

  /// AdamW's weight decay is decoupled: its grid is about a hundred times the L2 grid, its
  /// momentum is β₁ (no 0.99), and the reasons say which grid was used and why.
  @Test func anAdamWProgramGetsItsOwnGrids() throws {
    let backend = AnalyticBackend()
    backend.programFacts = ProgramFacts(
      honours: [], trainSamples: nil, optimizer: "AdamW", decoupledWeightDecay: true)
    var s = settings(budget: 300)
    s.weightDecays = RecipeSettings.defaultWeightDecays
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    let outcome = try recipe.run()
    let trials = recipe.journal.entries.compactMap { e in e.trial.map { (e.phase, $0) } }
    let decays = Set(trials.filter { $0.0 == .weightDecay }.map(\.1.weightDecay))
    #expect(decays.isSuperset(of: RecipeSettings.decoupledWeightDecays), "\(decays)")
    let momenta = Set(trials.filter { $0.0 == .momentum }.map(\.1.maxMomentum))
    #expect(momenta == Set(RecipeSettings.adaptiveMomenta), "\(momenta)")
    #expect(outcome.weightDecay.reason.contains("decoupled weight decay (your program's AdamW)"))
    #expect(outcome.maxMomentum.reason.contains("β₁"))
    // Trials it cannot tell apart settle at AdamW's prior (1e-2), not at the largest at or
    // below Smith's L2 prior (5e-4), which on this grid is no weight decay at all.
    let tie = Margin.settle(
      losses: [1, 1.001, 1.002, 1.001], values: RecipeSettings.decoupledWeightDecays, band: 0.05,
      by: recipe.weightDecayDefault, format: { "\($0)" })
    #expect(
      tie.map { RecipeSettings.decoupledWeightDecays[$0.index] } == 1e-2,
      "\(String(describing: tie))")
    // An SGD program keeps Smith's grids.
    let sgd = AnalyticBackend()
    sgd.programFacts = ProgramFacts(honours: [], trainSamples: nil, optimizer: "SGD")
    let plain = Recipe(backend: sgd, settings: s, journal: try journal())
    _ = try plain.run()
    #expect(
      Set(
        plain.journal.entries.filter { $0.phase == .weightDecay }.compactMap(\.trial?.weightDecay)
      )
      .isSuperset(of: RecipeSettings.defaultWeightDecays))
  }

  /// A machine that slows down twentyfold in the middle of the tuning (another job on its
  /// cores): the trials caught in it are stopped at their time limit and left out, and the
  /// recipe still ends near its budget with a final run of its share.
  @Test func trialsFarSlowerThanPlannedAreStoppedAndLeftOut() throws {
    let backend = AnalyticBackend()
    var made = 0
    backend.secondsPerStep = { _ in
      made += 1
      return (12...14).contains(made) ? 0.2 : 0.01
    }
    let s = settings(budget: 300)
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    let outcome = try recipe.run()
    let stopped = recipe.journal.entries.compactMap(\.result?.failure).filter {
      $0.contains("time limit")
    }
    #expect(!stopped.isEmpty, "\(recipe.journal.entries.map(\.label))")
    #expect(recipe.elapsed <= s.budget * 1.1, "used \(recipe.elapsed) of \(s.budget)")
    #expect(outcome.epochs.value >= 100, "\(outcome.epochs)")
  }

  /// A batch size's throughput is the fastest its trials ran: a trial slowed by other work on
  /// the machine does not lower it (and plan the final run short), and a probe's measurement
  /// gives way to the first trial's.
  @Test func theThroughputIsTheFastestTrialsNotTheLast() throws {
    let recipe = Recipe(
      backend: AnalyticBackend(), settings: settings(budget: 300), journal: try journal())
    recipe.samplesPerSecond[32] = 10_000  // a probe's
    func entry(_ key: String, seconds: Double) -> JournalEntry {
      let steps = 100
      return JournalEntry(
        key: key, phase: .momentum, label: key,
        trial: TrialSettings(
          batchSize: 32, maxLearningRate: 0.1, weightDecay: 0, steps: steps, seed: 0),
        result: TrialResult(
          losses: Array(repeating: 1, count: steps), learningRates: [], momenta: [],
          evaluations: [], diverged: false, seconds: seconds),
        seconds: seconds)
    }
    recipe.record(entry("a", seconds: 1))  // 100 steps of 32 in 1 s: 3,200 samples/s
    #expect(recipe.samplesPerSecond[32] == 3200)
    recipe.record(entry("b", seconds: 0.5))  // 6,400
    recipe.record(entry("c", seconds: 3))  // slowed threefold: still 6,400
    #expect(recipe.samplesPerSecond[32] == 6400)
  }

  @Test func respectsTheBudget() throws {
    let backend = AnalyticBackend()
    let s = settings(budget: 300)
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    let outcome = try recipe.run()
    #expect(recipe.elapsed <= s.budget * 1.1, "used \(recipe.elapsed) of \(s.budget)")
    #expect(outcome.epochs.value >= 1)
    #expect(
      recipe.elapsed >= s.budget * 0.7, "left \(s.budget - recipe.elapsed) of \(s.budget) unused")
  }

  /// Many short epochs, evaluations that cost as much as an epoch, and a final run that
  /// slows to 1.6× once planned: the run evaluates at most `finalEvaluations` times, re-plans
  /// its epochs from what they really cost, and the recipe's clock ends within the budget.
  @Test func aSlowerFinalRunIsReplannedToEndWithinTheBudget() throws {
    let backend = AnalyticBackend()
    backend.evaluationSeconds = 0.16  // one epoch of 16 steps at 0.01 s
    backend.finalSlowdown = (after: 200, extraSeconds: 0.006)
    let s = settings(budget: 300)
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    var notes: [String] = []
    recipe.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try recipe.run()
    #expect(recipe.elapsed <= s.budget * 1.05, "used \(recipe.elapsed) of \(s.budget)")
    #expect(
      recipe.elapsed >= s.budget * 0.8, "left \(s.budget - recipe.elapsed) of \(s.budget) unused")
    #expect(outcome.epochs.value > 100)
    #expect(outcome.history.evaluations.count <= s.finalEvaluations + 1)
    #expect(notes.contains { $0.hasPrefix("final training re-planned to") }, "\(notes)")
    #expect(outcome.epochs.reason.contains("re-planned"))
  }

  /// Without re-planning the same run overshoots: the slowdown is what the test is about.
  @Test func withoutReplanningTheSlowerFinalRunOverruns() throws {
    let backend = AnalyticBackend()
    backend.evaluationSeconds = 0.16
    backend.finalSlowdown = (after: 200, extraSeconds: 0.006)
    var s = settings(budget: 300)
    s.finalReplans = []
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    _ = try recipe.run()
    #expect(recipe.elapsed > s.budget * 1.1, "used \(recipe.elapsed) of \(s.budget)")
  }

  /// A budget that cannot hold even the first range test and a final run as long as it says
  /// so before any work, with the smallest budget that would and the whole recipe's.
  @Test func aBudgetTooShortForTheRecipeNamesTheSmallestThatWould() throws {
    let backend = AnalyticBackend()
    backend.secondsPerStep = { _ in 0.2 }
    let recipe = Recipe(backend: backend, settings: settings(budget: 30), journal: try journal())
    do {
      _ = try recipe.run()
      Issue.record("a 30-second budget at 0.2 s per step ran")
    } catch let error as RecipeError {
      #expect(
        error.description.contains("cannot hold even the first LR range test"), "\(error)")
      #expect(error.description.contains("the smallest budget that would is about"), "\(error)")
      #expect(error.description.contains("the whole recipe"), "\(error)")
      let minimum = recipe.minimumBudget(studying: [])
      #expect(minimum > 30)
      // With that budget it runs.
      let enough = Recipe(
        backend: AnalyticBackend(), settings: settings(budget: (minimum / 10).rounded(.up) * 10),
        journal: try journal())
      (enough.backend as AnalyticBackend).secondsPerStep = { _ in 0.2 }
      _ = try enough.run()
    }
    #expect(recipe.journal.entries.isEmpty)
  }

  /// A program that takes none of the studied fields leaves nothing to give up: a budget too
  /// short for its first range test and final run is refused with the message, not a crash.
  @Test func aProgramWithNoStudiesAndTooShortABudgetIsRefused() throws {
    let backend = AnalyticBackend()
    backend.secondsPerStep = { _ in 0.2 }
    let recipe = Recipe(backend: backend, settings: settings(budget: 30), journal: try journal())
    recipe.program = ProgramFacts(
      honours: [], trainSamples: nil, ignores: ["batch_size", "momentum", "weight_decay"])
    #expect {
      try recipe.fitRangeTestsToBudget()
    } throws: { error in
      (error as? RecipeError)?.description.contains("cannot hold even the first LR range test")
        == true
    }
  }

  /// A recipe on a slow machine (0.2 s a step), for the budget tests.
  func slowRecipe(budget: Double) throws -> Recipe<AnalyticBackend> {
    let backend = AnalyticBackend()
    backend.secondsPerStep = { _ in 0.2 }
    return Recipe(backend: backend, settings: settings(budget: budget), journal: try journal())
  }

  /// A budget between what the first range test and a final run need and what the whole
  /// recipe needs runs with the studies it holds, kept in their order while they fit: the
  /// batch size, then momentum, then weight decay; each left-out phase takes its stated default
  /// with the reason naming the budget, and the tune ends within its budget.
  @Test func aBudgetTooShortForTheWholeRecipeKeepsTheBatchSizeStudyFirst() throws {
    // The thresholds, as the recipe computes them at this throughput.
    let probe = try slowRecipe(budget: 1e6)
    try probe.fitRangeTestsToBudget()
    #expect(probe.leftOut.isEmpty)
    let whole = probe.minimumBudget()
    let withoutWeightDecay = probe.minimumBudget(studying: [.batchSize, .momentum])
    let lrOnly = probe.minimumBudget(studying: [])
    #expect(lrOnly < withoutWeightDecay && withoutWeightDecay < whole)

    let budget = (withoutWeightDecay + whole) / 2
    let r = try slowRecipe(budget: budget)
    var notes: [String] = []
    r.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try r.run()
    #expect(Set(r.leftOut.keys) == [.weightDecay], "\(r.leftOut)")
    #expect(notes.contains { $0.contains("weight decay not studied: a budget of") }, "\(notes)")
    #expect(outcome.weightDecay.value == r.priorWeightDecay)
    #expect(outcome.weightDecay.reason.contains("not the weight decay study's 2 range tests"))
    #expect(r.journal.entries.contains { $0.phase == .batchSize && $0.trial != nil })
    #expect(r.journal.entries.contains { $0.phase == .momentum })
    #expect(!r.journal.entries.contains { $0.phase == .weightDecay })
    #expect(r.elapsed <= budget * 1.1, "used \(r.elapsed) of \(budget)")

    // A study that does not fit beside those before it is left out, and a later one that
    // does is kept: between what momentum alone and the batch-size study alone need.
    let momentumOnly = probe.minimumBudget(studying: [.momentum])
    let batchOnly = probe.minimumBudget(studying: [.batchSize])
    #expect(momentumOnly < batchOnly)
    let skipping = try slowRecipe(budget: (momentumOnly + batchOnly) / 2)
    _ = try skipping.run()
    #expect(skipping.leftOut[.batchSize] != nil && skipping.leftOut[.momentum] == nil)
    #expect(skipping.journal.entries.contains { $0.phase == .momentum })

    // Below what the cheapest study needs: only the LR range test and the final run, every
    // other choice a stated default.
    let cheapest = [.batchSize, .momentum, .weightDecay].map {
      probe.minimumBudget(studying: [$0])
    }.min()!
    let least = try slowRecipe(budget: (lrOnly + cheapest) / 2)
    let o = try least.run()
    #expect(Set(least.leftOut.keys) == [.batchSize, .momentum, .weightDecay])
    #expect(least.journal.entries.map(\.phase) == [.learningRate])
    #expect(o.maxMomentum.reason.contains("not studied: a budget of"))
    #expect(o.weightDecay.value == least.priorWeightDecay)
    #expect(o.weightDecay.reason.contains("not the weight decay study's 2 range tests and"))
    #expect(least.elapsed <= least.settings.budget * 1.1)
    #expect(o.test.loss.isFinite)
  }

  /// Where the budget leaves a study out, the tuning takes what the studies kept need at their
  /// smallest, not the whole share: the rest goes to the final run instead of to longer trials.
  @Test func aLeftOutStudysShareGoesToTheFinalRun() throws {
    let probe = try slowRecipe(budget: 1e6)
    try probe.fitRangeTestsToBudget()
    let kept = probe.minimumBudget(studying: [.batchSize, .momentum])
    let whole = probe.minimumBudget()
    let budget = kept + 0.75 * (whole - kept)
    let r = try slowRecipe(budget: budget)
    let outcome = try r.run()
    #expect(Set(r.leftOut.keys) == [.weightDecay], "\(r.leftOut)")
    let share = budget * (1 - r.settings.finalShare)
    #expect(r.tuningShare < 0.8 * share, "a share of \(r.tuningShare) s of \(share)")
    // The journal holds the tuning's work (the final run keeps its own record).
    let tuning = r.journal.entries.map(\.seconds).reduce(0, +)
    #expect(tuning <= r.tuningShare * 1.05, "tuning \(tuning) s of a \(r.tuningShare) s share")
    #expect(r.journal.entries.contains { $0.phase == .batchSize })
    #expect(r.journal.entries.contains { $0.phase == .momentum })
    for entry in r.journal.entries where entry.trial != nil && entry.phase != .learningRate {
      #expect(entry.trial!.steps >= r.settings.minimumTrialSteps)
    }
    #expect(r.elapsed <= budget * 1.1, "used \(r.elapsed) of \(budget)")
    #expect(outcome.epochs.reason.contains("remaining"))
  }

  /// A batch size whose trial of equal wall time would have fewer steps than can separate
  /// anything is neither swept nor tried, and the choice's reason says so.
  @Test func batchSizesWhoseTrialsWouldBeTooShortAreNotTried() throws {
    let backend = AnalyticBackend()
    backend.secondsPerStep = { b in 0.0005 * Double(b) }
    var s = settings(budget: 400)
    s.batchSizes = [16, 32, 64, 256]
    s.minimumTrialSteps = 80
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    var notes: [String] = []
    recipe.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try recipe.run()
    let tried = Set(
      recipe.journal.entries.compactMap { $0.phase == .batchSize ? $0.trial?.batchSize : nil })
    let swept = recipe.journal.entries.filter { $0.phase == .batchSize && $0.rangeTest != nil }
    #expect(tried == [16, 32, 64], "\(tried)")
    #expect(swept.count == 3)
    #expect(
      notes.contains { $0.hasPrefix("batch 256 not tried: its trials of") }, "\(notes)")
    #expect(outcome.batchSize.reason.contains("fewer than the 80 that can separate anything"))
    for entry in recipe.journal.entries where entry.phase == .batchSize {
      if let steps = entry.trial?.steps { #expect(steps >= 80) }
    }
  }

  /// 8 full sweeps of 150 steps at 0.015 s (27 s with their validation) would overfill the
  /// 40% of the 36-second tuning share of a 90-second budget that range tests may take: the
  /// regularization study's two go first. Without it, a 60-second budget leaves the weight-decay
  /// study out and keeps the sweeps at full length beside the batch-size and momentum trials
  /// (a short first sweep reads the learning rate low); only a budget that holds no study at
  /// all shortens them.
  @Test(arguments: [([0, 0.5], 90), ([0], 60), ([0], 6)] as [([Double], Double)])
  func shortBudgetsDropTheRegularizationStudyThenShortenTheRangeTests(
    dropouts: [Double], budget: Double
  ) throws {
    let backend = AnalyticBackend()
    backend.secondsPerStep = { _ in 0.015 }
    var s = settings(budget: budget)
    s.dropouts = dropouts
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    var notes: [String] = []
    recipe.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try recipe.run()
    #expect(recipe.elapsed <= s.budget * 1.1, "used \(recipe.elapsed) of \(s.budget)")
    #expect(!recipe.studiesRegularization)
    let studied = Set(recipe.journal.entries.filter { $0.trial != nil }.map(\.phase))
    if dropouts.count > 1 {
      #expect(notes.contains { $0.hasPrefix("no regularization study") }, "\(notes)")
      #expect(!recipe.journal.entries.contains { $0.phase == .dropout })
    } else if budget == 60 {
      #expect(studied == [.batchSize, .momentum], "\(studied)")
      #expect(recipe.rangeTestSteps == s.rangeTestSteps)
      #expect(!notes.contains { $0.contains("range tests shortened") }, "\(notes)")
    } else {
      #expect(studied.isEmpty, "\(studied)")
      #expect(
        recipe.rangeTestSteps < s.rangeTestSteps
          && recipe.rangeTestSteps >= s.minimumRangeTestSteps)
      #expect(
        notes.contains { $0.contains("range tests shortened to \(recipe.rangeTestSteps) steps") })
    }
    #expect(outcome.test.loss < 0.1)
  }

  @Test func budgetsTooShortForTheRegularizationStudySkipIt() throws {
    let backend = AnalyticBackend()
    backend.secondsPerStep = { _ in 0.04 }
    var s = settings(budget: 80)
    s.dropouts = [0, 0.25, 0.5]
    let recipe = Recipe(backend: backend, settings: s, journal: try journal())
    var notes: [String] = []
    recipe.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try recipe.run()
    #expect(recipe.elapsed <= s.budget * 1.1, "used \(recipe.elapsed) of \(s.budget)")
    #expect(!recipe.studiesRegularization)
    #expect(notes.contains { $0.contains("no regularization study") })
    #expect(outcome.dropout.value == 0 && outcome.dropout.reason.contains("no room"))
    #expect(!recipe.journal.entries.contains { $0.phase == .dropout })
  }

  @Test func longBudgetsKeepTheRangeTestSteps() throws {
    let recipe = Recipe(
      backend: AnalyticBackend(), settings: settings(budget: 600), journal: try journal())
    try recipe.fitRangeTestsToBudget()
    #expect(recipe.rangeTestSteps == 150)
  }

  @Test func resumeContinuesTheFinalRunFromItsLastEpoch() throws {
    let reference = try Recipe(
      backend: AnalyticBackend(), settings: settings(), journal: try journal()
    ).run()
    #expect(reference.epochs.value >= 3)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    let store = AnalyticBackend.FinalStore()
    let first = AnalyticBackend()
    first.finalStore = store
    let killed = Recipe(backend: first, settings: settings(), journal: try journal(at: url))
    killed.shouldStop = { store.saves >= 2 }  // stopped after the second save, mid-run
    #expect(throws: Recipe<AnalyticBackend>.Interrupted.self) { try killed.run() }
    let savedEpochs = try #require(store.saved?.state.stepsTaken) / reference.stepsPerEpoch
    #expect(savedEpochs > 1 && savedEpochs < reference.epochs.value)
    let second = AnalyticBackend()
    second.finalStore = store
    let resumed = Recipe(
      backend: second, settings: settings(), journal: try journal(resume: true, at: url))
    var notes: [String] = []
    resumed.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try resumed.run()
    #expect(
      notes.contains(
        "continuing the final training after epoch \(savedEpochs) of \(reference.epochs.value)"))
    #expect(second.sessionsMade == 1)
    #expect(outcome.epochs == reference.epochs)
    #expect(outcome.history == reference.history)
    #expect(outcome.test == reference.test)
    #expect(store.saved == nil)
  }

  @Test func aFinalStateFromOtherChoicesIsNotContinued() throws {
    let store = AnalyticBackend.FinalStore()
    let backend = AnalyticBackend()
    let other = AnalyticBackend()
    backend.finalStore = store
    // Both backends' clocks advance by the same 50 steps, so the two recipes plan alike.
    let session = try backend.makeSession(batchSize: 32, regularization: Regularization(), seed: 0)
    let unused = try other.makeSession(batchSize: 32, regularization: Regularization(), seed: 0)
    for _ in 0..<50 {
      _ = session.step(HyperParameters(learningRate: 0.5, momentum: 0.9, weightDecay: 0))
      _ = unused.step(HyperParameters(learningRate: 0.5, momentum: 0.9, weightDecay: 0))
    }
    let stale = FinalRunRecord(
      plan: .init(
        batchSize: 999, maxLearningRate: 1, maxMomentum: 0.9, minMomentum: 0.85, weightDecay: 0,
        regularization: Regularization()), epochs: 1, epochsReason: "stale",
      history: TrainingHistory(), seconds: 500)
    store.saved = (session.snapshot(), stale)
    let reference = try Recipe(backend: other, settings: settings(), journal: try journal()).run()
    let outcome = try Recipe(backend: backend, settings: settings(), journal: try journal()).run()
    #expect(outcome.epochs == reference.epochs)
    #expect(
      outcome.history.steps.count == reference.history.steps.count
        && outcome.history == reference.history)
  }

  @Test func resumeReusesEveryFinishedTrial() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    let first = AnalyticBackend()
    let a = try Recipe(backend: first, settings: settings(), journal: try journal(at: url)).run()
    let lines = try String(contentsOf: url, encoding: .utf8)
    // Simulate a kill mid-write: a partial last line.
    let handle = try FileHandle(forWritingTo: url)
    try handle.seekToEnd()
    try handle.write(contentsOf: Data("{\"key\":\"weight-dec".utf8))
    try handle.close()

    let second = AnalyticBackend()
    let resumed = try journal(resume: true, at: url)
    #expect(resumed.entries.count == lines.split(separator: "\n").count - 1)
    let b = try Recipe(backend: second, settings: settings(), journal: resumed).run()
    // Only the final session is new; every choice is the same.
    #expect(second.sessionsMade == 1)
    #expect(
      a.batchSize == b.batchSize && a.maxMomentum == b.maxMomentum && a.weightDecay == b.weightDecay
    )
    #expect(a.maxLearningRate == b.maxLearningRate)
    // The earlier lines are untouched.
    #expect(try String(contentsOf: url, encoding: .utf8).hasPrefix(lines))
  }

  @Test func aJournalFromOtherSettingsIsRefused() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    _ = try journal(["model": "cnn"], at: url)
    #expect(throws: JournalError.self) { try journal(["model": "mlp"], resume: true, at: url) }
    do {
      _ = try journal(["model": "mlp"], resume: true, at: url)
    } catch {
      #expect("\(error)".contains("model was cnn, now mlp"))
    }
  }

  @Test func diagnosisReadsTheCurve() {
    func history(_ losses: [Double]) -> TrainingHistory {
      var h = TrainingHistory()
      h.evaluations = losses.enumerated().map {
        EvaluationRecord(step: $0.offset, epoch: Double($0.offset), loss: $0.element, accuracy: 0)
      }
      return h
    }
    #expect(
      Diagnosis(history: history([1, 0.8, 0.6, 0.5, 0.4, 0.3]), stepsPerEpoch: 1).verdict
        == .underfitting)
    #expect(
      Diagnosis(history: history([1, 0.6, 0.4, 0.35, 0.4, 0.45]), stepsPerEpoch: 1).verdict
        == .overfitting)
    #expect(
      Diagnosis(history: history([1, 0.6, 0.4, 0.35, 0.349, 0.348]), stepsPerEpoch: 1).verdict
        == .onTarget)
  }
}
