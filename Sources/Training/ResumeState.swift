import Foundation
import NeuralNetworks
import Optimizers
import Randomness
import Tensors

/// A run's position saved to disk so `--resume` continues it exactly: the model's weights and
/// buffers (`resume.safetensors`), and the optimizer state, dropout generators, step count,
/// history and the settings it was started with (`resume.json`).
public struct ResumeRecord: Codable {
  public var stepsTaken: Int
  public var optimizer: OptimizerState
  public var generators: [SeededGenerator]
  public var history: TrainingHistory
  /// The run's settings, to refuse resuming with different ones.
  public var settings: [String: String]

  /// The first setting (by name) that differs from `settings`, as "name was A, now B": a run
  /// is resumed only with the settings it started with.
  public func firstChange(to settings: [String: String]) -> String? {
    let changed = Set(settings.keys).union(self.settings.keys).sorted().filter {
      self.settings[$0] != settings[$0]
    }
    return changed.first.map {
      "\($0) was \(self.settings[$0] ?? "unset"), now \(settings[$0] ?? "unset")"
    }
  }

  static let weightsFile = "resume.safetensors"
  static let stateFile = "resume.json"

  /// Whether `directory` holds a resumable state.
  public static func exists(in directory: URL) -> Bool {
    FileManager.default.fileExists(atPath: directory.appendingPathComponent(stateFile).path)
  }

  /// Removes a saved state (after a run finishes).
  public static func remove(from directory: URL) {
    for name in [weightsFile, stateFile] {
      try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
    }
  }
}

extension EngineSession {
  /// Saves everything needed to continue this run bit-identically.
  public func saveResumeState(
    to directory: URL, history: TrainingHistory, settings: [String: String]
  ) throws {
    let state = snapshot()
    try Safetensors.write(
      model.stateDictionary(), metadata: ["steps_taken": String(stepsTaken)],
      to: directory.appendingPathComponent(ResumeRecord.weightsFile))
    let record = ResumeRecord(
      stepsTaken: state.stepsTaken, optimizer: state.optimizer,
      generators: state.generators, history: history, settings: settings)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    try encoder.encode(record).write(
      to: directory.appendingPathComponent(ResumeRecord.stateFile), options: .atomic)
  }

  /// Reads a saved state, checks it fits this session, and restores it.
  /// - Returns: the saved record (history and settings).
  public func loadResumeState(from directory: URL) throws -> ResumeRecord {
    let stateURL = directory.appendingPathComponent(ResumeRecord.stateFile)
    guard FileManager.default.fileExists(atPath: stateURL.path) else {
      throw CheckpointError.unreadable(
        path: stateURL.path,
        reason: "there is no saved state in \(directory.path) to continue (no run saved one there)")
    }
    let record: ResumeRecord
    do {
      record = try JSONDecoder().decode(ResumeRecord.self, from: Data(contentsOf: stateURL))
    } catch let error as DecodingError {
      throw CheckpointError.badResumeState(path: stateURL.path, reason: Self.describe(error))
    } catch {
      throw CheckpointError.unreadable(path: stateURL.path, reason: error.localizedDescription)
    }
    let weightsURL = directory.appendingPathComponent(ResumeRecord.weightsFile)
    let (tensors, metadata) = try Safetensors.read(weightsURL)
    // The two files are written one after the other; a kill between them leaves a pair from
    // different steps.
    if let steps = metadata["steps_taken"], steps != String(record.stepsTaken) {
      throw CheckpointError.notSafetensors(
        path: weightsURL.path,
        reason:
          "its weights are from step \(steps) but \(ResumeRecord.stateFile) is from step \(record.stepsTaken) (a write was cut off)"
      )
    }
    try optimizer.validate(record.optimizer)
    try model.load(tensors, path: weightsURL.path)
    var state = snapshot()
    state.optimizer = record.optimizer
    state.generators = record.generators
    state.stepsTaken = record.stepsTaken
    state.model = model.snapshot()
    restore(state)
    return record
  }
}

extension EngineSession {
  /// A decoding error in a sentence: where in the file and what was wrong.
  static func describe(_ error: DecodingError) -> String {
    func place(_ path: [CodingKey]) -> String {
      path.isEmpty
        ? "at the top level" : "at '" + path.map(\.stringValue).joined(separator: ".") + "'"
    }
    switch error {
    case .dataCorrupted(let c):
      return c.codingPath.isEmpty
        ? "not valid JSON" : "\(place(c.codingPath)): \(c.debugDescription)"
    case .keyNotFound(let key, let c):
      return "\(place(c.codingPath)): no '\(key.stringValue)'"
    case .typeMismatch(_, let c), .valueNotFound(_, let c):
      return "\(place(c.codingPath)): \(c.debugDescription)"
    @unknown default:
      return "\(error)"
    }
  }
}
