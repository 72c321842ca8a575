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
