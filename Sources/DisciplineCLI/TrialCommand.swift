import ArgumentParser
import Foundation
import NeuralNetworks
import Training
import Tuning

/// `discipline trial`: runs one spec on the built-in engine, alone — what a cluster job runs.
struct TrialCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trial",
    abstract: "Run one trial spec (spec.json) on the built-in engine.",
    discussion: """
      Reads DIR/spec.json and DIR/schedule.csv (Docs/PROTOCOL.md),
      rebuilds the data set and model its "engine" section names,
      trains along the schedule, and writes DIR/events.jsonl as it
      goes and DIR/result.json at the end. A range test stops when
      its smoothed loss passes the spec's stop rule. The final run
      (final: true) trains on the training and validation data,
      reports the test split, and saves the model where save_model
      says. Ctrl-C stops after the current step (status
      "interrupted").

      Examples:
        discipline trial --spec runs/tune/trials/momentum-0.97/spec.json
      """)

  @Option(help: ArgumentHelp("The spec to run.", valueName: "DIR/spec.json")) var spec: String

  /// The engine section's keys and the options they stand for.
  static let engineOptions: [(key: String, flag: String)] = [
    ("dataset", "--dataset"), ("data_dir", "--data-dir"), ("label_column", "--label-column"),
    ("validation_split", "--validation-split"), ("samples", "--samples"), ("noise", "--noise"),
  ]

  func run() throws {
    try reportingErrors { try runSpec() }
  }

  private func runSpec() throws {
    let url = URL(fileURLWithPath: spec)
    guard FileManager.default.fileExists(atPath: url.path) else { throw CommandError("\(spec): no such file", exitCode: 66) }
    let trial = try TrialSpec.read(from: url)
    guard let engine = trial.engine else {
      throw CommandError("\(spec) has no \"engine\" section: it is a spec for your own program, not for the built-in engine", exitCode: 65)
    }
    var arguments: [String] = []
    for (key, flag) in Self.engineOptions {
      if let value = engine[key] { arguments += [flag, value] }
    }
    if trial.final { arguments += ["--validation-split", "0"] }
    let data: DataOptions
    do { data = try DataOptions.parse(arguments) } catch {
      throw CommandError("\(spec): the engine section is not valid: \(DataOptions.message(for: error))", exitCode: 65)
    }
    guard let modelName = engine["model"], let model = ModelArchitecture(argument: modelName) else {
      throw CommandError("\(spec): the engine section names no known model (\"model\": \(engine["model"] ?? "missing"))", exitCode: 65)
    }
    let optimizer = engine["optimizer"].flatMap(OptimizerKind.init(argument:)) ?? .sgd
    let setup = try TrainingSetup(data: data, model: model, optimizer: optimizer, augment: trial.augmentation, seed: trial.seed)
    let session = try setup.session(
      batchSize: trial.batchSize, dropout: Float(trial.dropout), augment: trial.augmentation, seed: trial.seed,
      evaluationBatchSize: engine["evaluation_batch_size"].flatMap(Int.init) ?? 1000)
    let stop = StopSignal()
    let started = Date()
    let runner = SessionRunner(session: session, clock: { Date().timeIntervalSince(started) }, shouldStop: { stop.isRequested })
    var divergence = trial.stopRule.map { DivergenceStop(smoothing: $0.smoothing, factor: $0.divergenceFactor) }
    let directory = url.deletingLastPathComponent()
    printError("trial \(trial.key): \(model) on \(data.dataset), \(trial.steps) steps at batch \(trial.batchSize)")
    let result = try runner.run(trial, directory: directory) { event in
      if case .train(_, let loss, _, _) = event, divergence?.observe(loss) == true { return .stop }
      return .proceed
    }
    if trial.final, let path = trial.saveModel, result.status == .finished {
      try TrainingSetup.checkpoint(setup.specification(dropout: Float(trial.dropout)), normalization: setup.splits.normalization)
        .save(session.model, to: directory.appendingPathComponent(path))
    }
    let last = result.validations.last.map { String(format: ", validation loss %.4f", $0.loss) } ?? ""
    printError("\(result.status.rawValue) after \(result.steps) steps in \(String(format: "%.1f", result.seconds)) s\(last); wrote \(directory.path)/result.json")
    if result.status == .interrupted { throw ExitCode(130) }
  }
}
