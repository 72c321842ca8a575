import ArgumentParser
import Foundation
import NeuralNetworks
import Training
import Tuning

/// A length of time written 90s, 20m, 1h or 1h30m (a bare number is minutes).
struct WallTime: ExpressibleByArgument, CustomStringConvertible, Equatable {
  var seconds: Double
  init?(argument: String) {
    let text = argument.lowercased()
    if let minutes = Double(text) {
      seconds = minutes * 60
      return
    }
    var total = 0.0
    var number = ""
    for c in text {
      if c.isNumber || c == "." {
        number.append(c)
        continue
      }
      guard let value = Double(number) else { return nil }
      switch c {
      case "h": total += value * 3600
      case "m": total += value * 60
      case "s": total += value
      default: return nil
      }
      number = ""
    }
    guard number.isEmpty, total > 0 else { return nil }
    seconds = total
  }
  var description: String {
    let s = Int(seconds.rounded())
    if s % 3600 == 0 { return "\(s / 3600)h" }
    if s >= 3600 { return "\(s / 3600)h\(s / 60 % 60)m" }
    if s % 60 == 0 { return "\(s / 60)m" }
    return "\(s)s"
  }
  var defaultValueDescription: String { description }
}

/// The built-in engine behind the recipe.
final class EngineBackend: SessionBackend {
  let setup: TrainingSetup
  let finalSetup: TrainingSetup
  /// Where the final run's state is saved after every epoch (nil: it is not).
  let stateDirectory: URL?
  /// Whether a saved final run may be continued (--resume); otherwise an old one is deleted.
  let resumesFinal: Bool
  private(set) var finalModel: Module?
  /// When the command began (before loading the data): the zero of `now()`.
  private let clockStart: Date
  /// When set (`--virtual-clock`), time is the work done, counted by every session made here.
  let workClock: WorkClock?

  init(
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

  func makeSession(batchSize: Int, regularization r: Regularization, seed: UInt64) throws
    -> EngineSession
  {
    let session = try setup.session(
      batchSize: batchSize, dropout: Float(r.dropout), augment: r.augmentation, seed: seed)
    session.workClock = workClock
    return session
  }

  func makeFinalSession(batchSize: Int, regularization r: Regularization, seed: UInt64) throws
    -> EngineSession
  {
    let session = try finalSetup.session(
      batchSize: batchSize, dropout: Float(r.dropout), augment: r.augmentation, seed: seed)
    session.workClock = workClock
    finalModel = session.model
    return session
  }

  /// Peak resident memory after one step at this batch size.
  func memoryUse(batchSize: Int) -> Double? {
    guard
      let session = try? makeSession(
        batchSize: batchSize, regularization: Regularization(), seed: 0)
    else { return nil }
    _ = session.step(HyperParameters(learningRate: 1e-6, momentum: 0.9, weightDecay: 0))
    return peakMemoryMiB()
  }

  func now() -> Double { workClock?.seconds ?? Date().timeIntervalSince(clockStart) }

  func saveFinalState(_ session: EngineSession, _ record: FinalRunRecord) throws {
    guard let directory = stateDirectory else { return }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    var plan = record
    plan.history = TrainingHistory()  // the resume state keeps the history itself
    let json = String(decoding: try JSONEncoder.sorted.encode(plan), as: UTF8.self)
    try session.saveResumeState(
      to: directory, history: record.history, settings: ["final_run": json])
  }

  func loadFinalState(into session: EngineSession) throws -> FinalRunRecord? {
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
      printError(
        "note: the final run's saved state in \(directory.path) cannot be continued (\(error)); the final run starts over"
      )
      return nil
    }
  }

  func removeFinalState() {
    guard let directory = stateDirectory else { return }
    try? FileManager.default.removeItem(at: directory)
  }
}
