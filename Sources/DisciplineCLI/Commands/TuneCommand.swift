import ArgumentParser
import Datasets
import Engine
import Foundation
import NeuralNetworks
import RunFolders
import Schedules
import Training
import Tuning

/// `discipline tune`: Smith's whole recipe in one command.
struct TuneCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tune",
    abstract:
      "Tune learning rate, batch size, momentum and weight decay with Smith's recipe, then train.",
    discussion: """
      Runs the recipe of Smith's "disciplined approach" within --budget:
        1. LR range test (with validation loss) at --start-batch-size:
           the maximum and minimum learning rate.
        2. Batch size: per candidate an LR range test and a one-cycle
           trial of equal wall time; the lowest validation loss.
        3. Momentum: short trials at each of --momenta; the lowest.
        4. Weight decay: a grid of short one-cycle trials read by early
           validation loss, one refinement between the best two, and
           LR range tests at the chosen and the next value for the LR.
        Each trial phase runs its lowest trial again under another
        seed: that difference is the noise every choice is weighed
        against (the report's "Against the noise" column). Candidates
        closer than the noise are a tie, settled by a stated default,
        never by the end of a grid: the batch size nearest
        --start-batch-size, the momentum nearest 0.95 (Smith's usual),
        the largest weight decay at or below the prior (5e-4; 1e-4 for
        residual networks). A phase whose trials would be too short to
        separate anything (under 50 steps), or that would start after
        the tuning's share of the budget (40%), takes its default and
        says so. A budget too short for the whole recipe keeps the
        batch-size study first, then momentum, then weight decay,
        each where it fits beside those before it with range tests
        of full length and trials of twice the 50 steps; the rest
        take their defaults and say so, with the budget the whole
        recipe needs, and the time they would have taken goes to the
        final run. One too short for even the first range test and a
        final run is refused at once. A batch size whose trial would
        have under 50 steps is not tried.
        5. Regularization: LR range tests at each of --dropouts, then
           with each of --augmentations (images); the strongest whose
           validation loss is within 10% of the lowest (50% for
           augmentations, which slow early learning by design) while
           the weight decay is at or below its prior, else the weakest
           (ties do not stack regularization). --dropout or --augment
           fix one instead. Dropped first where the range tests would
           otherwise be shortened.
        6. Final one-cycle training for the rest of the budget on all
           the training data, the test set, a diagnosis of the curves.
      Each finished trial goes to DIR/journal.jsonl at once, and the
      final run saves its state after every epoch (DIR/final-state);
      after a crash or kill, the same command with --resume reuses the
      trials and continues the final run from its last epoch.
      Writes DIR/hyperparameters.json, DIR/report.html,
      DIR/model.safetensors and DIR/metrics.csv.

      Examples:
        discipline tune --model cnn --budget 20m --out runs/tune
        discipline tune --model cnn --budget 20m --out runs/tune --resume
        discipline tune --model resnet20 --augment crop-flip \\
          --budget 60m --out runs/resnet
        discipline tune --dataset spirals --model mlp --budget 1m \\
          --batch-sizes 16,32,64 --out runs/spirals
        discipline tune --budget 20m --out runs/tune-torch --command \\
          "python3 examples/pytorch/fashion_mnist.py --threads 2"

      With --command every trial runs your own training program
      (Docs/PROTOCOL.md; the Python helper in python/), its files in
      DIR/trials; its final run saves DIR/trials/final/model.pt.

      With --parallel K each phase's trials run K at a time, as
      processes here or (--executor slurm) as tasks of one Slurm job
      array per phase, and each trial gets up to K times longer; the
      final run is a spec too (it starts over on --resume, which
      re-attaches to tasks still queued or running).
        discipline tune --budget 20m --parallel 2 --out runs/tune2
        discipline tune --budget 20m --executor slurm --parallel 8 \\
          --slurm-args "--partition cpu -c 4" --out /shared/runs/tune

      With --virtual-clock R the budget is counted in work (training
      samples at R per second) instead of wall time, so a seed gives
      the same trials, choices and model on any machine at any load:
      for comparing versions or machines, not for timing.
        discipline tune --budget 20m --virtual-clock 7000 --out runs/same
      """)

  @OptionGroup(title: "Data") var data: DataOptions

  @Option(help: ModelArchitecture.help)
  var model: ModelArchitecture = .cnn

  @Option(
    help: ArgumentHelp(
      "Wall-clock budget of the whole recipe: 90s, 20m, 1h, 1h30m.", valueName: "time"))
  var budget: WallTime = WallTime(argument: "20m")!
  @Option(
    help: ArgumentHelp(
      "Count the budget in work, not wall time: training samples at this rate, evaluation at a third of the cost. The same seed then gives the same tune, choice for choice, on any machine at any load (built-in engine in this process only).",
      valueName: "samples/s"))
  var virtualClock: Double?

  @Option(
    name: .customLong("batch-sizes"),
    help: ArgumentHelp(
      "Batch-size candidates (default: powers of two from 64 up to --max-memory, at most 512).",
      valueName: "b,b,..."))
  var batchSizes: ValueList<Int>?

  @Option(name: .customLong("start-batch-size"), help: "Batch size of the first LR range test.")
  var startBatchSize: Int = 128
  @Option(
    name: .customLong("max-memory"), help: "Memory limit in MiB for the batch-size candidates.")
  var maxMemory: Double = 4096
  @Option(help: ArgumentHelp("Momentum candidates (the top of the cycle).", valueName: "m,m,..."))
  var momenta = ValueList<Double>(RecipeSettings.defaultMomenta)
  @Option(
    name: .customLong("weight-decays"),
    help: ArgumentHelp(
      "Weight-decay grid (default: from the data set's and model's size).", valueName: "wd,wd,..."))
  var weightDecays: ValueList<Double>?
  @Option(help: "Dropout before the classifier, fixed (no dropout study).") var dropout: Double?
  @Option(
    help: ArgumentHelp(
      "Dropout candidates before the classifier, chosen by LR range tests (ignored with --dropout).",
      valueName: "p,p,..."))
  var dropouts = ValueList<Double>(RecipeSettings.defaultDropouts)
  @Option(help: "Augmentation, fixed (no augmentation study): none, flip or crop-flip.")
  var augment: String?
  @Option(
    help: ArgumentHelp(
      "Augmentation candidates, weakest first, chosen by LR range tests (ignored with --augment; images only).",
      valueName: "a,a,..."))
  var augmentations = ValueList<String>(RecipeSettings.defaultAugmentations)
  @Option(help: "Output folder.") var out: String = "runs/tune"
  @OptionGroup var common: RecipeRunOptions
  @OptionGroup(title: "Your own training program") var program: ProgramOptions
  @OptionGroup(title: "Where trials run") var executor: ExecutorOptions

  func validate() throws {
    guard budget.seconds >= 30 else {
      throw ValidationError("--budget must be at least 30s, got \(budget)")
    }
    try Valid.positive("--batch-sizes", batchSizes?.values ?? [])
    try Valid.positive("--start-batch-size", startBatchSize)
    try Valid.open("--momenta", momenta.values)
    try Valid.nonNegative("--weight-decays", weightDecays?.values ?? [])
    try Valid.fraction("--dropout", dropout.map { [$0] } ?? [])
    try Valid.fraction("--dropouts", dropouts.values)
    if let virtualClock {
      guard virtualClock > 0 && virtualClock.isFinite else {
        throw ValidationError("--virtual-clock must be a positive rate, got \(virtualClock)")
      }
      guard program.command == nil && !executor.runsOutside else {
        throw ValidationError(
          "--virtual-clock counts the work of the built-in engine in this process: it does not go with --command, --parallel or --executor slurm"
        )
      }
    }
    try Valid.positive("--max-memory", maxMemory)
  }

  func run() throws {
    try reportingErrors { try tune() }
  }

  /// Every setting that changes what the trials do: the journal's header, checked on --resume.
  func settings(_ recipe: RecipeSettings) -> [String: String] {
    var s = recipe.journalHeader.merging(data.header) { a, _ in a }
    s["model"] = program.command.map { "command: \($0)" } ?? model.description
    if program.command != nil { s["dataset"] = "(your program's)" }
    s["dropout"] = dropout.map { "\($0)" } ?? "study"
    s["augment"] = augment ?? "study"
    s["virtual_clock"] = virtualClock.map { "\($0)" }
    return s
  }

  private func tune() throws {
    let commandStart = Date()
    let (outURL, stop, runner) = try recipeWorkplace(
      out: out, resume: common.resume, program: program, executor: executor)
    // The built-in engine loads the data (also to plan for it when it runs elsewhere); the
    // user's program loads its own.
    let setup =
      program.command == nil
      ? try TrainingSetup(data: data, model: model, augment: augment ?? "none", seed: common.seed)
      : nil
    var recipe = RecipeSettings(budget: budget.seconds)
    recipe.seed = common.seed
    recipe.maxMemory = maxMemory
    recipe.momenta = momenta.values
    recipe.regularization = Regularization(dropout: dropout ?? 0, augmentation: augment ?? "none")
    recipe.dropouts = dropout == nil ? dropouts.values : []
    // A program studies the augmentations it honours (its start event says).
    recipe.augmentations = augment == nil && setup?.hasImages ?? true ? augmentations.values : []
    if let setup {
      let trainCount = setup.splits.train.count
      recipe.startBatchSize = startBatchSize
      recipe.fit(
        trainingSamples: trainCount, deepNetwork: model.isDeep, batchSizes: batchSizes?.values,
        weightDecays: weightDecays?.values)
      for name in recipe.augmentations {
        _ = try Augmentation.named(
          name, sampleShape: setup.splits.train.sampleShape,
          normalization: setup.splits.normalization)
      }
      if let tooLarge = recipe.batchSizes.first(where: { $0 > trainCount }) {
        throw CommandError(
          "--batch-sizes \(tooLarge) is larger than the \(trainCount) training samples",
          exitCode: 64)
      }
      if setup.splits.validation == nil {
        printError(
          "note: no validation split (--validation-split 0): the tuning phases read the test split, which makes the final test result optimistic"
        )
      }
    } else {
      recipe.startBatchSize = startBatchSize
      if let batchSizes { recipe.batchSizes = batchSizes.values.sorted() }
      if let weightDecays { recipe.weightDecays = weightDecays.values }
    }
    let journal = try openJournal(in: outURL, settings: settings(recipe), resume: common.resume)
    if common.resume && !journal.entries.isEmpty {
      printError(
        "resuming: \(journal.entries.count) finished trial\(journal.entries.count == 1 ? "" : "s") in the journal will be reused"
      )
    }
    let what =
      setup.map {
        "\(model) (\($0.specification(dropout: 0).build(seed: common.seed).parameterCount) parameters) on \(data.dataset): \($0.sizes)"
      } ?? "your program (\(program.command!))"
    let title = setup == nil ? "your program" : "\(model) on \(data.dataset)"
    var files: TuneFiles
    if let runner {
      let backend = ProgramBackend(
        runner: runner, trialsDirectory: outURL.appendingPathComponent("trials"),
        clockStart: commandStart)
      if setup != nil {
        backend.engineSection = data.engineSection(model: model, dataSeed: common.seed)
        backend.finalModelFile = "model.safetensors"
      }
      printError(
        "tune: \(what); budget \(budget); \(executor.summary), each trial's files in \(out)/trials")
      files = TuneFiles(
        directory: outURL,
        outcome: try run(Recipe(backend: backend, settings: recipe, journal: journal), stop: stop),
        journal: journal, title: title, normalization: nil, budget: recipe.budget)
      files.modelFile = "trials/final/" + backend.finalModelFile
      // The engine's final run saved its checkpoint in its folder; it belongs beside the report.
      if setup != nil { try files.adoptModel(savedAt: files.modelFile) }
      try files.write(model: nil)
    } else if let setup {
      let finalSetup =
        data.validationSplit > 0
        ? try TrainingSetup(
          data: data.source.withoutValidation, model: model, augment: augment ?? "none",
          seed: common.seed)
        : setup
      let backend = EngineBackend(
        setup: setup, finalSetup: finalSetup,
        stateDirectory: outURL.appendingPathComponent("final-state"), resumesFinal: common.resume,
        clockStart: commandStart, workClock: virtualClock.map(WorkClock.init(samplesPerSecond:)))
      backend.onNote = { printError("note: " + $0) }
      printError("tune: \(what); budget \(budget)")
      let outcome = try run(
        Recipe(backend: backend, settings: recipe, journal: journal), stop: stop)
      files = TuneFiles(
        directory: outURL, outcome: outcome, journal: journal, title: title,
        normalization: finalSetup.splits.normalization, budget: recipe.budget)
      files.virtualClock = virtualClock
      try files.write(
        model: (
          backend.finalModel!, finalSetup.specification(dropout: Float(outcome.dropout.value))
        ))
    } else {
      return
    }
    printError(files.summary())
    if common.json { print(files.jsonLine()) }
  }

  /// Runs the recipe with progress on stderr and Ctrl-C wired to a resumable stop.
  private func run<B: TuningBackend>(_ recipe: Recipe<B>, stop: StopSignal) throws -> TuneOutcome {
    try driving(recipe, budget: recipe.settings.budget, stop: stop, out: out) { try recipe.run() }
  }
}
