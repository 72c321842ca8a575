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
    if let note = Self.endEarlierRun(in: directory) { runner.onNote?(note) }
    if runner.writesSpec {
      try spec.write(to: directory)
    } else {
      try? FileManager.default.removeItem(
        at: directory.appendingPathComponent(TrialSpec.resultFile))
    }
    let eventsURL = directory.appendingPathComponent(TrialSpec.eventsFile)
    stopURL = directory.appendingPathComponent(TrialSpec.stopFile)
    FolderFiles.createEmpty(atPath: eventsURL.path)
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
    let output = directory.appendingPathComponent("stdout.txt").path
    let errors = directory.appendingPathComponent("stderr.txt").path
    // Replaced, not opened: a symbolic link planted under either name goes (the file it
    // points at is left alone), and the child opens them with O_NOFOLLOW.
    FolderFiles.removeIfLink(atPath: output)
    FolderFiles.removeIfLink(atPath: errors)
    child = try ChildProcess(
      arguments: runner.arguments(for: spec, in: directory), environment: env,
      standardOutput: output, standardError: errors)
    try? (ProcessIdentity.of(child.pid)?.line ?? "\(child.pid)\n").write(
      to: directory.appendingPathComponent("pid"), atomically: true, encoding: .utf8)
  }

  /// Ends what an earlier discipline, killed itself, left running in this directory (the
  /// process group its `pid` file names), so two runs never write the same files — but only
  /// when the file names that very process (`ProcessIdentity`: pid, start time, boot). A pid
  /// from before a reboot, from another node reading a shared folder, or reused by an
  /// unrelated process is never signalled, nor one in a file without an identity (written
  /// before they were recorded). Returns what it did, or why it did nothing, for the user;
  /// nil when there was no pid file.
  static func endEarlierRun(in directory: URL) -> String? {
    let url = directory.appendingPathComponent("pid")
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
    defer { try? FileManager.default.removeItem(at: url) }
    switch ProcessIdentity.record(in: text) {
    case .unreadable:
      return "\(url.path) names no process: nothing was signalled"
    case .pidOnly(let pid):
      return
        "\(url.path) names process \(pid) without its start time and boot: it was not signalled (the pid may be another process's now)"
    case .identity(let recorded):
      // The main process gone (or its pid another's now), what it left in its group may live
      // on: those whose environment names this folder are the earlier run's.
      func leftovers() -> String {
        guard recorded.bootID == ProcessIdentity.bootID else { return "" }
        let found = ProcessIdentity.leftovers(
          ofGroup: recorded.pid, startedIn: directory.path)
        for pid in found { kill(pid, SIGKILL) }
        if !found.isEmpty { usleep(100_000) }
        return found.isEmpty
          ? ""
          : "; ended what it left running in its process group (\(found.map(String.init).joined(separator: ", ")), SIGKILL)"
      }
      guard let current = ProcessIdentity.of(recorded.pid) else {
        let ended = leftovers()
        return ended.isEmpty
          ? "the program an earlier run started in \(directory.path) (process \(recorded.pid)) no longer runs: nothing was signalled"
          : "the program an earlier run started in \(directory.path) (process \(recorded.pid)) no longer runs\(ended)"
      }
      guard current == recorded else {
        let when =
          current.bootID != recorded.bootID
          ? "in another boot or on another machine" : "at another time"
        return
          "\(url.path) names process \(recorded.pid) started \(when); the process with that pid now is not the program, and was not signalled\(leftovers())"
      }
      kill(-recorded.pid, SIGKILL)
      usleep(100_000)
      return
        "ended the program an earlier run left running in \(directory.path) (process group \(recorded.pid), SIGKILL)"
    }
  }

  private func askToStop() {
    guard stopAsked == nil else { return }
    stopAsked = Date()
    FolderFiles.createEmpty(atPath: stopURL.path)
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
