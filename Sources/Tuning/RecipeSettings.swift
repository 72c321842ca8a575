import Foundation
import TrialProtocol
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
    /// The values of hyper-parameters beyond these (nil: none).
    public var hyperparameters: [String: HyperValue]?
  }
  public var plan: Plan
  public var epochs: Int
  /// The reason given for the number of epochs when the run started.
  public var epochsReason: String
  public var history: TrainingHistory
  /// Seconds the final run had taken when saved (they count against the budget).
  public var seconds: Double
  /// The re-plans that stretched its schedule so far (nil: none, or a record from before them).
  public var stretches: [Schedule.Stretch]?
}

/// The knobs of Smith's recipe.
public struct RecipeSettings: Codable, Sendable, Equatable {
  /// Wall-clock budget of the whole recipe, in seconds.
  public var budget: Double
  public var seed: UInt64 = 0
  /// The batch size of the first LR range test.
  public var startBatchSize = 128
  /// Candidates for the batch-size study (ascending).
  public var batchSizes = Self.defaultBatchSizes
  /// Skip batch sizes whose measured or extrapolated memory exceeds this many MiB.
  public var maxMemory: Double = 4096
  public var momenta = Self.defaultMomenta
  /// The momentum the cycle falls to (the first), and an alternative tried once (the second).
  public var minMomenta: [Double] = [0.85, 0.8]
  public var weightDecays = Self.defaultWeightDecays
  /// Weight decay used before the weight-decay study has chosen one.
  public var priorWeightDecay = 5e-4
  /// Dropout and augmentation of every trial before the regularization study, and of the
  /// final run where there is no study.
  public var regularization = Regularization()
  /// Candidates of the dropout study (Docs/METHOD.md §5: dropout is regularization to balance with the
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
  /// and re-plans its epochs to end within the budget, longer or shorter: the rest of the
  /// schedule is stretched over the new length from the current step, so the learning rate
  /// goes on from where it is. The last comes near the end: a machine that slows down over the
  /// last stretch would otherwise overrun a short budget (a 1-minute table ended at 1:02, a
  /// 2-minute Fashion-MNIST mlp at 2:03, with the last re-plan at 0.6).
  public var finalReplans = [0.1, 0.3, 0.6, 0.9]
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
  /// The fewest steps of a short trial: a phase whose trials would be shorter is not run (its
  /// stated default is taken, and the report says so) instead of deciding by noise. A program's
  /// 10-step trials measured noise bands of 20–28% and still decided (issue 24).
  public var minimumTrialSteps = 50
  /// Run one trial of each trial phase (batch size, momentum, weight decay) again under another
  /// seed, to measure how far trials differ by chance; candidates closer than that to the
  /// lowest count as indistinguishable, and the method's principle picks among them.
  public var measuresNoise = true
  /// Without a measured noise: weight decays whose early validation loss is within this
  /// fraction of the lowest count as equally good, and the largest of them is chosen.
  public var weightDecayTolerance = 0.0
  /// Training seconds of each short trial; nil divides the tuning share of the budget.
  public var trialSeconds: Double?
  /// Without a measured noise: a momentum trial is "stable" when its validation loss is within
  /// this fraction of the best.
  public var stabilityTolerance = 0.02
  /// The momentum ties settle toward: Smith's usual top of the cycle (0.95 → 0.85).
  public var defaultMomentum = 0.95

  /// The settings that change what `tune`'s trials do, for the journal's header (which
  /// `--resume` checks); the command adds the data's and the model's.
  public var journalHeader: [String: String] {
    func list<T>(_ values: [T]) -> String { values.map { "\($0)" }.joined(separator: ",") }
    return [
      "seed": "\(seed)", "budget": "\(budget)", "batch_sizes": list(batchSizes),
      "start_batch_size": "\(startBatchSize)", "momenta": list(momenta),
      "weight_decays": list(weightDecays), "max_memory": "\(maxMemory)",
      "dropouts": list(dropouts), "augmentations": list(augmentations),
    ]
  }

  /// Where the batch-size phase settles batch sizes its trials cannot tell apart: the one
  /// nearest the starting batch size (by ratio), the larger at equal distance.
  public var batchSizeDefault: TieDefault {
    TieDefault(Double(startBatchSize), source: "the starting batch size", scale: .logarithmic)
  }
  /// Where the momentum phase settles momenta its trials cannot tell apart.
  public var momentumDefault: TieDefault {
    TieDefault(defaultMomentum, source: "Smith's usual top of the cycle", scale: .linear)
  }
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

/// Everything the recipe chose, and the final run. The chosen hyper-parameters read as its own
/// properties (`outcome.batchSize`).
@dynamicMemberLookup
public struct TuneOutcome: Codable, Sendable {
  public var chosen: TunedHyperParameters
  public var epochs: Choice<Int>
  public var policy: Policy
  public var history: TrainingHistory
  public var test: Evaluation
  public var diagnosis: Diagnosis
  public var seconds: Double
  public var stepsPerEpoch: Int
  /// The noise the trials measured (repeats under another seed).
  public var noise: NoiseEstimate
  /// The range tests' noise (one condition swept twice), where measured.
  public var rangeTestNoise: RangeTestNoise?

  /// How long the final run trained, as a report says it: "67 epochs"; "7.52 epochs" for a
  /// run that ended between two (a program's final run re-planned shorter: it once read "8
  /// epochs" for 7.52); "10 steps (0.09 of an epoch)" for one shorter than an epoch.
  public var trainedLength: String {
    Self.trainedLength(
      steps: history.steps.count, stepsPerEpoch: stepsPerEpoch, epochs: epochs.value)
  }

  /// `trainedLength` of a run of `steps` (`epochs` where no step was recorded).
  static func trainedLength(steps: Int, stepsPerEpoch: Int, epochs planned: Int) -> String {
    guard steps > 0 else { return "\(planned) epochs" }
    let epochs = Double(steps) / Double(max(1, stepsPerEpoch))
    if epochs < 1 { return String(format: "%d steps (%.2f of an epoch)", steps, epochs) }
    if abs(epochs - epochs.rounded()) < 0.005 { return "\(Int(epochs.rounded())) epochs" }
    return String(format: "%.2f epochs", epochs)
  }

  public subscript<T>(dynamicMember choice: KeyPath<TunedHyperParameters, T>) -> T {
    chosen[keyPath: choice]
  }
}
