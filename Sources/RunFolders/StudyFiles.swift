import Foundation
import Tuning

/// What `discipline study` leaves behind: study.json (the choice, its reason, every trial) and
/// study.svg (the trials' curves; for weight decay, loss against the decay).
public struct StudyFiles {
  public struct Output: Encodable {
    public struct Row: Encodable {
      var label: String
      var batch_size: Int
      var max_lr: Double
      var momentum: [Double]
      var weight_decay: Double
      var steps: Int
      var seconds: Double
      var val_loss: Double?
      var val_accuracy: Double?
      var diverged: Bool
    }
    var study: String
    var choice: Double
    var reason: String
    var max_lr: Double
    var trials: [Row]
  }

  public let directory: URL
  /// The study's name as the command takes it ("weight-decay") and the phase it ran.
  public let study: String
  public let phase: Phase
  public let output: Output
  let trials: [JournalEntry]

  /// The study's files from its journal: the trials of `phase` that finished, the choice with
  /// its reason, and the peak learning rate the trials used.
  public init(
    directory: URL, study: String, phase: Phase, choice: Double, reason: String,
    maxLearningRate: Double, journal: Journal
  ) {
    self.directory = directory
    self.study = study
    self.phase = phase
    trials = journal.entries.filter { $0.phase == phase && $0.result != nil }
    let rows = trials.map { e in
      Output.Row(
        label: e.label, batch_size: e.trial!.batchSize, max_lr: e.trial!.maxLearningRate,
        momentum: [e.trial!.maxMomentum, e.trial!.minMomentum],
        weight_decay: e.trial!.weightDecay, steps: e.result!.losses.count, seconds: e.seconds,
        val_loss: e.result!.diverged ? nil : e.result!.finalValidationLoss,
        val_accuracy: e.result!.diverged ? nil : e.result!.finalValidationAccuracy,
        diverged: e.result!.diverged)
    }
    output = Output(
      study: study, choice: choice, reason: reason, max_lr: maxLearningRate, trials: rows)
  }

  /// Writes study.json and study.svg.
  public func write() throws {
    try writeJSON(output, to: directory.appendingPathComponent("study.json"))
    let chart =
      phase == .weightDecay
      ? TrialCharts.weightDecay(trials, chosen: output.choice)
      : TrialCharts.curves(
        trials, title: "Validation loss of the \(phase.rawValue) trials",
        x: phase == .batchSize ? .seconds : .steps)
    do {
      try chart.svg().write(
        to: directory.appendingPathComponent("study.svg"), atomically: true, encoding: .utf8)
    } catch {
      throw RunFolderError(
        "cannot write into \(directory.path): \(error.localizedDescription)", exitCode: 73)
    }
  }

  /// study.json's content as one line (`--json`).
  public func jsonLine() -> String { JSONEncoder.line(output) }
}
