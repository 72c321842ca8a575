import Foundation
import Runners
import Sessions
import TrialProtocol

/// The regularization that is not an optimizer setting: dropout before the classifier and the
/// augmentation of the training samples (by name: none, flip, crop-flip).
public struct Regularization: Codable, Sendable, Hashable {
  public var dropout: Double
  public var augmentation: String
  public init(dropout: Double = 0, augmentation: String = "none") {
    self.dropout = dropout
    self.augmentation = augmentation
  }
}

/// What the recipe needs from whatever trains the network: a runner for the tuning phases'
/// specs (a range test or a short trial each, and a program's final run), a clock, memory use,
/// a throughput probe and where the specs' files go. Two kinds conform: `SessionBackend`s
/// train in-process (the built-in engine, the tests' analytic problem); `ProgramBackend` runs
/// the user's own program (or `discipline trial`) through a process or cluster runner.
public protocol TuningBackend: AnyObject {
  /// Carries out the specs: a fresh model for each, seeded by the spec.
  var runner: any TrialRunner { get }
  /// Resident memory in MiB with a run of this batch size alive (nil: unknown).
  func memoryUse(batchSize: Int) -> Double?
  /// Seconds since this process began its work, loading the data included (a virtual clock
  /// in tests): the recipe counts them against the budget.
  func now() -> Double
  /// Training samples per second at a batch size from a short throw-away run, or nil when
  /// the backend cannot measure it itself (the recipe then times a short spec run).
  func measureThroughput(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> Double?
  /// Where the phases' spec directories are written; nil: nowhere (in-process runs need none).
  var trialsDirectory: URL? { get }
  /// The engine section every spec carries (`discipline trial` rebuilds the data and model
  /// from it); nil for the user's program and for in-process runs.
  var engineSection: [String: String]? { get }
  /// The file a final run's spec asks the program to save its model to.
  var finalModelFile: String { get }
}

extension TuningBackend {
  public var engineSection: [String: String]? { nil }
  public var finalModelFile: String { "model.pt" }
}

/// A backend that trains in-process: a fresh, seeded session at a batch size and
/// regularization for each spec of the tuning phases (validation held out), and a session for
/// the final run that it can save after every epoch and continue after a kill.
public protocol SessionBackend: TuningBackend {
  associatedtype Session: TrainingSession
  /// A fresh model and optimizer over the tuning data (validation held out).
  func makeSession(batchSize: Int, regularization: Regularization, seed: UInt64) throws -> Session
  /// A fresh model and optimizer for the final training.
  func makeFinalSession(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> Session
  /// Saves the final session's state and its run's record, so a killed run can continue it.
  func saveFinalState(_ session: Session, _ record: FinalRunRecord) throws
  /// Restores a saved final state into `session` and returns its record; nil when none was
  /// saved (or the backend cannot save).
  func loadFinalState(into session: Session) throws -> FinalRunRecord?
  /// Deletes a saved final state (after the final run ends).
  func removeFinalState()
}

extension SessionBackend {
  /// Each spec on a fresh session made for it, timed by the backend's clock.
  public var runner: any TrialRunner { sessionRunner }

  /// The in-process runner: each spec on a fresh session made for it, timed by `now()`.
  public var sessionRunner: SessionRunner<Session> {
    SessionRunner(
      makeSession: { [unowned self] spec in
        try self.makeSession(
          batchSize: spec.batchSize,
          regularization: Regularization(dropout: spec.dropout, augmentation: spec.augmentation),
          seed: spec.seed)
      }, clock: { [unowned self] in self.now() })
  }

  /// A few steps on a throw-away session, after one that creates the primitives.
  public func measureThroughput(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> Double?
  {
    let session = try makeSession(batchSize: batchSize, regularization: regularization, seed: seed)
    let h = HyperParameters(learningRate: 1e-4, momentum: 0.9, weightDecay: 0)
    _ = session.step(h)
    let steps = 20
    let t0 = now()
    for _ in 0..<steps { _ = session.step(h) }
    let seconds = now() - t0
    return seconds > 0 ? Double(steps * batchSize) / seconds : nil
  }

  public var trialsDirectory: URL? { nil }

  /// Backends that cannot save a session re-train the final run on resume.
  public func saveFinalState(_ session: Session, _ record: FinalRunRecord) throws {}
  public func loadFinalState(into session: Session) throws -> FinalRunRecord? { nil }
  public func removeFinalState() {}
}

/// The user's own training program behind the recipe — or the built-in engine run as
/// `discipline trial` processes or cluster jobs: every spec in its own folder under
/// `trialsDirectory`, carried out by a process or cluster runner (`CommandRunner`,
/// `SlurmRunner`), as many at once as it has slots. Its throughput is learned from a short
/// probe; its final run is a spec too (it starts over on `--resume`).
public final class ProgramBackend: TuningBackend {
  public let runner: any TrialRunner
  public let trialsDirectory: URL?
  public var engineSection: [String: String]?
  public var finalModelFile = "model.pt"
  private let clockStart: Date

  public init(runner: any TrialRunner, trialsDirectory: URL, clockStart: Date = Date()) {
    self.runner = runner
    self.trialsDirectory = trialsDirectory
    self.clockStart = clockStart
  }

  public func memoryUse(batchSize: Int) -> Double? { nil }
  public func now() -> Double { Date().timeIntervalSince(clockStart) }
  public func measureThroughput(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> Double?
  { nil }
}
