import ArgumentParser
import Engine
import Foundation
import NeuralNetworks
import Reports
import RunFolders
import Training
import TrialProtocol
import Tuning

/// `discipline study`: one phase of the recipe on its own.
struct StudyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "study",
    abstract:
      "Run one phase of the tuning recipe on its own: batch-size, momentum or weight-decay.",
    discussion: """
      Each study runs short one-cycle trials (--trial-seconds each)
      and chooses as `tune` does:
        batch-size    an LR range test per candidate and trials of
                      equal wall time; the largest batch the noise
                      cannot tell from the lowest validation loss
        momentum      trials at each of --momenta; the largest the
                      noise cannot tell from the lowest (the largest
                      stable one)
        weight-decay  a grid, one refinement between the best two,
                      LR range tests at the lowest and the largest
                      the noise cannot tell from it: the largest if
                      its range test stays usable as far, else the
                      lowest
      The lowest trial runs again under the next seed: that difference
      is the noise each choice is weighed against (study.json's reason).
      Without --max-lr it starts with an LR range test at
      --batch-size. Finished trials go to DIR/journal.jsonl (--resume
      reuses them), the choice to DIR/study.json, the plot to
      DIR/study.svg.

      Examples:
        discipline study momentum --model cnn --max-lr 0.1 --out runs/m
        discipline study weight-decay --model cnn \\
          --weight-decays 1e-3,1e-4,0 --trial-seconds 20 --out runs/wd
        discipline study batch-size --batch-sizes 64,128,256 --out runs/b
        discipline study weight-decay --trial-steps 300 \\
          --executor slurm --parallel 4 --out runs/wd-cluster
      """)

  enum Kind: String, CaseIterable, ExpressibleByArgument {
    case batchSize = "batch-size"
    case momentum
    case weightDecay = "weight-decay"

    /// The recipe's phase the study runs.
    var phase: Phase {
      switch self {
      case .batchSize: .batchSize
      case .momentum: .momentum
      case .weightDecay: .weightDecay
      }
    }
  }

  @Argument(help: "Which study: batch-size, momentum or weight-decay.") var kind: Kind
  @OptionGroup(title: "Data") var data: DataOptions
  @Option(help: ModelArchitecture.help) var model: ModelArchitecture = .cnn
  @Option(
    name: .customLong("batch-size"),
    help: "Batch size (momentum and weight-decay studies; the start of the batch-size study).")
  var batchSize: Int = 128
  @Option(
    name: .customLong("batch-sizes"),
    help: ArgumentHelp("Batch-size candidates.", valueName: "b,b,...")) var batchSizes = ValueList<
      Int
    >(RecipeSettings.defaultBatchSizes)
  @Option(
    name: .customLong("max-lr"),
    help: "Peak learning rate of the trials (default: from an LR range test).") var maxLR: Double?
  @Option(help: ArgumentHelp("Momentum candidates.", valueName: "m,m,...")) var momenta = ValueList<
    Double
  >(RecipeSettings.defaultMomenta)
  @Option(
    help: ArgumentHelp(
      "Momentum of the batch-size and weight-decay trials: MAX:MIN.", valueName: "max:min"))
  var momentum = MomentumRange(argument: "0.95:0.85")!
  @Option(
    name: .customLong("weight-decay"), help: "Weight decay of the batch-size and momentum trials.")
  var weightDecay = RecipeSettings.priorWeightDecay(deepNetwork: false)
  @Option(
    name: .customLong("weight-decays"),
    help: ArgumentHelp("Weight-decay grid.", valueName: "wd,wd,...")) var weightDecays = ValueList<
      Double
    >(RecipeSettings.defaultWeightDecays)
  @Option(name: .customLong("trial-seconds"), help: "Training seconds of each trial.")
  var trialSeconds: Double = 30
  @Option(
    help: ArgumentHelp(
      "Steps of each trial instead of --trial-seconds (momentum and weight-decay studies): the same trials on any machine.",
      valueName: "n"))
  var trialSteps: Int?
  @Option(help: "Augmentation: none, flip or crop-flip.") var augment: String = "none"
  @Option(help: "Output folder.") var out: String = "runs/study"
  @OptionGroup var common: RecipeRunOptions
  @OptionGroup(title: "Your own training program") var program: ProgramOptions
  @OptionGroup(title: "Where trials run") var executor: ExecutorOptions

  func validate() throws {
    if let trialSteps {
      try Valid.atLeast("--trial-steps", 10, trialSteps)
      guard kind != .batchSize else {
        throw ValidationError(
          "--trial-steps does not apply to the batch-size study, whose trials are of equal wall time"
        )
      }
    }
    try Valid.positive("--batch-size", batchSize)
    try Valid.positive("--batch-sizes", batchSizes.values)
    try Valid.positive("--max-lr", maxLR)
    try Valid.open("--momenta", momenta.values)
    try Valid.nonNegative("--weight-decays", weightDecays.values)
    try Valid.nonNegative("--weight-decay", [weightDecay])
    try Valid.positive("--trial-seconds", trialSeconds)
  }

  func run() throws {
    try reportingErrors { try study() }
  }

  private func study() throws {
    let (outURL, stop, runner) = try recipeWorkplace(
      out: out, resume: common.resume, program: program, executor: executor)
    let setup =
      program.command == nil
      ? try TrainingSetup(data: data, model: model, augment: augment, seed: common.seed) : nil
    var settings = RecipeSettings(budget: .infinity)
    settings.seed = common.seed
    settings.startBatchSize = batchSize
    settings.batchSizes = batchSizes.values.sorted()
    settings.momenta = momenta.values
    settings.minMomenta = [momentum.minimum]
    settings.weightDecays = weightDecays.values
    settings.priorWeightDecay = weightDecay
    settings.trialSeconds = trialSeconds
    settings.regularization = Regularization(dropout: 0, augmentation: augment)
    if let setup {
      settings.rangeTestSteps = RecipeSettings.rangeTestSteps(
        trainingSamples: setup.splits.train.count, batchSize: batchSize)
    }
    let header: [String: String] = [
      "study": kind.rawValue, "dataset": runner == nil ? data.dataset : "(your program's)",
      "model": program.command.map { "command: \($0)" } ?? model.description,
      "seed": "\(common.seed)",
      "batch_size": "\(batchSize)",
      "max_lr": maxLR.map { "\($0)" } ?? "range test", "momentum": momentum.description,
      "weight_decay": "\(weightDecay)",
      "candidates": kind == .batchSize
        ? settings.batchSizes.map(String.init).joined(separator: ",")
        : kind == .momentum
          ? settings.momenta.map { "\($0)" }.joined(separator: ",")
          : settings.weightDecays.map { "\($0)" }.joined(separator: ","),
      "trial_seconds": trialSteps == nil ? "\(trialSeconds)" : "\(trialSteps!) steps",
      "validation_split": "\(data.validationSplit)", "augment": augment,
    ]
    let journal = try openJournal(in: outURL, settings: header, resume: common.resume)
    let what =
      "study \(kind.rawValue): "
      + (setup.map { "\(model) on \(data.dataset) (\($0.sizes))" }
        ?? "your program (\(program.command!))")
      + "; trials of \(trialSteps.map { "\($0) steps" } ?? "\(formatValue(trialSeconds)) s")"
    if let runner {
      let backend = ProgramBackend(
        runner: runner, trialsDirectory: outURL.appendingPathComponent("trials"))
      if setup != nil {
        backend.engineSection = data.engineSection(model: model, dataSeed: common.seed)
      }
      printError("\(what); \(executor.summary), each trial's files in \(out)/trials")
      try study(
        Recipe(backend: backend, settings: settings, journal: journal), stop: stop, outURL: outURL)
    } else if let setup {
      printError(what)
      try study(
        Recipe(
          backend: EngineBackend(setup: setup, finalSetup: setup), settings: settings,
          journal: journal), stop: stop, outURL: outURL)
    }
  }

  /// Runs the study's phase with progress and the stop wired, and writes its files.
  private func study<B: TuningBackend>(_ recipe: Recipe<B>, stop: StopSignal, outURL: URL) throws {
    let phase = kind.phase
    let (choice, reason, lr): (Double, String, Double) = try driving(
      recipe, budget: .infinity, stop: stop, out: out
    ) {
      // Without --max-lr the first range test sets it, and where later sweeps start.
      let first = maxLR == nil ? try recipe.learningRatePhase() : nil
      let lr = maxLR ?? first!.suggestedMaximumLearningRate!
      let start = first.flatMap(recipe.laterStart(after:))
      if kind != .batchSize && trialSteps == nil {
        try recipe.measureThroughput(batchSize: batchSize)
      }
      switch kind {
      case .batchSize:
        let d = try recipe.batchSizePhase(startLearningRate: lr, trialsLeft: 0, sweepFrom: start)
        return (Double(d.batchSize.value), d.batchSize.reason, lr)
      case .momentum:
        let steps = trialSteps ?? recipe.trialSteps(seconds: trialSeconds, batchSize: batchSize)
        let m = try recipe.momentumPhase(batchSize: batchSize, learningRate: lr, steps: steps)
        return (m.max.value, m.max.reason, lr)
      case .weightDecay:
        let steps = trialSteps ?? recipe.trialSteps(seconds: trialSeconds, batchSize: batchSize)
        let d = try recipe.weightDecayPhase(
          batchSize: batchSize, learningRate: lr, momentum: (momentum.maximum, momentum.minimum),
          steps: steps, sweepFrom: start, rangeTestNoise: nil)
        return (
          d.weightDecay.value,
          d.weightDecay.reason + "; max LR then \(formatLR(d.maxLearningRate.value))", lr
        )
      }
    }
    let files = StudyFiles(
      directory: outURL, study: kind.rawValue, phase: phase, choice: choice, reason: reason,
      maxLearningRate: lr, journal: recipe.journal)
    try files.write()
    printError(
      "\(phase.rawValue): \(kind == .batchSize ? String(Int(choice)) : formatValue(choice)) — \(reason)"
    )
    printError("wrote study.json, study.svg and journal.jsonl into \(out)")
    if common.json { print(files.jsonLine()) }
  }
}
