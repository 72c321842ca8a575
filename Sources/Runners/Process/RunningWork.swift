import Foundation
import Synchronization
import TrialProtocol

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What this process has started that must not outlive it: the process groups of the programs
/// it runs and the Slurm jobs it submitted or re-attached to. A second Ctrl-C exits at once
/// (`StopSignal`) without waiting for the runners' stop file, SIGTERM and grace; exiting
/// without ending these would leave programs training for nobody and tasks holding a cluster.
public enum RunningWork {
  private static let groups = Mutex<Set<pid_t>>([])
  private static let jobs = Mutex<Set<String>>([])

  static func started(group: pid_t) { groups.withLock { _ = $0.insert(group) } }
  /// Called once the group is empty or has been sent SIGKILL: after that its id may be
  /// another's, and must not be signalled.
  static func ended(group: pid_t) { groups.withLock { _ = $0.remove(group) } }
  static func submitted(job: String) { jobs.withLock { _ = $0.insert(job) } }
  static func finished(job: String) { jobs.withLock { _ = $0.remove(job) } }

  /// Ends everything at once: SIGKILL to every process group, `scancel` of every Slurm job
  /// (waited for at most `seconds`, since a controller that does not answer must not keep the
  /// user waiting). For the moment before the process exits; what it cannot end it says.
  public static func endAll(waitingAtMost seconds: Double = 5) -> [String] {
    var notes: [String] = []
    let running = Self.groups.withLock { $0 }
    for group in running { kill(-group, SIGKILL) }
    if !running.isEmpty {
      notes.append("killed \(running.count) program\(running.count == 1 ? "" : "s") (SIGKILL)")
    }
    let jobs = Self.jobs.withLock { $0.sorted() }
    guard !jobs.isEmpty else { return notes }
    let list = jobs.joined(separator: ", ")
    let log = FileManager.default.temporaryDirectory.appendingPathComponent(
      "discipline-scancel-\(getpid())"
    ).path
    defer { unlink(log) }
    do {
      let child = try ChildProcess(
        arguments: ["scancel"] + jobs, environment: ProcessInfo.processInfo.environment,
        standardOutput: "/dev/null", standardError: log)
      let deadline = Date().addingTimeInterval(seconds)
      var exit = child.poll()
      while exit == nil && Date() < deadline {
        usleep(20_000)
        exit = child.poll()
      }
      switch exit {
      case .exited(0)?, .unknown?:
        notes.append("cancelled Slurm job\(jobs.count == 1 ? "" : "s") \(list)")
      case nil:
        child.signal(SIGKILL)
        notes.append(
          "scancel did not answer within \(Int(seconds)) s: Slurm job\(jobs.count == 1 ? "" : "s") \(list) may still run (scancel \(jobs.joined(separator: " ")))"
        )
      default:
        let why = String(
          decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
        notes.append(
          "scancel failed\(why.isEmpty ? "" : " (\(why.printable))"): Slurm job\(jobs.count == 1 ? "" : "s") \(list) may still run"
        )
      }
    } catch {
      notes.append("cannot run scancel (\(error.description)): Slurm jobs \(list) may still run")
    }
    return notes
  }
}
