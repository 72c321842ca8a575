import Foundation
import RangeTests
import Schedules
import Sessions
import TrialProtocol

/// Smith's recipe, phase by phase, over a backend; each finished piece of work goes to the
/// journal, and work found in the journal is reused instead of repeated.
public final class Recipe<Backend: TuningBackend> {
  public let backend: Backend
  public let settings: RecipeSettings
  public let journal: Journal
  public var onEvent: ((TuneEvent) -> Void)?
  public var shouldStop: () -> Bool = { false }
  /// Seconds spent before this process started (the journaled work of a resumed run).
  private let spentBefore: Double
  /// Measured training throughput, samples per second, per batch size.
  public internal(set) var samplesPerSecond: [Int: Double] = [:]
  /// The batch sizes whose throughput a trial measured (`record`).
  var trialRates: Set<Int> = []
  /// What a run of the user's program costs outside training (its start, a validation pass),
  /// measured from its runs; planned for every range test and trial.
  public internal(set) var costs = RunCosts()
  /// The longest a run took to start training (the user's program: interpreter, imports, data).
  public var startupSeconds: Double { costs.startupSeconds }
  /// What the program said about itself in its `start` events (the trials' training split).
  public internal(set) var program: ProgramFacts?
  /// The training samples of the program's final run (its `start` event's, from the check
  /// before the tuning): the trials' split and the validation data together.
  var finalTrainSamples: Int?
  /// Hyper-parameters beyond the recipe's own that added steps chose so far (`choose`): every
  /// spec made from now on carries their values, and the outcome lists them.
  public internal(set) var others: [NamedChoice] = []
  /// The regularization of the sessions made from now on: the prior until the studies choose.
  public internal(set) var regularization: Regularization
  /// Steps of the first range test: `settings.rangeTestSteps`, or fewer after
  /// `fitRangeTestsToBudget()` finds the budget too short for them.
  public internal(set) var rangeTestSteps: Int
  /// How far trials differ by chance: repeats under another seed, one per trial phase so far.
  public internal(set) var noise = NoiseEstimate()
  /// Whether the regularization phase runs: there are candidates to study, and (after
  /// `fitRangeTestsToBudget()`) the budget has room for their range tests.
  public internal(set) var studiesRegularization: Bool
  /// The studies a budget too short for the whole recipe left out, each with its reason
  /// (`fitStudiesToBudget()`): their phases take the stated defaults.
  public internal(set) var leftOut: [Phase: String] = [:]
  /// Where studies were left out: the seconds the tuning needs for those kept at their
  /// smallest, the time already spent included (`tuningShare`).
  var keptStudiesSeconds: Double?

  public init(backend: Backend, settings: RecipeSettings, journal: Journal) {
    self.backend = backend
    self.settings = settings
    self.journal = journal
    spentBefore = journal.entries.map(\.seconds).reduce(0, +)
    regularization = settings.regularization
    rangeTestSteps = settings.rangeTestSteps
    studiesRegularization = settings.dropouts.count >= 2 || settings.augmentations.count >= 2
  }

  /// Seconds of the budget used so far (including a resumed run's earlier work).
  /// The backend's clock starts with the process, so loading the data counts too.
  public var elapsed: Double { spentBefore + finalSecondsBefore + backend.now() }
  /// Seconds of a resumed final run spent before this process started.
  var finalSecondsBefore = 0.0

  public struct Interrupted: Error {}

  // MARK: - Pieces of work

  /// Records a step's choice of a hyper-parameter beyond the recipe's own (a phase added in its
  /// own file): later specs carry its value under `hyperparameters`, and the outcome, the final
  /// run's plan and hyperparameters.json list it under `name`.
  public func choose(_ name: String, _ choice: Choice<HyperValue>) {
    others.removeAll { $0.name == name }
    others.append(NamedChoice(name, choice))
  }

  /// Hands jobs to the backend's runner, each spec with the backend's engine section and in
  /// its folder (`directory(for:)`), and stopping when the recipe is stopped. Every event is
  /// seen here first: a program's `start` says what it honours and how large its split is.
  func run(_ jobs: [TrialJob]) throws -> [TrialRunResult] {
    try backend.runner.runAll(
      jobs.map { job in
        var job = job
        if job.spec.engineSection == nil { job.spec.engineSection = backend.engineSection }
        if job.directory == nil { job.directory = directory(for: job.spec) }
        // The values chosen so far, under what the job sets itself (a trial of the phase that
        // is choosing one).
        job.spec.hyperparameters.merge(others.values) { own, _ in own }
        let observe = job.observe
        let final = job.spec.final
        job.observe = { [weak self] event in
          if let self, case .start(_, var facts, _) = event {
            // A final run trains on the training and validation data: its epoch is its own.
            if final {
              self.finalTrainSamples = facts.trainSamples ?? self.finalTrainSamples
              facts.trainSamples = nil
            }
            facts.trainSamples = facts.trainSamples ?? self.program?.trainSamples
            self.program = facts
          }
          return observe(event)
        }
        return job
      }, shouldStop: shouldStop)
  }

  /// Runs one spec in its folder, as `run(_:)` runs jobs.
  func run(_ spec: TrialSpec, observe: @escaping (TrialEvent) -> TrialDecision) throws
    -> TrialRunResult
  {
    try run([TrialJob(spec: spec, directory: directory(for: spec), observe: observe)])[0]
  }

  /// Where a spec's files go: a folder named after its key under the backend's trials
  /// directory, or nowhere.
  func directory(for spec: TrialSpec) -> URL? {
    backend.trialsDirectory?.appendingPathComponent(TrialSpec.directoryName(for: spec.key))
  }

  /// Learns throughput, the cost of starting a run, and what the program honours from
  /// finished work. A batch size's throughput is the fastest its trials ran (a probe's is
  /// replaced by the first trial's, which runs as the rest will): one trial slowed
  /// by other work on the machine must not plan the final run short (any final run is
  /// re-planned shorter when it runs slower; only an extendable one longer). A Lightning tune
  /// whose trials ran at a third of their speed beside other work planned a 2-epoch final run
  /// and ended at 7:08 of its 10 minutes.
  func record(_ entry: JournalEntry) {
    if let facts = entry.program { program = facts }
    if let t = entry.trial, let r = entry.result, r.stepsPerSecond > 0 {
      let rate = r.stepsPerSecond * Double(t.batchSize)
      let fastest = trialRates.contains(t.batchSize) ? samplesPerSecond[t.batchSize] ?? 0 : 0
      samplesPerSecond[t.batchSize] = max(rate, fastest)
      trialRates.insert(t.batchSize)
      costs.record(
        startup: r.startupSeconds, evaluationSeconds: r.evaluationSeconds,
        passes: r.evaluations.count)
    }
    if let c = entry.rangeTest {
      for s in c.conditions {
        guard let b = s.condition.batchSize else { continue }
        let steps = s.runs.map(\.points.count).reduce(0, +)
        let seconds = s.runs.map { $0.seconds - $0.evaluationSeconds - ($0.startupSeconds ?? 0) }
          .reduce(0, +)
        if seconds > 0 && samplesPerSecond[b] == nil {
          samplesPerSecond[b] = Double(steps * b) / seconds
        }
        for run in s.runs {
          costs.record(
            startup: run.startupSeconds, evaluationSeconds: run.evaluationSeconds,
            passes: run.points.filter { $0.validationLoss != nil }.count)
        }
      }
    }
  }

  /// Measures training throughput at a batch size with a few steps on a throw-away run,
  /// unless already known: the backend's own measurement, or a 30-step spec run timed by the
  /// program's clock.
  public func measureThroughput(batchSize b: Int) throws {
    guard samplesPerSecond[b] == nil else { return }
    if let rate = try backend.measureThroughput(
      batchSize: b, regularization: regularization, seed: settings.seed)
    {
      samplesPerSecond[b] = rate
      return
    }
    // A program: 30 steps at a tiny learning rate, timed by its own clock after the first
    // (which builds what a first step builds); its start-up and one validation pass (as the
    // trials ask for it) are measured too, so the plan knows what every run costs.
    let rows = Array(repeating: TrialSpec.Row(learningRate: 1e-6, momentum: 0.9), count: 30)
    let spec = TrialSpec(
      kind: .trial, key: "throughput/\(b)", batchSize: b, seed: settings.seed, weightDecay: 0,
      dropout: regularization.dropout, augmentation: regularization.augmentation, schedule: rows,
      validateAt: [rows.count], validationBatches: settings.validationBatches)
    var times: [Double] = []
    let run = try run(spec) { event in
      if case .train(_, _, _, let t) = event { times.append(t) }
      return .proceed
    }
    if run.status == .interrupted { throw Interrupted() }
    guard run.status != .failed else {
      throw RecipeError(
        description:
          "the throughput probe (\(spec.key)) failed: \(run.message ?? "no reason given")")
    }
    costs.record(
      startup: run.startupSeconds, evaluationSeconds: run.evaluationSeconds,
      passes: run.validations.count)
    if let pass = costs.evaluationPassSeconds, pass > 1 {
      onEvent?(
        .note(
          String(
            format:
              "your program takes %.1f s to start and %.1f s per validation pass: trials evaluate fewer times, and the plan counts both",
            startupSeconds, pass)))
    }
    if times.count >= 3, times.last! > times[1] {
      samplesPerSecond[b] = Double((times.count - 2) * b) / (times.last! - times[1])
    }
    try checkFinalRun(batchSize: b)
  }

  /// A program's final run must end with a `test` event: one step of a final spec finds out
  /// now, not after the budget is spent (a program that never measures the test split).
  func checkFinalRun(batchSize b: Int) throws {
    var spec = TrialSpec(
      kind: .final, key: "check/final", batchSize: b, seed: settings.seed, weightDecay: 0,
      dropout: regularization.dropout, augmentation: regularization.augmentation,
      schedule: [TrialSpec.Row(learningRate: 1e-6, momentum: 0.9)], validateAt: [],
      validationBatches: nil)
    let run = try run(spec) { _ in .proceed }
    if run.status == .interrupted { throw Interrupted() }
    guard run.status != .failed else {
      throw RecipeError(
        description:
          "the final-run check (\(spec.key): one step of a spec with \"final\": true) failed: \(run.message ?? "no reason given")"
      )
    }
    guard run.test != nil else {
      throw RecipeError(
        description:
          "your program reported no \"test\" event in a one-step final run (\(spec.key)): with \"final\": true in the spec it must measure the test split after the last step (Docs/PROTOCOL.md), or the final run would fail after the whole budget"
      )
    }
  }

  /// Throughput at a batch size: measured, or interpolated from the nearest measured one.
  public func throughput(_ b: Int) -> Double {
    if let s = samplesPerSecond[b] { return s }
    let nearest = samplesPerSecond.keys.min {
      abs(log(Double($0) / Double(b))) < abs(log(Double($1) / Double(b)))
    }
    return nearest.flatMap { samplesPerSecond[$0] } ?? 1000
  }

  /// A range test's settings; `start`: its first learning rate (nil: the sweep's default),
  /// for later range tests the first one's `laterStart(after:)`.
  func rangeSettings(
    steps: Int, weightDecay: Double, momentum: Double, validate: Bool, start: Double?
  ) -> RangeTestSettings {
    var s = RangeTestSettings()
    if let start { s.startLearningRate = start }
    s.steps = steps
    s.weightDecay = weightDecay
    s.momentum = momentum
    s.minimumMomentum = momentum
    if validate {
      let training = Double(steps * settings.startBatchSize) / throughput(settings.startBatchSize)
      s.validateEvery = max(
        1, steps / costs.rangeTestValidations(trainingSeconds: training, limit: 10))
      s.validationBatches = settings.validationBatches.map { max(1, $0 - 1) }
    }
    return s
  }

  // MARK: - The recipe

  /// Runs every phase and the final training.
  /// The steps it runs, in order (`recipeSteps`; a test may add its own).
  public var steps: [any RecipeStep] = recipeSteps
  /// The steps progress counts as phases of this recipe.
  public var countedSteps: [any RecipeStep] { steps.filter { $0.counts(in: self) } }

  public func run() throws -> TuneOutcome {
    try fitRangeTestsToBudget()
    let phases = countedSteps.count + 1
    var findings = Findings()
    var index = 0
    for step in steps {
      if step.counts(in: self) {
        index += 1
        onEvent?(.phase(name: step.title, index: index, of: phases))
      }
      try step.run(self, &findings)
    }
    let final = "final training"
    let batch = try findings.required(\.batch, by: final, from: "batch size")
    let momentum = try findings.required(\.momentum, by: final, from: "momentum")
    let wd = try findings.required(\.weightDecay, by: final, from: "weight decay")
    let regularizationChoice = try findings.required(
      \.regularization, by: final, from: "regularization")
    var maxLR = wd.maxLearningRate
    let b = batch.batchSize.value
    if let raw = batch.readings[b], let used = batch.monotoneReadings[b],
      abs(raw - used) > 1e-12 * raw
    {
      let all = batch.readings.keys.sorted().map { "\($0): \(Self.formatLR(batch.readings[$0]!))" }
        .joined(separator: ", ")
      maxLR.reason +=
        "; the batch-size range test at \(b) read \(Self.formatLR(raw)), taken as \(Self.formatLR(used)) to keep the readings monotone in the batch size, as larger batches tolerate larger rates (readings within the range tests' noise of each other are pooled, one lower than a smaller batch's by more is raised to it; readings \(all))"
    }
    if let n = batch.rangeTestNoise, let r = n.learningRateRatio {
      maxLR.reason += String(
        format: "; a single reading is good to about %.1f×: %@ swept twice read %@ and %@", r,
        n.label, Self.formatLR(n.maximumLearningRates[0]),
        Self.formatLR(n.maximumLearningRates[1]))
    }
    let chosen = TunedHyperParameters(
      maxLearningRate: maxLR,
      minLearningRate: Choice(
        maxLR.value / settings.divFactor,
        "one-cycle starts at max/\(Self.format(settings.divFactor))"),
      batchSize: batch.batchSize, maxMomentum: momentum.max, minMomentum: momentum.min,
      weightDecay: wd.weightDecay, dropout: regularizationChoice.dropout,
      augmentation: regularizationChoice.augmentation, others: others)

    // Final training for the rest of the budget.
    onEvent?(.phase(name: final, index: phases, of: phases))
    let plan = chosen.plan
    let policy = Policy.oneCycle(
      OneCycle(
        variant: .pytorch, maxLearningRate: maxLR.value, divFactor: settings.divFactor,
        cycleMomentum: true, baseMomentum: momentum.min.value, maxMomentum: momentum.max.value))
    let trained: FinalTrainingOutcome
    if let sessions = backend as? any SessionBackend {
      trained = try finalTraining(sessions, plan, policy: policy)
    } else {
      trained = try specFinalTraining(plan, policy: policy)
    }
    let diagnosis = Diagnosis(
      history: trained.history, stepsPerEpoch: trained.stepsPerEpoch,
      plannedSteps: trained.plannedSteps, budgetAdvice: budgetAdvice(trained))
    return TuneOutcome(
      chosen: chosen, epochs: trained.epochs, policy: policy, history: trained.history,
      test: trained.test, diagnosis: diagnosis, seconds: elapsed,
      stepsPerEpoch: trained.stepsPerEpoch, noise: noise, rangeTestNoise: batch.rangeTestNoise)
  }
}

extension Recipe {
  /// What budget would give the final run enough epochs at this machine's pace: the tuning as
  /// it ran, and a final run of its first plan (at least 5 epochs), with the final run's share.
  func budgetAdvice(_ trained: FinalTrainingOutcome) -> String? {
    let steps = trained.history.steps.count
    guard steps > 0, trained.seconds > 0 else { return nil }
    let epochSeconds = trained.seconds / Double(steps) * Double(trained.stepsPerEpoch)
    let plannedEpochs = Double(trained.plannedSteps) / Double(max(1, trained.stepsPerEpoch))
    let epochs = max(5, plannedEpochs.rounded(.up))
    let tuning = max(0, elapsed - trained.seconds)
    let needed = max(tuning + epochs * epochSeconds, epochs * epochSeconds / settings.finalShare)
    return String(
      format:
        "an epoch of the final run takes %.2g s here; about --budget %.0fm gives it %.0f epochs",
      epochSeconds, (1.1 * needed / 60).rounded(.up), epochs)
  }
}
