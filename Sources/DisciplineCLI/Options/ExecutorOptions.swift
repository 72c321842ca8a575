import ArgumentParser
import Engine
import Training
import Foundation
import NeuralNetworks
import Runners
import TrialProtocol
import Tuning

/// Where the trials run: `--executor`, `--parallel` and `--slurm-args`, shared by `tune`,
/// `study` and `lr-find`.
struct ExecutorOptions: ParsableArguments {
  enum Kind: String, ExpressibleByArgument, CaseIterable {
    case local, slurm
  }

  @Option(
    help: ArgumentHelp(
      "Where trials run: local (this machine) or slurm (each phase's trials as one job array; needs a filesystem the nodes share for the binary, the data and --out).",
      valueName: "local|slurm"))
  var executor: Kind = .local

  @Option(
    help: ArgumentHelp(
      "Trials run at once: local processes side by side (the cores split between them), or Slurm tasks of an array (%K). With K slots each trial gets up to K times longer.",
      valueName: "K"))
  var parallel: Int = 1

  @Option(
    name: .customLong("slurm-args"), parsing: .unconditional,
    help: ArgumentHelp(
      "Arguments passed to sbatch as they are (quotes group words): partition, account, time, cpus, gres. Without -c each task gets the cores of this machine split by --parallel.",
      valueName: "args"))
  var slurmArgs: String?

  func validate() throws {
    try Valid.atLeast("--parallel", 1, parallel)
    if slurmArgs != nil && executor != .slurm {
      throw ValidationError("--slurm-args needs --executor slurm")
    }
    if let slurmArgs {
      let words: [String]
      do { words = try CommandRunner.split(slurmArgs) } catch {
        throw ValidationError("--slurm-args: \(error.description)")
      }
      if let option = SlurmRunner.overridingOption(in: words) {
        throw ValidationError(SlurmRunner.overrideMessage(option))
      }
    }
  }

  /// Whether trials run outside this process (the built-in engine as `discipline trial`).
  var runsOutside: Bool { executor == .slurm || parallel > 1 }

  /// Cores of this machine each of `parallel` trials may use.
  var threadsPerTrial: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / parallel) }

  /// The runner of the trials: the user's program or `discipline trial` (the engine), as local
  /// processes or Slurm tasks; nil for the built-in engine in this process (one trial at a time).
  /// The runner of a command writing into `outURL`: Slurm's task logs in DIR/trials/slurm,
  /// its notes on stderr.
  func runner(program: ProgramOptions, outURL: URL) throws -> (any TrialRunner)? {
    try runner(
      program: program, logDirectory: outURL.appendingPathComponent("trials/slurm"),
      onNote: { printError("  note: " + $0) })
  }

  func runner(
    program: ProgramOptions, logDirectory: URL, onNote: @escaping (String) -> Void
  ) throws -> (any TrialRunner)? {
    let trialCommand = [selfExecutable, "trial"]
    switch executor {
    case .local:
      let runner: CommandRunner
      if let command = program.command {
        runner = try program.commandRunner(command)
      } else if parallel > 1 {
        runner = CommandRunner(
          arguments: trialCommand + ["--spec", "{spec}", "--threads", "{threads}"],
          trialTimeout: program.trialTimeout)
      } else {
        return nil
      }
      runner.slots = parallel
      if parallel > 1 { runner.threadsPerSlot = threadsPerTrial }
      runner.onNote = onNote
      return runner
    case .slurm:
      let task =
        trialCommand
        + (program.command.map { ["--command", $0, "--trial-timeout", "\(program.trialTimeout)"] }
          ?? [])
      let runner = SlurmRunner(
        taskCommand: task, slots: parallel,
        slurmArguments: try slurmArgs.map(CommandRunner.split) ?? [], cpusPerTask: threadsPerTrial,
        trialTimeout: program.trialTimeout, logDirectory: logDirectory)
      runner.onNote = onNote
      return runner
    }
  }

  /// A line for the command's start: where the trials run.
  var summary: String {
    switch executor {
    case .local:
      parallel > 1
        ? "\(parallel) trials at a time on this machine, \(threadsPerTrial) thread\(threadsPerTrial == 1 ? "" : "s") each"
        : "one trial at a time on this machine"
    case .slurm:
      "Slurm job arrays, \(parallel) task\(parallel == 1 ? "" : "s") at a time\(slurmArgs.map { " (sbatch \($0))" } ?? "")"
    }
  }
}

/// This program's own path, for the trials it runs as `discipline trial` (on a cluster, the
/// nodes need it at the same path).
let selfExecutable: String = {
  if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
    return path
  }
  return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
}()

extension DataOptions {
  /// The engine section of a spec (`EngineSection`): what `discipline trial` needs to load the
  /// same data, split under `dataSeed`.
  func engineSection(
    model: ModelArchitecture, optimizer: OptimizerKind = .sgd, dataSeed: UInt64,
    evaluationBatchSize: Int? = nil
  ) -> [String: String] {
    EngineSection(
      data: source, model: model, optimizer: optimizer, dataSeed: dataSeed,
      evaluationBatchSize: evaluationBatchSize
    ).fields
  }
}
