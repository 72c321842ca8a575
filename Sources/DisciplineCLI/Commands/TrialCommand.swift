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
    try Valid.atLeast("--threads", 1, threads)
  }

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
    let engineTrial: EngineTrial
    do { engineTrial = try EngineTrial(spec: trial, directory: directory) } catch {
      throw CommandError("\(spec): \(error)", exitCode: 65)
    }
    printError(
      "trial \(trial.key): \(engineTrial.section.model) on \(engineTrial.data.dataset), \(trial.steps) steps at batch \(trial.batchSize)"
    )
    let result = try engineTrial.run(
      threads: threads, shouldStop: { stop.isRequested || parentGone.check() })
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
