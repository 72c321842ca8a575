import ArgumentParser
import Engine
import Foundation
import NeuralNetworks
import RangeTests
import RunFolders
import Runners
import Tensors
import Training
import TrialProtocol
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

      The run stops as asked when DIR/stop appears (status "stopped"),
      and re-reads a rewritten DIR/schedule.csv (a final run re-planned
      shorter). With --command it runs your program on the spec
      instead, watching its events and writing result.json as
      discipline does: what each task of a Slurm job array runs.

      Examples:
        discipline trial --spec runs/tune/trials/momentum-0.97/spec.json
        discipline trial --spec DIR/spec.json --threads 4 \\
          --command "python3 train.py"
      """)

  @Option(help: ArgumentHelp("The spec to run.", valueName: "DIR/spec.json")) var spec: String
  @Option(help: ArgumentHelp("Threads to train with (default: every core).", valueName: "n"))
  var threads: Int?
  @OptionGroup(title: "Your own training program") var program: ProgramOptions

  func validate() throws {
    if let threads, threads < 1 {
      throw ValidationError("--threads must be at least 1, got \(threads)")
    }
  }

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
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw CommandError("\(spec): no such file", exitCode: 66)
    }
    let trial = try TrialSpec.read(from: url)
    for field in TrialSpec.unknownFields(at: url) {
      printError(
        "warning: \(spec): unknown field \"\(field.printable)\" is ignored (a newer discipline's, or a misspelt one?)"
      )
    }
    let directory = url.deletingLastPathComponent()
    let stop = StopSignal()
    let parentGone = ParentWatch()
    if let command = program.command {
      let runner = try program.commandRunner(command)
      runner.writesSpec = false
      runner.threadsPerSlot = threads
      runner.onNote = { printError("note: " + $0) }
      printError("trial \(trial.key): \(command), \(trial.steps) steps at batch \(trial.batchSize)")
      let result = try runner.run(
        trial, directory: directory, shouldStop: { stop.isRequested || parentGone.check() }
      ) { _ in .proceed }
      try finish(result, directory: directory)
      return
    }
    if let threads { DNNL.setThreadCount(threads) }
    guard let engine = trial.engineSection else {
      throw CommandError(
        "\(spec) has no \"engine\" section: it is a spec for your own program, not for the built-in engine",
        exitCode: 65)
    }
    var arguments: [String] = []
    for (key, flag) in Self.engineOptions {
      if let value = engine[key] { arguments += [flag, value] }
    }
    if trial.final { arguments += ["--validation-split", "0"] }
    let data: DataOptions
    do { data = try DataOptions.parse(arguments) } catch {
      throw CommandError(
        "\(spec): the engine section is not valid: \(DataOptions.message(for: error))", exitCode: 65
      )
    }
    guard let modelName = engine["model"], let model = ModelArchitecture(argument: modelName) else {
      throw CommandError(
        "\(spec): the engine section names no known model (\"model\": \(engine["model"] ?? "missing"))",
        exitCode: 65)
    }
    let optimizer = engine["optimizer"].flatMap(OptimizerKind.init(argument:)) ?? .sgd
    // The split is the one the command that wrote the spec made; the session's seed is the spec's.
    let setup = try TrainingSetup(
      data: data, model: model, optimizer: optimizer, augment: trial.augmentation,
      seed: engine["data_seed"].flatMap { UInt64($0) } ?? trial.seed)
    let session = try setup.session(
      batchSize: trial.batchSize, dropout: Float(trial.dropout), augment: trial.augmentation,
      seed: trial.seed,
      evaluationBatchSize: engine["evaluation_batch_size"].flatMap(Int.init) ?? 1000)
    let started = Date()
    var runner = SessionRunner(session: session, clock: { Date().timeIntervalSince(started) })
    runner.writesSpec = false
    let stopURL = directory.appendingPathComponent(TrialSpec.stopFile)
    runner.stopRequested = { FileManager.default.fileExists(atPath: stopURL.path) }
    runner.reloadSpec = ScheduleWatch(directory: directory).check
    var divergence = trial.stopRule.map {
      DivergenceStop(smoothing: $0.smoothing, factor: $0.divergenceFactor)
    }
    printError(
      "trial \(trial.key): \(model) on \(data.dataset), \(trial.steps) steps at batch \(trial.batchSize)"
    )
    let result = try runner.run(
      trial, directory: directory, shouldStop: { stop.isRequested || parentGone.check() }
    ) { event in
      if case .train(_, let loss, _, _) = event, divergence?.observe(loss) == true { return .stop }
      return .proceed
    }
    if trial.final, let path = trial.saveModel, result.status == .finished {
      try Checkpoint(
        setup.specification(dropout: Float(trial.dropout)),
        normalization: setup.splits.normalization
      )
      .save(session.model, to: directory.appendingPathComponent(path))
    }
    try finish(result, directory: directory)
  }

  private func finish(_ result: TrialRunResult, directory: URL) throws {
    let last =
      result.validations.last.map { String(format: ", validation loss %.4f", $0.loss) } ?? ""
    printError(
      "\(result.status.rawValue) after \(result.steps) steps in \(String(format: "%.1f", result.seconds)) s\(last); wrote \(directory.path)/result.json"
    )
    if let message = result.message { printError(message) }
    if result.status == .interrupted { throw ExitCode(130) }
  }
}

/// Whether the discipline that started this process (DISCIPLINE_PID) has gone: a trial it left
/// behind when killed stops instead of training for nobody. Checked at most once a second.
final class ParentWatch {
  private let pid = ProcessInfo.processInfo.environment["DISCIPLINE_PID"].flatMap { pid_t($0) }
  private var last = Date.distantPast
  private var gone = false
  func check() -> Bool {
    guard let pid, !gone, Date().timeIntervalSince(last) >= 1 else { return gone }
    last = Date()
    gone = kill(pid, 0) != 0 && errno == ESRCH
    return gone
  }
}

/// Notices a rewritten schedule.csv (a final run re-planned shorter by the discipline watching
/// it) and reads the spec again. Checked at most once a second.
final class ScheduleWatch {
  let directory: URL
  private var stamp: Date?
  private var last = Date()
  init(directory: URL) {
    self.directory = directory
    stamp = modified()
  }
  private func modified() -> Date? {
    (try? FileManager.default.attributesOfItem(
      atPath: directory.appendingPathComponent(TrialSpec.scheduleFile).path))?[.modificationDate]
      as? Date
  }
  func check() -> TrialSpec? {
    guard Date().timeIntervalSince(last) >= 1 else { return nil }
    last = Date()
    let now = modified()
    guard now != stamp else { return nil }
    stamp = now
    return try? TrialSpec.read(from: directory.appendingPathComponent(TrialSpec.specFile))
  }
}
