import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A process as it was when started, beyond its pid, which the system reuses: its start time
/// (clock ticks since boot, /proc/PID/stat field 22) and the boot it started in
/// (/proc/sys/kernel/random/boot_id, which also tells one machine from another). A pid file
/// that names a process by all three is trusted only while the process of that pid still
/// started at that time in that boot: after a reboot, on another node reading a shared
/// folder, or once the pid is another process's, it names nobody.
struct ProcessIdentity: Equatable {
  var pid: pid_t
  var startTime: UInt64
  var bootID: String

  /// The identity of the running (or not yet reaped) process `pid`; nil when there is no such
  /// process or this system has no /proc.
  static func of(_ pid: pid_t) -> ProcessIdentity? {
    guard let start = startTime(of: pid), let boot = bootID else { return nil }
    return ProcessIdentity(pid: pid, startTime: start, bootID: boot)
  }

  static var bootID: String? {
    guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
    else { return nil }
    let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return id.isEmpty ? nil : id
  }

  /// Field 22 of /proc/PID/stat. The command name (field 2) is in parentheses and may hold
  /// spaces and parentheses itself, so the fields are counted from its last ")".
  static func startTime(of pid: pid_t) -> UInt64? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (the state).
    guard fields.count > 19 else { return nil }
    return UInt64(fields[19])
  }

  /// Processes of process group `group` that a run in `directory` started: their
  /// environment names the folder (`DISCIPLINE_DIR`, which discipline gives every program it
  /// starts and children inherit). What a program leaves behind once its main process is gone
  /// (a worker, a shell's background job) keeps its group and its environment; a process of
  /// another run or another user's cannot be read (or names another folder). Empty without
  /// /proc.
  static func leftovers(ofGroup group: pid_t, startedIn directory: String) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else {
      return []
    }
    let mark = Array("DISCIPLINE_DIR=\(directory)".utf8)
    return entries.compactMap { pid_t($0) }.filter { pid in
      guard pid != getpid(), processGroup(of: pid) == group,
        let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
      else { return false }
      return environ.split(separator: 0).contains { Array($0) == mark }
    }
  }

  /// Field 5 of /proc/PID/stat: the process group.
  static func processGroup(of pid: pid_t) -> pid_t? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.count > 2 ? pid_t(fields[2]) : nil
  }

  /// The pid file's line: "PID START_TIME BOOT_ID".
  var line: String { "\(pid) \(startTime) \(bootID)\n" }

  /// What a pid file says: the identity, or only a pid (a file written before identities were
  /// recorded, or a damaged one), or nothing readable.
  enum Record: Equatable {
    case identity(ProcessIdentity)
    case pidOnly(pid_t)
    case unreadable
  }

  static func record(in text: String) -> Record {
    let words = text.split(whereSeparator: \.isWhitespace)
    guard let first = words.first, let pid = pid_t(first), pid > 1 else { return .unreadable }
    guard words.count == 3, let start = UInt64(words[1]) else { return .pidOnly(pid) }
    return .identity(ProcessIdentity(pid: pid, startTime: start, bootID: String(words[2])))
  }
}
