import Foundation
import TrialProtocol
import Sessions

/// Carries out specs in-process on `TrainingSession`s — the built-in engine's runner, and the
/// analytic one of the tests. Each spec gets the session `makeSession` makes for it (batch
/// size, regularization, seed); the runner steps it along the schedule, measures the
/// validation loss at `validate_at`, and reports every step as an event.
public struct SessionRunner<Session: TrainingSession>: TrialRunner {
  /// A fresh, seeded session for a spec; or always the one session a command was given.
  public let makeSession: (TrialSpec) throws -> Session
  public let clock: () -> Double
  /// What the start event says of the session: the optional hyper-parameters it applies (both),
  /// and its training split's size (filled in from the session where nil).
  public var program = ProgramFacts(honours: ["dropout", "augmentation"], trainSamples: nil)
  /// Whether a run writes its spec into its directory first (`discipline trial` runs one that
  /// is already there).
  public var writesSpec = true
  /// Checked between steps (at most every 0.1 s): when it says so, the run stops as asked
  /// (status `stopped`, as a consumer's `.stop`) — `discipline trial` watching its stop file.
  public var stopRequested: (() -> Bool)?
  /// Checked between steps: a spec read again after its schedule was rewritten (a final run
  /// re-planned shorter); the run goes on along the new schedule and validation steps.
  public var reloadSpec: (() -> TrialSpec?)?

  public init(
    makeSession: @escaping (TrialSpec) throws -> Session, clock: @escaping () -> Double
  ) {
    self.makeSession = makeSession
    self.clock = clock
  }

  /// Every spec on `session` (a range test restores it afterwards; `discipline trial` runs one).
  public init(session: Session, clock: @escaping () -> Double) {
    self.init(makeSession: { _ in session }, clock: clock)
  }

  /// The jobs one after another, each on the session made for it.
  public func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws
    -> [TrialRunResult]
  {
    try runEach(jobs, shouldStop: shouldStop) { job in
      try run(
        job.spec, on: makeSession(job.spec), directory: job.directory, shouldStop: shouldStop,
        observe: job.observe)
    }
  }

  private func run(
    _ spec: TrialSpec, on session: Session, directory: URL?, shouldStop: () -> Bool,
    observe: (TrialEvent) -> TrialDecision
  ) throws -> TrialRunResult {
    if let directory, writesSpec { try spec.write(to: directory) }
    // The log empties an existing events.jsonl in place (a discipline may be reading it): not
    // through a link planted under that name.
    if let directory {
      FolderFiles.removeIfLink(atPath: directory.appendingPathComponent(TrialSpec.eventsFile).path)
    }
    let log = try EventLog(directory: directory)
    let started = clock()
    var result = TrialRunResult(key: spec.key, kind: spec.kind)
    result.program = program
    result.trainSamples = program.trainSamples ?? session.stepsPerEpoch * spec.batchSize
    result.node = ProcessInfo.processInfo.hostName
    result.machine = MachineDescription.current
    var lastStopCheck = started
    func emit(_ event: TrialEvent) -> TrialDecision {
      log.append(event)
      result.record(event)
      return observe(event)
    }
    _ = emit(
      .start(
        protocolVersion: TrialSpec.protocolVersion,
        program: result.program, time: 0))
    log.flush()
    var validateAt = Set(spec.validateAt)
    var schedule = spec.schedule
    var status = TrialRunResult.Status.finished
    var k = 0
    while k < schedule.count {
      defer { k += 1 }
      if let reloadSpec, let changed = reloadSpec(), changed.steps > k {
        schedule = changed.schedule
        validateAt = Set(changed.validateAt)
      }
      let row = schedule[k]
      if shouldStop() {
        status = .interrupted
        break
      }
      if let limit = spec.maxSeconds, clock() - started > limit {
        status = .stopped
        break
      }
      if let stopRequested, clock() - lastStopCheck >= 0.1 {
        lastStopCheck = clock()
        if stopRequested() {
          status = .stopped
          break
        }
      }
      let loss = session.step(
        HyperParameters(
          learningRate: row.learningRate, momentum: row.momentum, weightDecay: spec.weightDecay))
      let decision = emit(
        .train(step: k, loss: loss, samples: spec.batchSize, time: clock() - started))
      if !loss.isFinite {
        status = .diverged
        break
      }
      if decision == .stop {
        status = .stopped
        break
      }
      if validateAt.contains(k + 1) {
        let t = clock()
        let e = session.evaluate(.validation, maxBatches: spec.validationBatches)
        result.evaluationSeconds += clock() - t
        let decision = emit(
          .validation(
            .init(step: k + 1, loss: e.loss, accuracy: e.accuracy), time: clock() - started))
        if !e.loss.isFinite {
          status = .diverged
          break
        }
        if decision == .stop {
          status = .stopped
          break
        }
      }
    }
    if spec.final && status == .finished {
      let e = session.evaluate(.test, maxBatches: nil)
      _ = emit(
        .test(
          .init(step: schedule.count, loss: e.loss, accuracy: e.accuracy), time: clock() - started))
    }
    _ = emit(.end(steps: result.losses.count, time: clock() - started))
    result.status = status
    result.seconds = clock() - started
    if let directory {
      log.flush()
      try result.write(to: directory)
    }
    return result
  }
}
