import ArgumentParser
import Engine
import Foundation
import NeuralNetworks
import RangeTests
import Reports
import RunFolders
import Training
import TrialProtocol
import Tuning

/// `discipline lr-find`: the LR range test, under one or several conditions.
struct LRFindCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lr-find",
    abstract: "Run the learning-rate range test and suggest a maximum and minimum learning rate.",
    discussion: """
      Trains a fresh model for a short run while the learning rate
      rises from --start-lr to --end-lr, records the loss (and with
      --validate-every the validation loss), stops when the smoothed
      loss passes --diverge times its best, and reads the curve:
        steepest  most negative slope of the smoothed loss
        minimum   the LR of the lowest smoothed loss, divided by 10
        valley    fastai's: two thirds along the longest descent
        smith     a tenth of the largest LR at which the network
                  still trains (Smith's reading; the suggestion)
      The minimum LR is max/10 for one-cycle, max/4 for cyclic
      policies. The model and optimizer are left as they were.

      A comma list for --weight-decay, --dropout, --momentum or
      --batch-size runs one test per value (same seed, fresh model)
      and compares them on one plot.

      Writes lr_find.csv, lr_find.json and lr_find.svg into --out.

      --command runs your own training program instead of the
      built-in engine, once per test: it gets a spec (the schedule of
      learning rate and momentum for every step) and reports its
      losses as events (Docs/PROTOCOL.md; the Python helper in
      python/ does it for any torch.optim optimizer). Each test's
      files are in DIR/trials/.

      Examples:
        discipline lr-find --model cnn --out runs/lr
        discipline lr-find --model cnn --weight-decay 1e-3,1e-4,0 \\
          --validate-every 10 --out runs/lr-wd
        discipline lr-find --model cnn --mode linear --start-lr 0.01 \\
          --end-lr 2 --epochs 1 --out runs/lr-linear
        discipline lr-find --model mlp --repeats 3 --json --out runs/lr3
        discipline lr-find --num-iter 200 --validate-every 20 \\
          --command "/usr/bin/python3 examples/pytorch/fashion_mnist.py" \\
          --out runs/lr-torch
      """)

  @OptionGroup(title: "Data") var data: DataOptions

  @Option(help: ModelArchitecture.help)
  var model: ModelArchitecture = .cnn

  @Option(
    name: .customLong("batch-size"),
    help: ArgumentHelp(
      "Samples per step; a comma list overlays one test per value.", valueName: "b[,b...]"))
  var batchSize = ValueList<Int>([128])

  @Option(
    name: .customLong("weight-decay"),
    help: ArgumentHelp(
      "Weight decay; a comma list overlays one test per value.", valueName: "wd[,wd...]"))
  var weightDecay = ValueList<Double>([5e-4])

  @Option(
    help: ArgumentHelp(
      "Dropout before the classifier; a comma list overlays one test per value.",
      valueName: "p[,p...]"))
  var dropout = ValueList<Float>([0])

  @Option(
    help: ArgumentHelp(
      "Momentum (β₁ for adamw): a constant, or MAX:MIN falling as the learning rate rises; a comma list overlays one test per value.",
      valueName: "m[,max:min...]"))
  var momentum = ValueList<MomentumRange>([MomentumRange(argument: "0.9")!])

  @Option(name: .customLong("start-lr"), help: "Learning rate of the first step.") var startLR:
    Double = 1e-7
  @Option(name: .customLong("end-lr"), help: "Learning rate of the last step.") var endLR: Double =
    10
  @Option(
    name: .customLong("num-iter"),
    help: "Steps of the sweep (default: 100, or half an epoch if that is longer).") var numIter:
    Int?
  @Option(help: "Sweep length in epochs instead of --num-iter (Smith's longer linear tests).")
  var epochs: Double?
  @Option(help: "How the learning rate rises: exp (geometric) or linear.") var mode:
    ChoiceArgument<SweepMode> = ChoiceArgument(.exponential)
  @Option(help: "β of the loss's exponential moving average (bias-corrected).") var smooth: Double =
    0.98
  @Option(help: "Stop when the smoothed loss exceeds this multiple of its best.") var diverge:
    Double = 4
  @Option(
    name: .customLong("validate-every"),
    help: "Measure the validation loss every K steps (on a fixed subset).") var validateEvery: Int?
  @Option(
    name: .customLong("val-batches"),
    help: "Batches of 500 validation samples each measurement reads.") var valBatches: Int = 2
  @Option(
    help: "Run each test with this many seeds (seed, seed+1, ...) and report the median and spread."
  ) var repeats: Int = 1
  @Option(
    name: .customLong("div-factor"), help: "One-cycle minimum learning rate = maximum / this.")
  var divFactor: Double = 10
  @Option(help: "Optimizer: sgd or adamw.") var optimizer: OptimizerKind = .sgd
  @Option(help: "Augmentation: none, flip or crop-flip.") var augment: String = "none"
  @Option(help: "Seed for initialization, shuffling, dropout and augmentation.") var seed: UInt64 =
    0
  @Option(help: "Output folder.") var out: String = "runs/lr-find"
  @Flag(help: "Print the result as JSON on stdout.") var json = false
  @OptionGroup(title: "Your own training program") var program: ProgramOptions
  @OptionGroup(title: "Where trials run") var executor: ExecutorOptions

  func validate() throws {
    if program.command != nil && epochs != nil {
      throw ValidationError(
        "--epochs needs the built-in engine's epoch length; with --command give --num-iter")
    }
    try Valid.positive("--batch-size", batchSize.values)
    try Valid.nonNegative("--weight-decay", weightDecay.values)
    try Valid.fraction("--dropout", dropout.values)
    try Valid.atLeast("--num-iter", 2, numIter)
    try Valid.positive("--epochs", epochs)
    if numIter != nil && epochs != nil {
      throw ValidationError("give --num-iter or --epochs, not both")
    }
    try Valid.positive("--start-lr", startLR)
    if !(endLR > startLR) {
      throw ValidationError("--end-lr (\(endLR)) must be larger than --start-lr (\(startLR))")
    }
    try Valid.fraction("--smooth", [smooth])
    if !(diverge > 1) { throw ValidationError("--diverge must be larger than 1, got \(diverge)") }
    try Valid.positive("--validate-every", validateEvery)
    try Valid.positive("--val-batches", valBatches)
    try Valid.positive("--repeats", repeats)
    if !(divFactor > 1) {
      throw ValidationError("--div-factor must be larger than 1, got \(divFactor)")
    }
  }

  func run() throws {
    try reportingErrors { try find() }
  }

  /// One condition per combination of the listed values; each named by the values that vary.
  func conditions(stepsPerEpoch: (Int) -> Int) -> [RangeTestCondition] {
    var result: [RangeTestCondition] = []
    for b in batchSize.values {
      for wd in weightDecay.values {
        for p in dropout.values {
          for m in momentum.values {
            var names: [String] = []
            if batchSize.isOverlay { names.append("batch \(b)") }
            if weightDecay.isOverlay { names.append("wd \(formatValue(wd))") }
            if dropout.isOverlay { names.append("dropout \(p)") }
            if momentum.isOverlay { names.append("momentum \(m)") }
            let steps =
              numIter ?? epochs.map { max(2, Int(($0 * Double(stepsPerEpoch(b))).rounded())) }
              ?? max(100, stepsPerEpoch(b) / 2)
            result.append(
              RangeTestCondition(
                name: names.isEmpty ? "lr-find" : names.joined(separator: ", "), weightDecay: wd,
                momentum: m.maximum,
                minimumMomentum: m.minimum, batchSize: b, dropout: Double(p), steps: steps))
          }
        }
      }
    }
    return result
  }

  private func find() throws {
    let outURL = try prepareOutputDirectory(out)
    try clearTrials(in: outURL, resume: false)
    let stop = StopSignal()
    let runner = try executor.runner(program: program, outURL: outURL)
    let setup =
      program.command == nil
      ? try TrainingSetup(
        data: data, model: model, optimizer: optimizer, augment: augment, seed: seed) : nil
    let trainCount = setup?.splits.train.count ?? Int.max
    // A program's epoch length is its own: without --num-iter its sweeps take 100 steps.
    let conditions = conditions { b in setup == nil ? 0 : max(1, trainCount / b) }
    if let tooLarge = batchSize.values.first(where: { $0 > trainCount }) {
      throw CommandError(
        "--batch-size \(tooLarge) is larger than the \(trainCount) training samples", exitCode: 64)
    }
    let sweepMode = try mode.value(for: "--mode")
    var base = RangeTestSettings()
    base.startLearningRate = startLR
    base.endLearningRate = endLR
    base.mode = sweepMode
    base.smoothing = smooth
    base.divergenceFactor = diverge
    base.validateEvery = validateEvery
    base.validationBatches = valBatches
    if validateEvery != nil && setup?.splits.validation == nil && setup != nil {
      printError(
        "note: no validation split is held out (--validation-split 0): the validation loss is measured on the test split"
      )
    }
    let total = conditions.count * repeats
    let what = setup.map { "\(model) on \(data.dataset) (\($0.sizes))" } ?? "\(program.command!)"
    printError(
      "lr-find: \(what); \(total) range test\(total == 1 ? "" : "s") of \(Set(conditions.map { $0.steps! }).sorted().map(String.init).joined(separator: "/")) steps, learning rate \(formatValue(startLR)) → \(formatValue(endLR)) (\(sweepMode.rawValue))"
    )
    let progress = RangeTestProgress(
      total: total, conditions: conditions.map(\.name), repeats: repeats)
    let comparison: RangeTestComparison
    if let runner {
      // Each sweep runs the program (or `discipline trial`) once; the files stay in DIR/trials
      // for a look afterwards.
      let engine =
        setup == nil
        ? nil
        : data.engineSection(
          model: model, optimizer: optimizer, dataSeed: seed, evaluationBatchSize: 500)
      func spec(_ condition: RangeTestCondition, _ s: UInt64, _ settings: RangeTestSettings) -> (
        TrialSpec, URL
      ) {
        let name = conditions.count == 1 ? "" : "\(condition.name)/"
        var spec = settings.spec(
          key: "lr-find/\(name)seed-\(s)", batchSize: condition.batchSize!, seed: s,
          dropout: condition.dropout ?? 0, augmentation: augment)
        spec.engineSection = engine
        return (
          spec,
          outURL.appendingPathComponent("trials").appendingPathComponent(
            TrialSpec.directoryName(for: spec.key))
        )
      }
      comparison = try RangeTest.compare(
        conditions: conditions, repeats: repeats, seed: seed, base: base,
        oneCycleDivisor: divFactor, runner: runner, onStart: progress.start,
        onTogether: { progress.startTogether(count: $0, steps: $1, slots: runner.slots) },
        onPoint: progress.point, shouldStop: { stop.isRequested }, spec: spec)
    } else if let setup {
      comparison = try RangeTest.compare(
        conditions: conditions, repeats: repeats, seed: seed, base: base,
        oneCycleDivisor: divFactor,
        makeSession: { condition, s in
          try setup.session(
            batchSize: condition.batchSize!, dropout: Float(condition.dropout ?? 0), seed: s,
            evaluationBatchSize: 500)
        },
        onStart: progress.start, onPoint: progress.point, shouldStop: { stop.isRequested })
    } else {
      return
    }
    progress.finish()
    if stop.isRequested {
      printError("interrupted: nothing written")
      throw ExitCode(130)
    }
    let files = LRFindFiles(
      directory: outURL, comparison: comparison, mode: sweepMode,
      title: setup == nil ? "your program" : "\(model) on \(data.dataset)")
    try files.write()
    printError(files.summary())
    if standardErrorIsTerminal, let chart = files.terminalChart() { printError(chart) }
    printError("wrote lr_find.csv, lr_find.json and lr_find.svg into \(out)")
    if json { print(files.jsonLine()) }
  }
}
