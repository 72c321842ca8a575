import ArgumentParser
import Datasets
import Engine
import Foundation
import NeuralNetworks
import Optimizers
import RangeTests
import RunFolders
import Runners
import Training
import TrialProtocol
import Tuning

/// Where the data comes from: `--dataset` and its options, shared by every training command.
struct DataOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Data set: fashion-mnist, mnist, cifar10, cifar100, csv:PATH, spirals or blobs.",
      valueName: "name"))
  var dataset: String = "fashion-mnist"

  @Option(
    name: .customLong("data-dir"),
    help: "Folder holding the data set's files (default: the Debian package's folder).")
  var dataDirectory: String?

  @Option(name: .customLong("label-column"), help: "csv: the column holding the class label.")
  var labelColumn: String = "label"

  @Option(
    name: .customLong("validation-split"),
    help: "Share of the training set held out for validation (0 trains on all of it).")
  var validationSplit: Double = 0.1

  @Option(help: "spirals, blobs: number of training samples.")
  var samples: Int = 1000

  @Option(help: "spirals, blobs: noise level.")
  var noise: Double?

  func validate() throws {
    try Valid.fraction("--validation-split", [validationSplit])
    try Valid.positive("--samples", samples)
  }

  /// The data's part of a run's settings (config.json, the journal's header).
  var header: [String: String] {
    var s = ["dataset": dataset, "validation_split": "\(validationSplit)"]
    s["data_dir"] = dataDirectory
    if dataset.hasPrefix("spirals") || dataset.hasPrefix("blobs") {
      s["samples"] = "\(samples)"
      s["noise"] = noise.map { "\($0)" } ?? "default"
    }
    return s
  }

  /// What the options say, for the layers below.
  var source: DataDescription {
    DataDescription(
      dataset: dataset, dataDirectory: dataDirectory, labelColumn: labelColumn,
      validationSplit: validationSplit, samples: samples, noise: noise)
  }
}

/// Runs a command body, turning the errors a user can cause into one line on stderr and the
/// conventional exit code (64 usage, 65 bad data, 66 missing input, 73 cannot create output).
func reportingErrors(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as any UserFacingError {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    throw ExitCode(error.exitCode)
  }
}

/// An error a user can cause: it says what was wrong in one line, and which exit code it ends with.
protocol UserFacingError: Error, CustomStringConvertible {
  var exitCode: Int32 { get }
}

extension DataError: UserFacingError {}
extension CheckpointError: UserFacingError {}
extension CommandError: UserFacingError {}
extension RunFolderError: UserFacingError {}
extension OptimizerStateError: UserFacingError { var exitCode: Int32 { 65 } }
extension ProgramError: UserFacingError { var exitCode: Int32 { 1 } }
extension TrialProtocolError: UserFacingError { var exitCode: Int32 { 65 } }
extension RangeTestError: UserFacingError { var exitCode: Int32 { 1 } }
extension RecipeError: UserFacingError { var exitCode: Int32 { 1 } }
extension EngineSetupError: UserFacingError { var exitCode: Int32 { 64 } }
/// The journal cannot be written (EX_CANTCREAT).
extension JournalError: UserFacingError { var exitCode: Int32 { 73 } }

/// `--command` and its limits: the user's training program as the runner of every trial.
struct ProgramOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Your training program, run once per trial instead of the built-in engine: an argument vector (quotes group words; no shell) with placeholders {spec}, {dir}, {batch_size}, {seed}, {weight_decay}, {dropout}, {augmentation}, {steps}, {kind}, {key}, {threads}. See Docs/PROTOCOL.md and python/.",
      valueName: "command"))
  var command: String?

  @Option(
    name: .customLong("trial-timeout"),
    help: ArgumentHelp(
      "Seconds without an event from --command after which its trial fails.", valueName: "seconds"))
  var trialTimeout: Double = 600

  func validate() throws {
    try Valid.positive("--trial-timeout", trialTimeout)
    if let command { _ = try commandRunner(command) }
  }

  /// The runner of --command on this machine.
  func commandRunner(_ command: String) throws -> CommandRunner {
    do {
      return try CommandRunner(command: command, trialTimeout: trialTimeout)
    } catch {
      throw ValidationError(error.description)
    }
  }
}

/// A problem in the command's own work (output folder, resume state).
struct CommandError: Error, CustomStringConvertible {
  var description: String
  var exitCode: Int32
  init(_ description: String, exitCode: Int32 = 65) {
    self.description = description
    self.exitCode = exitCode
  }
}

extension ModelArchitecture: ExpressibleByArgument {
  public init?(argument: String) { self.init(argument) }

  /// The models a user can name, for every command's help and errors.
  static let names = "mlp, cnn or resnetN (N = 6n+2: 8, 20, 32, 56, ...)"
  static let help = ArgumentHelp("Model: \(names).")
}

extension OptimizerKind: ExpressibleByArgument {}

/// `--momentum 0.9` (constant) or `--momentum 0.95:0.85` (cycled from the first value down to
/// the second while the learning rate rises).
struct MomentumRange: ExpressibleByArgument, CustomStringConvertible, Codable, Equatable {
  var maximum: Double
  var minimum: Double
  var cycles: Bool { maximum != minimum }

  init?(argument: String) {
    let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count), let high = Double(parts[0]), let low = Double(parts.last!),
      high.isFinite, low.isFinite, high >= 0, low >= 0, high < 1, low <= high
    else { return nil }
    maximum = high
    minimum = low
  }

  var description: String { cycles ? "\(maximum):\(minimum)" : "\(maximum)" }
}

/// Whether standard error is a terminal (progress bars) or a file or pipe (plain lines).
var standardErrorIsTerminal: Bool { isatty(2) != 0 }
var standardOutputIsTerminal: Bool { isatty(1) != 0 }

func printError(_ text: String, terminator: String = "\n") {
  FileHandle.standardError.write(Data((text + terminator).utf8))
}

/// The seed, resuming and JSON output of the commands that run the recipe (`tune`, `study`).
struct RecipeRunOptions: ParsableArguments {
  @Option(help: "Seed for every model, shuffle and trial.") var seed: UInt64 = 0
  @Flag(help: "Continue an interrupted run in --out, reusing its finished trials.")
  var resume = false
  @Flag(help: "Print the result as JSON on stdout.") var json = false
}
