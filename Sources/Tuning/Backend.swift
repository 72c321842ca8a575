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

/// What the recipe needs from whatever trains the network: the tuning phases' specs run (a
/// range test or a short trial each), a clock, memory use, and the final run. Two kinds
/// conform: `SessionBackend`s train in-process (the built-in engine, the tests' analytic
/// problem); `ProgramBackend` runs the user's own program once per spec.
public protocol TuningBackend: AnyObject {
  /// Runs `spec` from scratch (a fresh model, seeded by the spec), writing its files into
  /// `directory` when given, and hands every event to `observe` as it happens.
  func run(
    _ spec: TrialSpec, directory: URL?, shouldStop: @escaping () -> Bool,
    observe: (TrialEvent) -> TrialDecision
  ) throws -> TrialRunResult
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
  /// Runs independent specs, side by side where the backend can (results in the jobs' order).
  func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws -> [TrialRunResult]
  /// Specs the backend runs at once: the recipe plans a phase's trials in rounds of this many.
  var slots: Int { get }
  /// The file a final run's spec asks the program to save its model to.
  var finalModelFile: String { get }
}

extension TuningBackend {
  /// One after another, each as `run` would.
  public func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws
    -> [TrialRunResult]
  {
    try jobs.map { job in
      try job.finishedEarlier()
        ?? run(job.spec, directory: job.directory, shouldStop: shouldStop, observe: job.observe)
    }
  }
  public var slots: Int { 1 }
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
  /// Each spec on a fresh session made for it.
  public func run(
    _ spec: TrialSpec, directory: URL?, shouldStop: @escaping () -> Bool,
    observe: (TrialEvent) -> TrialDecision
  ) throws -> TrialRunResult {
    let session = try makeSession(
      batchSize: spec.batchSize,
      regularization: Regularization(dropout: spec.dropout, augmentation: spec.augmentation),
      seed: spec.seed)
    return try SessionRunner(session: session, clock: now, shouldStop: shouldStop).run(
      spec, directory: directory, observe: observe)
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

/// A backend's specs as a runner, for the range-test and trial readers.
struct BackendRunner<Backend: TuningBackend>: TrialRunner {
  let backend: Backend
  let shouldStop: () -> Bool
  /// Sees every event first (the recipe learns the training split's size from `start`).
  let tap: (TrialEvent) -> Void

  func run(_ spec: TrialSpec, directory: URL?, observe: (TrialEvent) -> TrialDecision) throws
    -> TrialRunResult
  {
    try withoutActuallyEscaping(observe) { observe in
      try runAll([TrialJob(spec: spec, directory: directory, observe: observe)])[0]
    }
  }

  func runAll(_ jobs: [TrialJob]) throws -> [TrialRunResult] {
    let tap = tap
    return try backend.runAll(
      jobs.map { job in
        var tapped = job
        tapped.observe = { event in
          tap(event)
          return job.observe(event)
        }
        return tapped
      }, shouldStop: shouldStop)
  }
}

/// A runner of the user's program (or of `discipline trial`) outside this process: one local
/// process per spec, or a cluster job.
public protocol ProgramRunner: TrialRunner, AnyObject {
  var shouldStop: () -> Bool { get set }
  /// Specs run at once.
  var slots: Int { get }
}

extension CommandRunner: ProgramRunner {}
extension SlurmRunner: ProgramRunner {}

/// The user's own training program behind the recipe — or the built-in engine run as
/// `discipline trial` processes or cluster jobs: every spec in its own folder under
/// `trialsDirectory`, run by a `ProgramRunner` (local processes, Slurm), one process each, as
/// many at once as the runner has slots. Its throughput is learned from a short probe; its
/// final run is a spec too (it starts over on `--resume`).
public final class ProgramBackend: TuningBackend {
  public let runner: any ProgramRunner
  public let trialsDirectory: URL?
  /// The engine section every spec carries (`discipline trial` rebuilds the data and model from
  /// it); nil for the user's program.
  public var engineSection: [String: String]?
  public var finalModelFile = "model.pt"
  private let clockStart: Date

  public init(runner: any ProgramRunner, trialsDirectory: URL, clockStart: Date = Date()) {
    self.runner = runner
    self.trialsDirectory = trialsDirectory
    self.clockStart = clockStart
  }

  public var slots: Int { runner.slots }

  private func prepared(_ job: TrialJob) -> TrialJob {
    var job = job
    if job.spec.engineSection == nil { job.spec.engineSection = engineSection }
    if job.directory == nil {
      job.directory = trialsDirectory!.appendingPathComponent(
        TrialSpec.directoryName(for: job.spec.key))
    }
    return job
  }

  public func run(
    _ spec: TrialSpec, directory: URL?, shouldStop: @escaping () -> Bool,
    observe: (TrialEvent) -> TrialDecision
  ) throws -> TrialRunResult {
    try withoutActuallyEscaping(observe) { observe in
      try runAll(
        [TrialJob(spec: spec, directory: directory, observe: observe)], shouldStop: shouldStop)[0]
    }
  }

  public func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws
    -> [TrialRunResult]
  {
    let userStop = runner.shouldStop
    runner.shouldStop = { userStop() || shouldStop() }
    defer { runner.shouldStop = userStop }
    return try runner.runAll(jobs.map(prepared))
  }

  public func memoryUse(batchSize: Int) -> Double? { nil }
  public func now() -> Double { Date().timeIntervalSince(clockStart) }
  public func measureThroughput(batchSize: Int, regularization: Regularization, seed: UInt64) throws
    -> Double?
  { nil }
}
