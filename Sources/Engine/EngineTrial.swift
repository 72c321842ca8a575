import Foundation
import NeuralNetworks
import RangeTests
import RunFolders
import Runners
import Tensors
import Training
import TrialProtocol

/// One spec on the built-in engine, alone (`discipline trial --spec`, what a Slurm task runs):
/// the data and model its engine section names, trained along its schedule in its folder.
public struct EngineTrial {
  public let spec: TrialSpec
  public let directory: URL
  public let section: EngineSection
  /// The data as the trial trains on it: a final run's without a validation split.
  public var data: DataDescription {
    spec.final ? section.data.withoutValidation : section.data
  }

  /// Reads the spec's engine section; a spec without one (for the user's program) or with a
  /// bad one throws an `EngineSetupError` naming what is wrong.
  public init(spec: TrialSpec, directory: URL) throws {
    guard let fields = spec.engineSection else {
      throw EngineSetupError(
        description:
          "it has no \"engine\" section: it is a spec for your own program, not for the built-in engine"
      )
    }
    self.spec = spec
    self.directory = directory
    section = try EngineSection(fields: fields)
  }

  /// Trains the spec: events to `events.jsonl` as it goes, `result.json` at the end. It stops
  /// when `shouldStop` says so, when the spec's folder gets a stop file, or (a range test) when
  /// its loss passes the spec's stop rule; it follows a rewritten schedule. A finished final
  /// run saves its model where `save_model` says.
  public func run(threads: Int?, shouldStop: @escaping () -> Bool) throws -> TrialRunResult {
    if let threads { DNNL.setThreadCount(threads) }
    // The split is the one the command that wrote the spec made; the session's seed is the spec's.
    let setup = try TrainingSetup(
      data: data, model: section.model, optimizer: section.optimizer,
      augment: spec.augmentation, seed: section.dataSeed ?? spec.seed)
    let session = try setup.session(
      batchSize: spec.batchSize, dropout: Float(spec.dropout), augment: spec.augmentation,
      seed: spec.seed, evaluationBatchSize: section.evaluationBatchSize ?? 1000)
    let started = Date()
    var runner = SessionRunner(session: session, clock: { Date().timeIntervalSince(started) })
    runner.writesSpec = false
    let stopURL = directory.appendingPathComponent(TrialSpec.stopFile)
    runner.stopRequested = { FileManager.default.fileExists(atPath: stopURL.path) }
    runner.reloadSpec = ScheduleWatch(directory: directory).check
    var divergence = spec.stopRule.map {
      DivergenceStop(smoothing: $0.smoothing, factor: $0.divergenceFactor)
    }
    let result = try runner.run(spec, directory: directory, shouldStop: shouldStop) { event in
      if case .train(_, let loss, _, _) = event, divergence?.observe(loss) == true { return .stop }
      return .proceed
    }
    if spec.final, let path = spec.saveModel, result.status == .finished {
      try Checkpoint(
        setup.specification(dropout: Float(spec.dropout)),
        normalization: setup.splits.normalization
      )
      .save(session.model, to: directory.appendingPathComponent(path))
    }
    return result
  }
}
