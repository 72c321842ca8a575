import Foundation

/// One spec to run, where its files go, and who reads its events: the unit a runner takes in
/// batches, so the independent specs of a phase can run side by side.
public struct TrialJob {
  public var spec: TrialSpec
  public var directory: URL?
  public var observe: (TrialEvent) -> TrialDecision

  public init(spec: TrialSpec, directory: URL?, observe: @escaping (TrialEvent) -> TrialDecision) {
    self.spec = spec
    self.directory = directory
    self.observe = observe
  }

  /// The result of an earlier run of this very spec (the same spec.json and schedule.csv in
  /// its directory, and a result.json that is not an interruption), its events replayed to
  /// `observe`: a resumed run never trains a finished spec twice.
  package func finishedEarlier() -> TrialRunResult? {
    guard let directory, let result = try? TrialRunResult.read(from: directory),
      result.status != .interrupted,
      result.key == spec.key, sameSpec(in: directory)
    else { return nil }
    var tail = LineTail(url: directory.appendingPathComponent(TrialSpec.eventsFile))
    for (_, line) in tail.newLines(final: true) {
      guard let event = try? TrialEvent(parsing: line) else { continue }
      if observe(event) == .stop { break }
    }
    return result
  }

  /// Whether `directory` holds this spec (spec.json and schedule.csv as this job would write them).
  package func sameSpec(in directory: URL) -> Bool {
    guard let old = try? TrialSpec.read(from: directory.appendingPathComponent(TrialSpec.specFile))
    else { return false }
    var mine = spec
    var theirs = old
    // What a runner adds or changes while running does not make another spec.
    theirs.engineSection = nil
    mine.engineSection = nil
    return mine == theirs
  }
}

/// Reads a running program's events as the protocol says they come — `start` first, in this
/// protocol's version — records them into its result, and hands them to the job's consumer;
/// what the consumer or the events ask (stop, fail) is left to the caller to carry out. Shared
/// by the runners that watch a program from outside (a local process, a cluster job).
package struct EventConsumer {
  package let eventsURL: URL
  package let observe: (TrialEvent) -> TrialDecision
  package let started: Date
  package var result: TrialRunResult
  package private(set) var lastEvent: Date
  private var lastEventTime = 0.0
  package private(set) var sawStart = false
  package private(set) var sawEnd = false
  /// A non-finite training or validation loss was reported.
  package private(set) var diverged = false
  /// The consumer (or a divergence) asked the run to stop.
  package private(set) var wantsStop = false
  /// Why the run broke the protocol (file:line: problem).
  package private(set) var failure: String?
  private var tail: LineTail

  package init(
    spec: TrialSpec, directory: URL, started: Date = Date(),
    observe: @escaping (TrialEvent) -> TrialDecision
  ) {
    eventsURL = directory.appendingPathComponent(TrialSpec.eventsFile)
    self.observe = observe
    self.started = started
    lastEvent = started
    result = TrialRunResult(key: spec.key, kind: spec.kind)
    tail = LineTail(url: eventsURL)
  }

  /// Reads what was appended since the last call (with `final`, a last line without its newline too).
  package mutating func poll(final: Bool = false) {
    let lines = tail.newLines(final: final)
    for (number, text) in lines where failure == nil {
      if let overlong = tail.overlongLine, overlong < number { break }
      if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
      let event: TrialEvent
      do { event = try TrialEvent(parsing: text) } catch {
        // The line is the program's: echoed with its control characters made visible.
        failure = "\(eventsURL.path):\(number): \(String(describing: error).printable)"
        return
      }
      lastEvent = Date()
      if let problem = TrialEvent.sequenceProblem(
        event, after: result, started: sawStart, ended: sawEnd)
      {
        failure = "\(eventsURL.path):\(number): \(problem)"
        return
      }
      if case .start(let version, _, _) = event {
        sawStart = true
        guard version == TrialSpec.protocolVersion else {
          failure =
            "\(eventsURL.path):\(number): the program speaks protocol \(version), this discipline speaks \(TrialSpec.protocolVersion)"
          return
        }
      } else if !sawStart {
        failure = "\(eventsURL.path):\(number): the first event must be \"start\""
        return
      }
      if case .end = event { sawEnd = true }
      switch event {
      case .train where result.losses.isEmpty:
        result.startupSeconds = Date().timeIntervalSince(started)
      case .validation(_, let t), .test(_, let t):
        // The program's clock: from the event before to this one is the evaluation.
        result.evaluationSeconds += max(0, t - lastEventTime)
      default: break
      }
      lastEventTime = event.time
      result.record(event)
      switch event {
      case .train(_, let loss, _, _) where !loss.isFinite:
        diverged = true
        wantsStop = true
      case .validation(let m, _) where !m.loss.isFinite:
        diverged = true
        wantsStop = true
      default: break
      }
      if observe(event) == .stop { wantsStop = true }
    }
    if failure == nil, let overlong = tail.overlongLine {
      failure =
        "\(eventsURL.path):\(overlong): a line longer than \(LineTail.maximumLineLength / (1 << 20)) MiB: events are one JSON object a line, each ended by a newline"
    }
  }

  /// The status of a run that ended without a failure: `interrupted` when the user stopped
  /// discipline, `stopped` when asked to stop or short of its steps. `spec` is the spec as it
  /// stands at the end (a final run's may have been re-planned shorter while it ran): a
  /// program that ends before its steps without being asked has not finished, whatever its
  /// `end` says.
  package func status(for spec: TrialSpec, interrupted: Bool, stopAsked: Bool)
    -> TrialRunResult.Status
  {
    if interrupted { return .interrupted }
    if diverged { return .diverged }
    if stopAsked { return .stopped }
    return result.steps >= spec.steps ? .finished : .stopped
  }
}
