import Foundation
import Schedules
import Sessions

/// What the final run was started with and how far it got, saved with its session's state
/// after every epoch so `--resume` continues it instead of starting over.
public struct FinalRunRecord: Codable, Sendable, Equatable {
  /// The choices the run trains with; a resumed recipe continues the run only if it made the
  /// same ones.
  public struct Plan: Codable, Sendable, Equatable {
    public var batchSize: Int
    public var maxLearningRate: Double
    public var maxMomentum: Double
    public var minMomentum: Double
    public var weightDecay: Double
    public var regularization: Regularization
  }
  public var plan: Plan
  public var epochs: Int
  /// The reason given for the number of epochs when the run started.
  public var epochsReason: String
  public var history: TrainingHistory
  /// Seconds the final run had taken when saved (they count against the budget).
  public var seconds: Double
}

/// The knobs of Smith's recipe.
public struct RecipeSettings: Codable, Sendable, Equatable {
  /// Wall-clock budget of the whole recipe, in seconds.
  public var budget: Double
  public var seed: UInt64 = 0
  /// The batch size of the first LR range test.
  public var startBatchSize = 128
  /// Candidates for the batch-size study (ascending).
  public var batchSizes: [Int] = [64, 128, 256, 512]
  /// Skip batch sizes whose measured or extrapolated memory exceeds this many MiB.
  public var maxMemory: Double = 4096
  public var momenta: [Double] = [0.99, 0.97, 0.95, 0.9]
  /// The momentum the cycle falls to (the first), and an alternative tried once (the second).
  public var minMomenta: [Double] = [0.85, 0.8]
  public var weightDecays: [Double] = [1e-3, 1e-4, 1e-5, 0]
  /// Weight decay used before the weight-decay study has chosen one.
  public var priorWeightDecay = 5e-4
  /// Dropout and augmentation of every trial before the regularization study, and of the
  /// final run where there is no study.
  public var regularization = Regularization()
  /// Candidates of the dropout study (METHOD §5: dropout is regularization to balance with the
  /// others), weakest first; fewer than two skip it.
  public var dropouts: [Double] = []
  /// Candidates of the augmentation study, weakest first; fewer than two skip it.
  public var augmentations: [String] = []
  /// Settings whose lowest validation loss in their LR range test is within this fraction of
  /// the lowest count as equally good; of those, the strongest is chosen.
  public var regularizationTolerance = 0.1
  /// The same for augmentations, wider: augmentation slows early learning by design, so a
  /// range test overstates its cost. On Fashion-MNIST flips cost 17–26% of the range test's
  /// lowest validation loss, yet gained 0.1–0.3 points of test accuracy in every paired run of
  /// 20–26 epochs (92.54% against 92.29%; 92.44% against 92.37%; 92.73% with dropout 0.25 at
  /// 26 epochs). One that costs more than half of it is taken to fight the data.
  public var augmentationTolerance = 0.5
  /// One-cycle starts at max/`divFactor` (the suggested minimum learning rate).
  public var divFactor = 10.0
  /// Share of the budget kept for the final training. With regularization the final run
  /// keeps gaining from epochs (on Fashion-MNIST, flips and dropout 0.25: 92.44% after 20
  /// epochs, 92.73% after 26), more than the trials gain from the last few seconds each.
  public var finalShare = 0.6
  /// The final run evaluates at most this many times (after every epoch when it has fewer).
  public var finalEvaluations = 40
  /// Fractions of the final run's steps after which it measures what an epoch really costs
  /// and re-plans its epochs to end within the budget. The first falls in one-cycle's warm-up,
  /// where a changed length barely moves the learning rate; after the warm-up a re-plan only
  /// shortens (a longer run would raise the annealing learning rate again).
  public var finalReplans = [0.1, 0.3, 0.6]
  /// Validation measurements per trial, and the batches each reads.
  public var trialEvaluations = 3
  public var validationBatches: Int? = 3
  /// Steps of the first range test (others scale to the same number of samples); fewer when
  /// the range tests would take more than `rangeTestShare` of the tuning time.
  public var rangeTestSteps = 200
  /// The share of the tuning time (the budget less the final share) the range tests may take.
  public var rangeTestShare = 0.4
  /// The fewest steps of a range test, however short the budget: fewer cannot be read.
  public var minimumRangeTestSteps = 60
  /// Weight decays whose early validation loss is within this fraction of the lowest count as
  /// equally good, and the largest of them is chosen.
  public var weightDecayTolerance = 0.0
  /// Training seconds of each short trial; nil divides the tuning share of the budget.
  public var trialSeconds: Double?
  /// A trial is "stable" when its validation loss is within this fraction of the best.
  public var stabilityTolerance = 0.02

  public init(budget: Double) { self.budget = budget }
}

/// Progress as the recipe goes.
public enum TuneEvent {
  case phase(name: String, index: Int, of: Int)
  /// Work starting: a key, a label, its steps, and seconds estimated.
  case started(key: String, label: String, steps: Int)
  case step(Int, loss: Double)
  case finished(JournalEntry, reused: Bool)
  case note(String)
  /// The final training starts: its batch size and epochs.
  case finalStarted(batchSize: Int, epochs: Int)
  case finalEpoch(TrainingEvent)
}

/// A choice and its one-line reason.
public struct Choice<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
  public var value: Value
  public var reason: String
  public init(_ value: Value, _ reason: String) {
    self.value = value
    self.reason = reason
  }
}

/// Everything the recipe chose, and the final run.
public struct TuneOutcome: Codable, Sendable {
  public var maxLearningRate: Choice<Double>
  public var minLearningRate: Choice<Double>
  public var batchSize: Choice<Int>
  public var maxMomentum: Choice<Double>
  public var minMomentum: Choice<Double>
  public var weightDecay: Choice<Double>
  public var dropout: Choice<Double>
  public var augmentation: Choice<String>
  public var epochs: Choice<Int>
  public var policy: Policy
  public var history: TrainingHistory
  public var test: Evaluation
  public var diagnosis: Diagnosis
  public var seconds: Double
  public var stepsPerEpoch: Int
}

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
  public private(set) var samplesPerSecond: [Int: Double] = [:]
  /// The longest a run took to start training (the user's program: interpreter, imports,
  /// data); planned for every trial.
  public private(set) var startupSeconds = 0.0
  /// What the program said about itself in its `start` events.
  public private(set) var program: ProgramFacts?
  /// The regularization of the sessions made from now on: the prior until the studies choose.
  public private(set) var regularization: Regularization
  /// Steps of the first range test: `settings.rangeTestSteps`, or fewer after
  /// `fitRangeTestsToBudget()` finds the budget too short for them.
  public private(set) var rangeTestSteps: Int
  /// Whether the regularization phase runs: there are candidates to study, and (after
  /// `fitRangeTestsToBudget()`) the budget has room for their range tests.
  public private(set) var studiesRegularization: Bool

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

  /// The backend as a runner; it tells the recipe what each program said about itself.
  var runner: BackendRunner<Backend> {
    BackendRunner(backend: backend, shouldStop: shouldStop) { [weak self] event in
      guard let self, case .start(_, let honours, let samples, _) = event else { return }
      self.program = ProgramFacts(honours: honours, trainSamples: samples ?? self.program?.trainSamples)
    }
  }

  /// Where a spec's files go: a folder named after its key under the backend's trials
  /// directory, or nowhere.
  func directory(for spec: TrialSpec) -> URL? {
    backend.trialsDirectory?.appendingPathComponent(TrialSpec.directoryName(for: spec.key))
  }

  /// Learns throughput, the cost of starting a run, and what the program honours from
  /// finished work.
  func record(_ entry: JournalEntry) {
    if let facts = entry.program { program = facts }
    if let t = entry.trial, let r = entry.result, r.stepsPerSecond > 0 {
      samplesPerSecond[t.batchSize] = r.stepsPerSecond * Double(t.batchSize)
      startupSeconds = max(startupSeconds, r.startupSeconds ?? 0)
    }
    if let c = entry.rangeTest {
      for s in c.conditions {
        guard let b = s.condition.batchSize else { continue }
        let steps = s.runs.map(\.points.count).reduce(0, +)
        let seconds = s.runs.map { $0.seconds - $0.evaluationSeconds - ($0.startupSeconds ?? 0) }.reduce(0, +)
        if seconds > 0 && samplesPerSecond[b] == nil { samplesPerSecond[b] = Double(steps * b) / seconds }
        for run in s.runs { startupSeconds = max(startupSeconds, run.startupSeconds ?? 0) }
      }
    }
  }

  /// Measures training throughput at a batch size with a few steps on a throw-away run,
  /// unless already known: the backend's own measurement, or a 30-step spec run timed by the
  /// program's clock.
  public func measureThroughput(batchSize b: Int) throws {
    guard samplesPerSecond[b] == nil else { return }
    if let rate = try backend.measureThroughput(batchSize: b, regularization: regularization, seed: settings.seed) {
      samplesPerSecond[b] = rate
      return
    }
    // A program: 30 steps at a tiny learning rate, timed by its own clock after the first
    // (which builds what a first step builds); its start-up is measured too.
    let rows = Array(repeating: TrialSpec.Row(learningRate: 1e-6, momentum: 0.9), count: 30)
    let spec = TrialSpec(kind: .trial, key: "throughput/\(b)", batchSize: b, seed: settings.seed, weightDecay: 0,
      dropout: regularization.dropout, augmentation: regularization.augmentation, schedule: rows, validateAt: [], validationBatches: nil)
    var times: [Double] = []
    let run = try runner.run(spec, directory: directory(for: spec)) { event in
      if case .train(_, _, _, let t) = event { times.append(t) }
      return .proceed
    }
    if run.status == .interrupted { throw Interrupted() }
    guard run.status != .failed else {
      throw RecipeError(description: "the throughput probe (\(spec.key)) failed: \(run.message ?? "no reason given")")
    }
    startupSeconds = max(startupSeconds, run.startupSeconds)
    if times.count >= 3, times.last! > times[1] {
      samplesPerSecond[b] = Double((times.count - 2) * b) / (times.last! - times[1])
    }
  }

  /// Throughput at a batch size: measured, or interpolated from the nearest measured one.
  public func throughput(_ b: Int) -> Double {
    if let s = samplesPerSecond[b] { return s }
    let nearest = samplesPerSecond.keys.min { abs(log(Double($0) / Double(b))) < abs(log(Double($1) / Double(b))) }
    return nearest.flatMap { samplesPerSecond[$0] } ?? 1000
  }

  /// Where later range tests start: a decade below the learning rate at which the first one's
  /// loss began to fall (its steepest descent), so their fewer steps are not spent on a flat curve.
  private(set) var laterStart: Double?

  func rangeSettings(steps: Int, weightDecay: Double, momentum: Double, validate: Bool) -> RangeTestSettings {
    var s = RangeTestSettings()
    if let laterStart { s.startLearningRate = laterStart }
    s.steps = steps
    s.weightDecay = weightDecay
    s.momentum = momentum
    s.minimumMomentum = momentum
    if validate {
      s.validateEvery = max(1, steps / 10)
      s.validationBatches = settings.validationBatches.map { max(1, $0 - 1) }
    }
    return s
  }

  // MARK: - The phases

  /// What the batch-size phase decided.
  public struct BatchSizeDecision: Sendable {
    public var batchSize: Choice<Int>
    /// The range test's maximum learning rate at the chosen batch size.
    public var learningRate: Double
    /// Steps of a trial at the chosen batch size in the planned trial time.
    public var stepsPerTrial: Int
  }

  /// What the weight-decay phase decided.
  public struct WeightDecayDecision: Sendable {
    public var weightDecay: Choice<Double>
    public var maxLearningRate: Choice<Double>
  }

  /// Phase 1: an LR range test (with validation loss) at the starting batch size.
  public func learningRatePhase() throws -> RangeTestComparison {
    let b0 = settings.startBatchSize
    let first = try rangeTest(
      key: firstRangeTestKey, phase: "learning rate", label: "LR range test, batch \(b0)",
      conditions: [RangeTestCondition(name: "batch \(b0)", batchSize: b0, steps: rangeTestSteps)],
      base: rangeSettings(steps: rangeTestSteps, weightDecay: settings.priorWeightDecay, momentum: settings.momenta.last ?? 0.9, validate: true),
      batchSize: { $0.batchSize! })
    guard first.suggestedMaximumLearningRate != nil else {
      throw RecipeError(description: "the first LR range test could not be read: \(first.reason)")
    }
    if let steepest = first.conditions.first?.suggestions.steepest {
      laterStart = min(1e-3, max(1e-7, steepest / 100))
    }
    return first
  }

  /// Phase 2: for each candidate an LR range test and a one-cycle trial of equal wall time.
  public func batchSizePhase(startLearningRate lr0: Double, trialsLeft: Int) throws -> BatchSizeDecision {
    let b0 = settings.startBatchSize
    let candidates = batchCandidates()
    let trialSeconds = plannedTrialSeconds(trials: candidates.count + trialsLeft, rangeTests: max(0, candidates.count - 1) + laterRangeTests)
    var lrForBatch: [Int: Double] = [b0: lr0]
    // A range test per candidate first (side by side where the backend has slots), then the trials.
    let untested = candidates.filter { $0 != b0 }
    let readings = try rangeTests(untested.map { b in
      let steps = rangeTestSteps(batchSize: b)
      return RangeTestWork(key: "batch-size/range-test/\(b)", phase: "batch size", label: "LR range test, batch \(b)",
        conditions: [RangeTestCondition(name: "batch \(b)", batchSize: b, steps: steps)],
        base: rangeSettings(steps: steps, weightDecay: settings.priorWeightDecay, momentum: settings.momenta.last ?? 0.9, validate: true),
        batchSize: { $0.batchSize! })
    })
    var tried: [Int] = []
    for (b, reading) in zip(untested, readings) {
      switch reading {
      case .success(let c): lrForBatch[b] = c.suggestedMaximumLearningRate ?? lr0 * Double(b) / Double(b0)
      case .failure(let error as RangeTestError):
        // The program failed at this batch size (out of memory, say): the others decide.
        onEvent?(.note("batch \(b) left out: \(error.description)"))
      case .failure(let error): throw error
      }
    }
    for b in candidates where lrForBatch[b] != nil { tried.append(b) }
    let entries = try trials(tried.map { b in
      TrialWork(key: "batch-size/trial/\(b)", phase: "batch size", label: "batch \(b), \(Int(trialSeconds.rounded())) s",
        settings: TrialSettings(batchSize: b, maxLearningRate: lrForBatch[b]!, divFactor: settings.divFactor, weightDecay: settings.priorWeightDecay,
          steps: trialSteps(seconds: trialSeconds, batchSize: b), evaluations: settings.trialEvaluations, validationBatches: settings.validationBatches, seed: settings.seed))
    })
    let batchTrials = Array(zip(tried, entries))
    guard !batchTrials.isEmpty else {
      throw RecipeError(description: "no batch size could be tried: the range test failed at every candidate (\(candidates.map(String.init).joined(separator: ", ")))")
    }
    let choice = chooseBatch(batchTrials)
    let batch = choice.value
    // The momentum and weight-decay trials share what is left of the tuning time.
    let later = plannedTrialSeconds(trials: trialsLeft, rangeTests: laterRangeTests)
    return BatchSizeDecision(batchSize: choice, learningRate: lrForBatch[batch]!, stepsPerTrial: trialSteps(seconds: later, batchSize: batch))
  }

  /// Phase 3: short trials at each momentum; the largest stable one, and the bottom of the cycle.
  public func momentumPhase(batchSize batch: Int, learningRate lr: Double, steps: Int) throws -> (max: Choice<Double>, min: Choice<Double>) {
    let baseMin = settings.minMomenta.first ?? 0.85
    func momentumSettings(_ m: Double, _ low: Double) -> TrialSettings {
      TrialSettings(batchSize: batch, maxLearningRate: lr, divFactor: settings.divFactor, maxMomentum: m, minMomentum: low,
        weightDecay: settings.priorWeightDecay, steps: steps, evaluations: settings.trialEvaluations,
        validationBatches: settings.validationBatches, seed: settings.seed)
    }
    let momentumTrials = Array(zip(settings.momenta, try trials(settings.momenta.map { m in
      TrialWork(key: "momentum/\(m)", phase: "momentum", label: "momentum \(m) → \(min(m, baseMin))", settings: momentumSettings(m, min(m, baseMin)))
    })))
    let maxMomentum = chooseMomentum(momentumTrials)
    var minMomentum = Choice(min(maxMomentum.value, baseMin), "the usual bottom of the cycle")
    if let alternative = settings.minMomenta.dropFirst().first, alternative < maxMomentum.value,
       let reference = momentumTrials.first(where: { $0.0 == maxMomentum.value })?.1.result {
      let entry = try trial(key: "momentum/\(maxMomentum.value)-\(alternative)", phase: "momentum",
        label: "momentum \(maxMomentum.value) → \(alternative)", momentumSettings(maxMomentum.value, alternative))
      let a = entry.result!.finalValidationLoss, r = reference.finalValidationLoss
      minMomentum = a < r
        ? Choice(alternative, String(format: "cycling down to %g gave a lower early validation loss (%.4f) than down to %g (%.4f)", alternative, a, baseMin, r))
        : Choice(min(maxMomentum.value, baseMin), String(format: "cycling down to %g (validation loss %.4f) did at least as well as down to %g (%.4f)", baseMin, r, alternative, a))
    }
    return (maxMomentum, minMomentum)
  }

  /// Phase 4: a grid of short one-cycle trials, one refinement between the best two, then LR
  /// range tests at the best two values to settle learning rate and weight decay together.
  public func weightDecayPhase(batchSize batch: Int, learningRate lr: Double, momentum: (max: Double, min: Double), steps: Int) throws -> WeightDecayDecision {
    func wdWork(_ wd: Double, refine: Bool = false) -> TrialWork {
      TrialWork(key: "weight-decay/\(wd)", phase: "weight decay", label: "weight decay \(Self.format(wd))\(refine ? " (refinement)" : "")",
        settings: TrialSettings(batchSize: batch, maxLearningRate: lr, divFactor: settings.divFactor, maxMomentum: momentum.max,
          minMomentum: momentum.min, weightDecay: wd, steps: steps, evaluations: settings.trialEvaluations,
          validationBatches: settings.validationBatches, seed: settings.seed))
    }
    var wdTrials = Array(zip(settings.weightDecays, try trials(settings.weightDecays.map { wdWork($0) })))
    if let refinement = Self.refinement(wdTrials.map { ($0.0, $0.1.result!.finalValidationLoss) }) {
      wdTrials.append((refinement, try trials([wdWork(refinement, refine: true)])[0]))
    }
    let ranked = wdTrials.sorted { $0.1.result!.finalValidationLoss < $1.1.result!.finalValidationLoss }
    let lowest = ranked[0]
    // Early validation losses within a few percent cannot be told apart by a short run, and the
    // final run is many times longer, where more regularization pays off: among those, the
    // largest weight decay (Smith: balance the regularization for the whole run).
    let chosenValue = Self.chooseWeightDecay(wdTrials.map { ($0.0, $0.1.result!.finalValidationLoss) }, tolerance: settings.weightDecayTolerance)
    let best = wdTrials.first { $0.0 == chosenValue } ?? lowest
    let second = best.0 != lowest.0 ? lowest : (ranked.count > 1 ? ranked[1] : nil)
    let table = ranked.map { String(format: "%@: %.4f", Self.format($0.0), $0.1.result!.finalValidationLoss) }.joined(separator: ", ")
    var wdChoice = best.0 == lowest.0
      ? Choice(best.0, String(format: "lowest early validation loss of %d short one-cycle runs (%@)", ranked.count, table))
      : Choice(best.0, String(format: "the largest weight decay whose early validation loss is within %.0f%% of the lowest (%@): a difference that small is noise in a %d-step run, and the final run is longer, where regularization pays off", 100 * settings.weightDecayTolerance, table, steps))
    let wdSteps = rangeTestSteps(batchSize: batch)
    let values = [best.0] + (second.map { [$0.0] } ?? [])
    let wdRange = try rangeTest(
      key: "weight-decay/range-test/\(batch)", phase: "weight decay", label: "LR range tests at weight decay \(values.map(plainNumber).joined(separator: ", "))",
      conditions: values.map { RangeTestCondition(name: "wd \(Self.format($0))", weightDecay: $0, batchSize: batch, steps: wdSteps) },
      base: rangeSettings(steps: wdSteps, weightDecay: best.0, momentum: momentum.max, validate: true), batchSize: { $0.batchSize! })
    // Every reading at the chosen batch size counts: the batch-size study's and the one at the
    // best weight decay; their geometric mean evens out the noise of a single curve.
    var readings = [lr]
    if let bestCondition = wdRange.conditions.first(where: { $0.condition.weightDecay == best.0 }), let readLR = bestCondition.maximumLearningRate {
      readings.append(readLR)
    }
    let meanLR = exp(readings.map(log).reduce(0, +) / Double(readings.count))
    let maxLR = readings.count > 1
      ? Choice(meanLR, "geometric mean of the LR range tests at batch \(batch): \(Self.formatLR(readings[0])) (prior weight decay) and \(Self.formatLR(readings[1])) (weight decay \(Self.format(best.0))); each reads Smith's way, a tenth of the largest rate at which the network still trains")
      : Choice(lr, "LR range test at batch \(batch): a tenth of the largest rate at which the network still trains")
    if let lowest = wdRange.lowestLossCondition { wdChoice.reason += "; in the LR range tests \(lowest) reached the lowest validation loss" }
    return WeightDecayDecision(weightDecay: wdChoice, maxLearningRate: maxLR)
  }

  /// What the regularization phase decided.
  public struct RegularizationDecision: Sendable {
    public var dropout: Choice<Double>
    public var augmentation: Choice<String>
  }

  /// Phase 5: LR range tests at each dropout rate, then at each augmentation with the chosen
  /// rate, at the chosen batch size, momentum and weight decay (METHOD §5: compare the curves
  /// under several regularization settings). Of the settings whose validation loss the short
  /// test cannot tell from the lowest, the strongest: the final run is many times longer than
  /// the test, and its overfitting is what the regularization is for (measured on the cnn:
  /// 20-epoch runs gain 0.1–0.25 points with dropout or flips that cost 2–5% of validation loss
  /// in the range test). Sessions made afterwards use the choice.
  public func regularizationPhase(batchSize batch: Int, weightDecay wd: Double, momentum: Double) throws -> RegularizationDecision {
    let steps = rangeTestSteps(batchSize: batch)
    var base = rangeSettings(steps: steps, weightDecay: wd, momentum: momentum, validate: true)
    base.validationBatches = settings.validationBatches
    /// One study: a range test per candidate (weakest first), read by `chooseRegularization`.
    func study<Value: Codable & Sendable & Equatable>(
      _ candidates: [Value], current: Value, kind: String, key: String, phase: String, tolerance: Double, why: String,
      name: (Value) -> String, condition: (Value) -> RangeTestCondition
    ) throws -> Choice<Value> {
      guard studiesRegularization else {
        return Choice(current, candidates.count >= 2 ? "as given: the budget had no room for the \(phase) study's range tests" : "as given (no \(phase) study)")
      }
      guard candidates.count >= 2 else { return Choice(current, candidates.isEmpty ? "as given (no \(phase) study)" : "the only candidate") }
      if let program, !program.honours.contains(phase) {
        return Choice(current, "as given: your program does not apply \(phase) (its start event does not list it in \"honours\")")
      }
      let overlay = try rangeTest(key: key, phase: phase, label: "LR range tests with \(phase) \(candidates.map(name).joined(separator: ", "))",
        conditions: candidates.map(condition), base: base, batchSize: { $0.batchSize! })
      // The overlay keeps the candidates' order.
      let rows = zip(candidates, overlay.conditions).map { (value: $0, name: name($0), validation: $1.lowestValidationLoss, stableUpTo: $1.stableUpTo) }
      return Self.chooseRegularization(rows, kind: kind, tolerance: tolerance, why: why)
    }
    let dropoutChoice = try study(settings.dropouts, current: regularization.dropout, kind: "rates", key: "dropout/range-test/\(batch)", phase: "dropout",
      tolerance: settings.regularizationTolerance, why: "a difference that small is noise in a short test, and the final run is far longer, where regularization pays off",
      name: plainNumber) { RangeTestCondition(name: "dropout \(plainNumber($0))", weightDecay: wd, batchSize: batch, dropout: $0, steps: steps) }
    regularization.dropout = dropoutChoice.value
    let augmentationChoice = try study(settings.augmentations, current: regularization.augmentation, kind: "augmentations",
      key: "augmentation/range-test/\(batch)/\(plainNumber(regularization.dropout))", phase: "augmentation",
      tolerance: settings.augmentationTolerance, why: "augmentation slows early learning by design, so a short test overstates its cost; it pays off in the far longer final run",
      name: { $0 }) {
      RangeTestCondition(name: "augmentation \($0)", weightDecay: wd, batchSize: batch, dropout: regularization.dropout, augmentation: $0, steps: steps)
    }
    regularization.augmentation = augmentationChoice.value
    return RegularizationDecision(dropout: dropoutChoice, augmentation: augmentationChoice)
  }

  /// Of the settings (weakest first) whose lowest validation loss is within `tolerance` of the
  /// lowest, the strongest.
  static func chooseRegularization<Value: Codable & Sendable & Equatable>(
    _ rows: [(value: Value, name: String, validation: Double?, stableUpTo: Double?)], kind: String, tolerance: Double, why: String
  ) -> Choice<Value> {
    guard let chosen = strongestClose(rows.map(\.validation), tolerance: tolerance) else {
      return Choice(rows[0].value, "no validation loss could be measured in the range tests; the weakest of the \(kind) is the safest")
    }
    let table = rows.map { r in
      "\(r.name): " + (r.validation.map { String(format: "%.4f", $0) } ?? "—") + (r.stableUpTo.map { " to LR " + Self.formatLR($0) } ?? "")
    }.joined(separator: ", ")
    return Choice(rows[chosen].value, String(format: "the strongest of the %@ whose lowest validation loss in the LR range test is within %.0f%% of the lowest: %@ (validation loss, usable range: %@)", kind, 100 * tolerance, why, table))
  }

  /// Range-test sweeps the weight-decay and regularization phases will run (one per condition:
  /// the best two weight decays, each studied dropout rate and augmentation).
  var laterRangeTests: Int { 2 + (studiesRegularization ? regularizationRangeTests : 0) }

  /// Range-test sweeps of the regularization phase.
  var regularizationRangeTests: Int {
    (settings.dropouts.count >= 2 ? settings.dropouts.count : 0) + (settings.augmentations.count >= 2 ? settings.augmentations.count : 0)
  }

  /// Trials the momentum and weight-decay phases will run.
  var laterTrials: Int { settings.momenta.count + min(1, max(0, settings.minMomenta.count - 1)) + settings.weightDecays.count + 1 }

  // MARK: - The recipe

  /// Runs every phase and the final training.
  public func run() throws -> TuneOutcome {
    try fitRangeTestsToBudget()
    // Without a measured throughput (a probe that reported too few steps) there is nothing to judge by.
    if !samplesPerSecond.isEmpty { try checkBudget() }
    let phases = studiesRegularization ? 6 : 5
    onEvent?(.phase(name: "learning rate", index: 1, of: phases))
    let first = try learningRatePhase()
    onEvent?(.phase(name: "batch size", index: 2, of: phases))
    let batch = try batchSizePhase(startLearningRate: first.suggestedMaximumLearningRate!, trialsLeft: laterTrials)
    onEvent?(.phase(name: "momentum", index: 3, of: phases))
    let momentum = try momentumPhase(batchSize: batch.batchSize.value, learningRate: batch.learningRate,
      steps: trialSteps(phase: "momentum", batchSize: batch.batchSize.value, planned: batch.stepsPerTrial))
    onEvent?(.phase(name: "weight decay", index: 4, of: phases))
    let wd = try weightDecayPhase(batchSize: batch.batchSize.value, learningRate: batch.learningRate,
      momentum: (momentum.max.value, momentum.min.value),
      steps: trialSteps(phase: "weight decay", batchSize: batch.batchSize.value, planned: replannedSteps(batch.batchSize.value, trials: settings.weightDecays.count + 1)))
    if studiesRegularization { onEvent?(.phase(name: "regularization", index: 5, of: phases)) }
    let regularizationChoice = try regularizationPhase(batchSize: batch.batchSize.value, weightDecay: wd.weightDecay.value, momentum: momentum.max.value)
    let maxLR = wd.maxLearningRate
    let minLR = Choice(maxLR.value / settings.divFactor, "one-cycle starts at max/\(Self.format(settings.divFactor))")

    // Final training for the rest of the budget.
    onEvent?(.phase(name: "final training", index: phases, of: phases))
    let plan = FinalRunRecord.Plan(batchSize: batch.batchSize.value, maxLearningRate: maxLR.value, maxMomentum: momentum.max.value,
      minMomentum: momentum.min.value, weightDecay: wd.weightDecay.value, regularization: regularization)
    let policy = Policy.oneCycle(OneCycle(variant: .pytorch, maxLearningRate: maxLR.value, divFactor: settings.divFactor,
      cycleMomentum: true, baseMomentum: momentum.min.value, maxMomentum: momentum.max.value))
    let final: FinalTrainingOutcome
    if let sessions = backend as? any SessionBackend {
      final = try finalTraining(sessions, plan, policy: policy)
    } else {
      final = try specFinalTraining(plan, policy: policy)
    }
    let diagnosis = Diagnosis(history: final.history, stepsPerEpoch: final.stepsPerEpoch)
    return TuneOutcome(maxLearningRate: maxLR, minLearningRate: minLR, batchSize: batch.batchSize, maxMomentum: momentum.max,
      minMomentum: momentum.min, weightDecay: wd.weightDecay, dropout: regularizationChoice.dropout, augmentation: regularizationChoice.augmentation, epochs: final.epochs, policy: policy, history: final.history,
      test: final.test, diagnosis: diagnosis, seconds: elapsed, stepsPerEpoch: final.stepsPerEpoch)
  }

  /// Steps of each trial when what is left of the tuning share is split among `trials` more,
  /// at the throughput measured so far: the weight-decay phase re-plans, so a machine running
  /// slower than the batch-size phase measured does not push the final run short.
  func replannedSteps(_ batch: Int, trials: Int) -> Int {
    trialSteps(seconds: plannedTrialSeconds(trials: trials, rangeTests: laterRangeTests), batchSize: batch)
  }

  /// The steps of a phase's trials: those of its trials already in the journal (a resumed run
  /// compares trials of one length), else `planned`.
  func trialSteps(phase: String, batchSize: Int, planned: Int) -> Int {
    journal.entries.first { $0.phase == phase && $0.trial?.batchSize == batchSize }?.trial?.steps ?? planned
  }

  /// Candidates within the memory limit: measured for the ones tried, extrapolated linearly
  /// in the batch size for the next.
  func batchCandidates() -> [Int] {
    var result: [Int] = []
    var measured: [(Int, Double)] = []
    for b in settings.batchSizes.sorted() {
      if measured.count >= 2 {
        let (b1, m1) = measured[measured.count - 2], (b2, m2) = measured[measured.count - 1]
        let predicted = m2 + (m2 - m1) / Double(b2 - b1) * Double(b - b2)
        if predicted > settings.maxMemory {
          onEvent?(.note(String(format: "skipping batch %d: about %.0f MiB expected, over the --max-memory limit of %.0f MiB", b, predicted, settings.maxMemory)))
          continue
        }
      }
      if let m = backend.memoryUse(batchSize: b) {
        if m > settings.maxMemory {
          onEvent?(.note(String(format: "skipping batch %d: %.0f MiB measured, over the --max-memory limit of %.0f MiB", b, m, settings.maxMemory)))
          continue
        }
        measured.append((b, m))
      }
      result.append(b)
    }
    return result.isEmpty ? [settings.batchSizes.min() ?? settings.startBatchSize] : result
  }

  /// Splits what is left of the tuning share of the budget over the trials still to run,
  /// after setting aside time for the range tests still to run.
  func plannedTrialSeconds(trials: Int, rangeTests: Int) -> Double {
    if let fixed = settings.trialSeconds { return fixed }
    let rate = throughput(settings.startBatchSize)
    let rangeTestSeconds = Double(rangeTestSteps * settings.startBatchSize) / rate * Self.rangeTestOverhead + startupSeconds
    // With slots, a phase's specs run side by side: the time goes by rounds, not by specs, and
    // each trial gets up to `slots` times longer.
    let rounds = { (n: Int) in (Double(n) / Double(max(1, self.backend.slots))).rounded(.up) }
    let available = settings.budget * (1 - settings.finalShare) - elapsed - rounds(rangeTests) * rangeTestSeconds
    return max(0.5, available / max(1, rounds(trials)))
  }

  /// Steps of a trial at batch `b` that fill `seconds`, its start-up (a program's) excluded.
  public func trialSteps(seconds: Double, batchSize b: Int) -> Int {
    max(10, Int(max(0, seconds - startupSeconds) * throughput(b) / Double(b)))
  }

  /// A range test's cost over its training steps alone: its validation passes add about half.
  static var rangeTestOverhead: Double { 1.5 }

  /// Steps of a range test at batch `b`: as many samples as the first one's, and at least
  /// 100 steps (or the first one's, if fewer), so its curve keeps enough points.
  func rangeTestSteps(batchSize b: Int) -> Int {
    max(min(100, rangeTestSteps), rangeTestSteps * settings.startBatchSize / b)
  }

  /// Shortens the range tests when all of them (the first, one per further batch size, and
  /// the later phases') would take more than `rangeTestShare` of the tuning time at the
  /// measured throughput; when even `minimumRangeTestSteps` would not fit, drops the
  /// regularization study, whose range tests are most of them. A 20-minute Fashion-MNIST
  /// budget keeps its 210 steps and all 11 sweeps; at 3 minutes, 11 sweeps would take twice
  /// the whole tuning share. A resumed run keeps the steps of its first range test.
  public func fitRangeTestsToBudget() throws {
    let first = journal.entry(firstRangeTestKey)
    if let done = first { record(done) } else { try measureThroughput(batchSize: settings.startBatchSize) }
    let seconds = settings.budget * (1 - settings.finalShare) * settings.rangeTestShare
    // With slots the sweeps run side by side: they cost rounds, not sweeps.
    func affordable(sweeps: Int) -> Int {
      let rounds = (Double(sweeps) / Double(max(1, backend.slots))).rounded(.up)
      return Int(seconds * throughput(settings.startBatchSize) / (rounds * Double(settings.startBatchSize) * Self.rangeTestOverhead))
    }
    var steps = affordable(sweeps: settings.batchSizes.count + laterRangeTests)
    if steps < settings.minimumRangeTestSteps && studiesRegularization && !journal.entries.contains(where: { $0.phase == "dropout" || $0.phase == "augmentation" }) {
      studiesRegularization = false
      steps = affordable(sweeps: settings.batchSizes.count + laterRangeTests)
      onEvent?(.note("no regularization study: its \(regularizationRangeTests) range tests do not fit into this budget"))
    }
    steps = min(settings.rangeTestSteps, max(settings.minimumRangeTestSteps, steps))
    if let done = first?.rangeTest?.conditions.first?.condition.steps { steps = done }
    if steps < settings.rangeTestSteps && first == nil {
      onEvent?(.note("range tests shortened to \(steps) steps (from \(settings.rangeTestSteps)) to fit into the budget"))
    }
    rangeTestSteps = steps
  }

  /// The smallest budget that holds the recipe at the measured throughput: the time already
  /// spent (loading the data, a throughput probe), range tests of `minimumRangeTestSteps` (no
  /// regularization study) and trials of 10 steps, and a final run at least as long as all
  /// that (below it, the choices would cost more than the training they are for).
  func minimumBudget() -> Double { 2 * minimumTuningSeconds() }

  /// Seconds of the tuning at its smallest, the time already spent included.
  func minimumTuningSeconds() -> Double {
    let b = Double(settings.startBatchSize), rate = throughput(settings.startBatchSize)
    let sweeps = Double(settings.batchSizes.count + 2)
    let rangeTests = sweeps * Double(settings.minimumRangeTestSteps) * b / rate * Self.rangeTestOverhead
    let trials = Double(settings.batchSizes.count + laterTrials) * 10 * b / rate * Self.rangeTestOverhead
    // A program starts once per sweep and trial.
    let startups = (sweeps + Double(settings.batchSizes.count + laterTrials)) * startupSeconds
    return elapsed + rangeTests + trials + startups
  }

  /// Throws when the budget cannot hold the recipe, naming the smallest one that would.
  func checkBudget() throws {
    guard journal.entries.isEmpty else { return }  // a resumed run has shown it fits
    let minimum = minimumBudget()
    guard settings.budget < minimum else { return }
    let rounded = (minimum / 10).rounded(.up) * 10
    throw RecipeError(description: String(
      format: "a budget of %.0f s cannot hold the recipe here: at the measured %.0f samples/s its %d range tests of %d steps and %d trials of 10 steps take about %.0f s with the %.0f s already spent (loading, a throughput probe), and the final run needs at least as long; the smallest budget that would is about %.0f s (--budget %.0fs)",
      settings.budget, throughput(settings.startBatchSize), settings.batchSizes.count + 2, settings.minimumRangeTestSteps,
      settings.batchSizes.count + laterTrials, minimumTuningSeconds(), elapsed, rounded, rounded))
  }

  var firstRangeTestKey: String { "lr/range-test/\(settings.startBatchSize)" }

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

public struct RecipeError: Error, CustomStringConvertible {
  public var description: String
}

/// What the final validation curve says (Smith: the goal is a curve that goes horizontal).
public struct Diagnosis: Codable, Sendable, Equatable {
  public enum Verdict: String, Codable, Sendable {
    case underfitting, overfitting, onTarget = "on target", unknown
  }
  public var verdict: Verdict
  public var explanation: String
  public var suggestion: String

  public init(verdict: Verdict, explanation: String, suggestion: String) {
    self.verdict = verdict
    self.explanation = explanation
    self.suggestion = suggestion
  }

  /// Reads the evaluation losses of the last third of the run.
  public init(history: TrainingHistory, stepsPerEpoch: Int) {
    let losses = history.evaluations.map(\.loss).filter(\.isFinite)
    guard losses.count >= 3 else {
      self.init(verdict: .unknown, explanation: "too few evaluations (\(losses.count)) to read the validation curve", suggestion: "train for more epochs to see the curve")
      return
    }
    let tail = Array(losses.suffix(max(3, losses.count / 3)))
    let lowest = losses.min()!, last = losses.last!
    let lowestIndex = losses.lastIndex(of: lowest)!
    let fall = (tail.first! - last) / tail.first!
    if last > lowest * 1.03 && lowestIndex < losses.count - 1 {
      self = Diagnosis(verdict: .overfitting,
        explanation: String(format: "the validation loss rose from its lowest %.4f (evaluation %d) to %.4f at the end", lowest, lowestIndex + 1, last),
        suggestion: "more regularization (a larger weight decay, dropout or augmentation) or fewer epochs; a learning rate that is too small can also cause this")
    } else if fall > 0.03 {
      self = Diagnosis(verdict: .underfitting,
        explanation: String(format: "the validation loss was still falling over the last %d evaluations (%.4f → %.4f, %.1f%%)", tail.count, tail.first!, last, 100 * fall),
        suggestion: "train for more epochs (a larger budget), or reduce the weight decay")
    } else {
      self = Diagnosis(verdict: .onTarget,
        explanation: String(format: "the validation loss went horizontal: %.4f → %.4f over the last %d evaluations", tail.first!, last, tail.count),
        suggestion: "no change needed; more epochs would add little")
    }
  }
}

/// 0 as "0", others as %g (1e-4 → "0.0001", 3e-05 → "3e-05").
func plainNumber(_ v: Double) -> String { v == 0 ? "0" : String(format: "%g", v) }
