import Foundation
import TrialProtocol

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One spec being carried out by the user's program: the process, its events as they come,
/// and the stop file, SIGTERM and SIGKILL when it must end. `poll()` does a little of the work
/// without blocking, so one thread can watch several runs side by side.
final class CommandRun {
  let runner: CommandRunner
  let spec: TrialSpec
  let directory: URL
  /// Asked while the program runs: the user stopped discipline.
  private let shouldStop: () -> Bool
  private let child: ChildProcess
  private var consumer: EventConsumer
  private let stopURL: URL
  private var stopAsked: Date?, termSent: Date?
  private var failure: String?
  private var interrupted = false
  private var exitStatus: ChildProcess.Exit?
  /// The main process's exit, before what it left in its group has ended.
  private var mainExit: ChildProcess.Exit?

  init(
    runner: CommandRunner, spec: TrialSpec, directory: URL, shouldStop: @escaping () -> Bool,
    observe: @escaping (TrialEvent) -> TrialDecision
  ) throws {
    self.runner = runner
    self.shouldStop = shouldStop
    self.spec = spec
    self.directory = directory
    Self.endEarlierRun(in: directory)
    if runner.writesSpec {
      try spec.write(to: directory)
    } else {
      try? FileManager.default.removeItem(
        at: directory.appendingPathComponent(TrialSpec.resultFile))
    }
    let eventsURL = directory.appendingPathComponent(TrialSpec.eventsFile)
    stopURL = directory.appendingPathComponent(TrialSpec.stopFile)
    FileManager.default.createFile(atPath: eventsURL.path, contents: nil)
    var env = ProcessInfo.processInfo.environment.merging(runner.environment) { $1 }
    env["DISCIPLINE_SPEC"] = directory.appendingPathComponent(TrialSpec.specFile).path
    env["DISCIPLINE_EVENTS"] = eventsURL.path
    env["DISCIPLINE_STOP"] = stopURL.path
    env["DISCIPLINE_DIR"] = directory.path
    env["DISCIPLINE_PID"] = "\(getpid())"
    if let threads = runner.threadsPerSlot {
      env["DISCIPLINE_THREADS"] = "\(threads)"
      env["OMP_NUM_THREADS"] = "\(threads)"
    }
    let started = Date()
    consumer = EventConsumer(spec: spec, directory: directory, started: started, observe: observe)
    child = try ChildProcess(
      arguments: runner.arguments(for: spec, in: directory), environment: env,
      standardOutput: directory.appendingPathComponent("stdout.txt").path,
      standardError: directory.appendingPathComponent("stderr.txt").path)
    try? "\(child.pid)\n".write(
      to: directory.appendingPathComponent("pid"), atomically: true, encoding: .utf8)
  }

  /// Kills what an earlier discipline, killed itself, left running in this directory (its
  /// process group, recorded in `pid`), so two runs never write the same files.
  static func endEarlierRun(in directory: URL) {
    let url = directory.appendingPathComponent("pid")
    guard let text = try? String(contentsOf: url, encoding: .utf8),
      let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
    else { return }
    if kill(-pid, 0) == 0 {
      kill(-pid, SIGKILL)
      usleep(100_000)
    }
    try? FileManager.default.removeItem(at: url)
  }

  private func askToStop() {
    guard stopAsked == nil else { return }
    stopAsked = Date()
    FileManager.default.createFile(atPath: stopURL.path, contents: nil)
  }

  private func fail(_ message: String) {
    guard failure == nil else { return }
    failure = message
    child.signal(SIGKILL)
  }

  /// Reads new events and enforces the limits; true once the program has ended.
  func poll() -> Bool {
    guard exitStatus == nil else { return true }
    consumer.poll()
    if let problem = consumer.failure { fail(problem) }
    if consumer.wantsStop { askToStop() }
    if failure == nil {
      if shouldStop() && !interrupted {
        interrupted = true
        askToStop()
      }
      // A stop file written by someone else (discipline watching a cluster job) is a stop too.
      if stopAsked == nil && FileManager.default.fileExists(atPath: stopURL.path) {
        stopAsked = Date()
      }
      if let limit = spec.maxSeconds, Date().timeIntervalSince(consumer.started) > limit {
        askToStop()
      }
      if Date().timeIntervalSince(consumer.lastEvent) > runner.trialTimeout {
        fail(
          String(
            format: "no event for %.0f s (--trial-timeout): the program was killed",
            runner.trialTimeout))
      }
      if let asked = stopAsked, termSent == nil, Date().timeIntervalSince(asked) > runner.grace {
        termSent = Date()
        child.signal(SIGTERM)
      }
      if let sent = termSent, Date().timeIntervalSince(sent) > runner.grace {
        child.signal(SIGKILL)
      }
    }
    if mainExit == nil { mainExit = child.poll() }
    // What the program left in its process group ends with it (SIGTERM, then SIGKILL).
    guard mainExit != nil, child.endLeftovers(grace: min(runner.grace, 5)) else { return false }
    exitStatus = mainExit
    return true
  }

  /// The result once `poll()` said the program ended; also written to result.json.
  func finish() throws -> TrialRunResult {
    consumer.poll(final: true)
    if let problem = consumer.failure, failure == nil { failure = problem }
    var result = consumer.result
    result.node = ProcessInfo.processInfo.hostName
    result.machine = MachineDescription.current
    result.seconds = Date().timeIntervalSince(consumer.started)
    if case .exited(let code) = exitStatus { result.exitCode = code }
    if failure == nil, termSent == nil {  // after our SIGTERM, a non-zero exit is ours
      switch exitStatus! {
      case .exited(let code) where code != 0:
        failure = "the program exited with code \(code)"
      case .signaled(let signal):
        failure = "the program was killed by signal \(signal)"
      default:
        if !consumer.sawStart {
          failure =
            "the program wrote no events to \(consumer.eventsURL.path): does it use the helper (or write the protocol's events)?"
        }
      }
    }
    if let failure {
      result.status = .failed
      let lines = CommandRunner.lastLines(
        of: directory.appendingPathComponent("stderr.txt"), count: 5)
      result.message = failure + (lines.isEmpty ? "" : "; its standard error ends:\n" + lines)
    } else {
      // The spec as it stands now: a final run's may have been re-planned shorter.
      let current =
        (try? TrialSpec.read(from: directory.appendingPathComponent(TrialSpec.specFile))) ?? spec
      result.status = consumer.status(
        for: current, interrupted: interrupted, stopAsked: stopAsked != nil)
    }
    try? FileManager.default.removeItem(at: directory.appendingPathComponent("pid"))
    try result.write(to: directory)
    return result
  }
}

/// What kind of machine this is, for comparing trials of equal wall time: the CPU's model name
/// and the cores this process may use ("AMD EPYC 9B14, 2 cores").
public enum MachineDescription {
  public static let current: String = {
    var model = "unknown CPU"
    if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
      let colon = line.firstIndex(of: ":")
    {
      model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    return "\(model), \(cores) core\(cores == 1 ? "" : "s")"
  }()
}
