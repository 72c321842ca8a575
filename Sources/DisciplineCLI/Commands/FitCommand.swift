import ArgumentParser
import Datasets
import Engine
import Foundation
import NeuralNetworks
import Reports
import RunFolders
import Schedules
import Training

/// `discipline fit`: trains a built-in model on a data set with a learning-rate policy.
struct FitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fit",
    abstract: "Train a model with a learning-rate (and momentum) policy, then test it.",
    discussion: """
      Applies the policy's learning rate and momentum before every
      optimizer step, evaluates on the validation split every epoch
      and on the test set at the end, and writes into --out:
      metrics.csv, metrics.json, config.json, curves.svg, report.html
      and model.safetensors. Ctrl-C (or SIGTERM) stops after the
      current step and saves a resumable state; --resume continues it
      and ends with the same result as an uninterrupted run.

      Examples:
        discipline fit --model cnn --epochs 5 --batch-size 128 \\
          --policy one-cycle --max-lr 0.1 --momentum 0.95:0.85 \\
          --weight-decay 5e-4 --validation-split 0 --out runs/cnn
        discipline fit --dataset spirals --model mlp --epochs 20 \\
          --policy constant --lr 0.05 --out runs/spirals
        discipline fit --model cnn --max-lr 0.1 --out runs/cnn --resume
      """)

  @OptionGroup(title: "Data") var data: DataOptions

  @Option(help: ModelArchitecture.help)
  var model: ModelArchitecture = .cnn

  @Option(help: "Dropout probability before the classifier (0: none, as the reference models).")
  var dropout: Float = 0

  @Option(help: "Passes over the training set.") var epochs: Int = 5

  @Option(name: .customLong("batch-size"), help: "Samples per optimizer step.") var batchSize: Int =
    128

  @OptionGroup(title: "Learning-rate policy (as discipline schedule)") var policy: PolicyOptions

  @Option(
    help: ArgumentHelp(
      "Momentum (β₁ for adamw): a constant, or MAX:MIN cycled inversely to the learning rate (default: the policy's own, else 0.9).",
      valueName: "m|max:min"))
  var momentum: MomentumRange?

  @Option(help: "Optimizer: sgd or adamw.") var optimizer: OptimizerKind = .sgd
  @Option(
    name: .customLong("weight-decay"), help: "Weight decay (L2 for sgd, decoupled for adamw).")
  var weightDecay: Double = 5e-4
  @Flag(help: "Nesterov momentum (sgd).") var nesterov = false
  @Option(
    help:
      "Augmentation: none, flip (horizontal, half the samples) or crop-flip (random crop after zero-padding by 4, then flip)."
  ) var augment: String = "none"
  @Option(name: .customLong("eval-every"), help: "Evaluate every N steps instead of every epoch.")
  var evalEvery: Int?
  @Option(help: "Seed for initialization, shuffling, dropout and augmentation.") var seed: UInt64 =
    0
  @Option(help: "Output folder.") var out: String = "runs/fit"
  @Flag(help: "Continue an interrupted run in --out.") var resume = false
  @Flag(help: "Print a JSON summary on stdout.") var json = false
  /// For tests: behave as if interrupted after this many steps.
  @Option(name: .customLong("stop-after-steps"), help: .hidden) var stopAfterSteps: Int?

  func validate() throws {
    try Valid.positive("--epochs", epochs)
    try Valid.positive("--batch-size", batchSize)
    try Valid.fraction("--dropout", [dropout])
    try Valid.nonNegative("--weight-decay", [weightDecay])
    try Valid.positive("--eval-every", evalEvery)
  }

  func run() throws {
    try reportingErrors { try train() }
  }

  /// Every setting, as config.json records it and --resume checks it.
  func settings(schedule: Schedule) -> [String: String] {
    var s = data.header
    s.merge([
      "model": model.description,
      "dropout": "\(dropout)", "epochs": "\(epochs)", "batch_size": "\(batchSize)",
      "momentum": momentum?.description ?? "default", "optimizer": optimizer.rawValue,
      "weight_decay": "\(weightDecay)", "nesterov": "\(nesterov)", "augment": augment,
      "seed": "\(seed)",
      "eval_every": evalEvery.map(String.init) ?? "epoch",
    ]) { a, _ in a }
    if let policyJSON = try? JSONEncoder.sorted.encode(schedule.policy) {
      s["policy"] = String(decoding: policyJSON, as: UTF8.self)
    }
    return s
  }

  private func train() throws {
    let started = Date()
    let outURL = try prepareOutputDirectory(out)
    if resume && !ResumeRecord.exists(in: outURL) {
      throw CommandError(
        "nothing to resume in \(out): it has no resume.json (run without --resume to start)",
        exitCode: 66)
    }
    let setup = try TrainingSetup(
      data: data, model: model, optimizer: optimizer, nesterov: nesterov, augment: augment,
      seed: seed)
    let splits = setup.splits
    let spec = setup.specification(dropout: dropout)
    let session = try setup.session(batchSize: batchSize, dropout: dropout, seed: seed)
    let net = session.model
    let totalSteps = epochs * session.stepsPerEpoch
    var parameters = policy
    let policyName = try policy.policy.value(for: "--policy")
    let cyclesMomentum = policyName == .oneCycle || policyName == .cyclic
    if let momentum {
      if momentum.cycles {
        guard cyclesMomentum else {
          throw ValidationError(
            "--momentum \(momentum) cycles momentum, which only the one-cycle and cyclic policies do; give one value for \(policyName.rawValue)"
          )
        }
        parameters.parameters.maxMomentum = parameters.parameters.maxMomentum ?? momentum.maximum
        parameters.parameters.baseMomentum = parameters.parameters.baseMomentum ?? momentum.minimum
      } else if cyclesMomentum && parameters.parameters.cycleMomentum == nil {
        parameters.parameters.cycleMomentum = false
      }
    }
    let schedule = try parameters.makeSchedule(totalSteps: totalSteps)
    let settings = settings(schedule: schedule)
    var history = TrainingHistory()
    if resume {
      let record = try session.loadResumeState(from: outURL)
      if let change = record.firstChange(to: settings) {
        throw CommandError("cannot resume \(out) with different settings: \(change)", exitCode: 64)
      }
      history = record.history
      printError("resuming at step \(record.stepsTaken) of \(totalSteps)")
    }
    try writeJSON(settings, to: outURL.appendingPathComponent("config.json"))

    let trainer = Trainer(
      session: session, schedule: schedule, epochs: epochs,
      constantMomentum: momentum?.maximum ?? 0.9, weightDecay: weightDecay,
      evaluationInterval: evalEvery, history: history)
    let display = ProgressDisplay(batchSize: batchSize)
    display.evaluationName = session.validationSplitName
    trainer.onEvent = display.handle
    printError(
      "training \(model) (\(net.parameterCount) parameters) on \(data.dataset): \(splits.train.count) training, \(splits.validation?.count ?? 0) validation, \(splits.test.count) test samples; \(epochs) epochs of \(session.stepsPerEpoch) steps"
    )
    let stop = StopSignal()
    let outcome = trainer.run(shouldStop: { [stopAfterSteps] in
      stop.isRequested || stopAfterSteps.map { session.stepsTaken >= $0 } ?? false
    })
    var files = RunFiles(directory: outURL)
    files.evaluationName = session.validationSplitName
    try files.writeMetrics(trainer.history)
    if case .interrupted(let step) = outcome {
      try session.saveResumeState(to: outURL, history: trainer.history, settings: settings)
      printError(
        "stopped after step \(step) of \(totalSteps); resumable state saved in \(out) — continue with the same command and --resume"
      )
      throw ExitCode(130)
    }
    if case .diverged(let step) = outcome {
      throw CommandError(
        "training diverged: the loss became \(trainer.history.steps.last?.loss ?? .nan) at step \(step) (learning rate \(trainer.history.steps.last?.learningRate ?? 0)); try a smaller --max-lr",
        exitCode: 1)
    }
    ResumeRecord.remove(from: outURL)
    let test = session.evaluate(.test, maxBatches: nil)
    let seconds = Date().timeIntervalSince(started)
    try Checkpoint(spec, normalization: splits.normalization).save(
      net, to: outURL.appendingPathComponent("model.safetensors"))
    let summary = FitSummary(
      test: test, history: trainer.history, stepsPerEpoch: session.stepsPerEpoch, seconds: seconds)
    try files.writeSummary(summary)
    try files.writeCharts(
      trainer.history, title: "\(model) on \(data.dataset)", settings: settings, summary: summary)
    printError(
      String(
        format: "test loss %.4f, test accuracy %.2f%% after %d epochs in %@; results in %@",
        test.loss, 100 * (test.accuracy ?? .nan), epochs, formatDuration(seconds), out))
    if standardErrorIsTerminal {
      printError(files.terminalChart(trainer.history))
    }
    if json { print(summary.jsonLine()) }
  }
}
