import Foundation
import NeuralNetworks
import Training
import Tuning

/// The built-in engine behind the recipe.
public final class EngineBackend: SessionBackend {
  public let setup: TrainingSetup
  public let finalSetup: TrainingSetup
  /// Where the final run's state is saved after every epoch (nil: it is not).
  public let stateDirectory: URL?
  /// Whether a saved final run may be continued (--resume); otherwise an old one is deleted.
  public let resumesFinal: Bool
  public private(set) var finalModel: Module?
  /// Says what the user should know (a saved final state that cannot be continued).
  public var onNote: ((String) -> Void)?
  /// When the command began (before loading the data): the zero of `now()`.
  private let clockStart: Date
  /// When set (`--virtual-clock`), time is the work done, counted by every session made here.
  public let workClock: WorkClock?

  public init(
    setup: TrainingSetup, finalSetup: TrainingSetup, stateDirectory: URL? = nil,
    resumesFinal: Bool = false,
    clockStart: Date = Date(), workClock: WorkClock? = nil
  ) {
    self.clockStart = clockStart
    self.workClock = workClock
    self.setup = setup
    self.finalSetup = finalSetup
    self.stateDirectory = stateDirectory
    self.resumesFinal = resumesFinal
  }

  public func makeSession(batchSize: Int, regularization r: Regularization, seed: UInt64) throws
    -> EngineSession
  {
    let session = try setup.session(
      batchSize: batchSize, dropout: Float(r.dropout), augment: r.augmentation, seed: seed)
    session.workClock = workClock
    return session
  }

  public func makeFinalSession(batchSize: Int, regularization r: Regularization, seed: UInt64)
    throws
    -> EngineSession
  {
    let session = try finalSetup.session(
      batchSize: batchSize, dropout: Float(r.dropout), augment: r.augmentation, seed: seed)
    session.workClock = workClock
    finalModel = session.model
    return session
  }

  /// Peak resident memory after one step at this batch size.
  public func memoryUse(batchSize: Int) -> Double? {
    guard
      let session = try? makeSession(
        batchSize: batchSize, regularization: Regularization(), seed: 0)
    else { return nil }
    _ = session.step(HyperParameters(learningRate: 1e-6, momentum: 0.9, weightDecay: 0))
    return peakMemoryMiB()
  }

  public func now() -> Double { workClock?.seconds ?? Date().timeIntervalSince(clockStart) }

  public func saveFinalState(_ session: EngineSession, _ record: FinalRunRecord) throws {
    guard let directory = stateDirectory else { return }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var plan = record
    plan.history = TrainingHistory()  // the resume state keeps the history itself
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let json = String(decoding: try encoder.encode(plan), as: UTF8.self)
    try session.saveResumeState(
      to: directory, history: record.history, settings: ["final_run": json])
  }

  public func loadFinalState(into session: EngineSession) throws -> FinalRunRecord? {
    guard let directory = stateDirectory, resumesFinal, ResumeRecord.exists(in: directory) else {
      return nil
    }
    let fresh = session.snapshot()
    do {
      let saved = try session.loadResumeState(from: directory)
      guard let json = saved.settings["final_run"] else { return nil }
      var record = try JSONDecoder().decode(FinalRunRecord.self, from: Data(json.utf8))
      record.history = saved.history
      return record
    } catch {
      session.restore(fresh)
      onNote?(
        "the final run's saved state in \(directory.path) cannot be continued (\(error)); the final run starts over"
      )
      return nil
    }
  }

  public func removeFinalState() {
    guard let directory = stateDirectory else { return }
    try? FileManager.default.removeItem(at: directory)
  }
}

/// The process's peak resident memory (VmHWM), in MiB.
public func peakMemoryMiB() -> Double {
  guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
    return 0
  }
  for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
    let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
    return kb / 1024
  }
  return 0
}
