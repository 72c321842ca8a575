import Foundation
import TrialProtocol

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whether the discipline that started this process (DISCIPLINE_PID) has gone: a trial it left
/// behind when killed stops instead of training for nobody. Checked at most once a second.
public final class ParentWatch {
  private let pid = ProcessInfo.processInfo.environment["DISCIPLINE_PID"].flatMap { pid_t($0) }
  private var last = Date.distantPast
  private var gone = false
  public init() {}
  public func check() -> Bool {
    guard let pid, !gone, Date().timeIntervalSince(last) >= 1 else { return gone }
    last = Date()
    gone = kill(pid, 0) != 0 && errno == ESRCH
    return gone
  }
}

/// Notices a rewritten schedule.csv (a final run re-planned by the discipline watching it) and
/// reads the spec again. Checked at most once a second.
public final class ScheduleWatch {
  let directory: URL
  private var stamp: Date?
  private var last = Date()
  public init(directory: URL) {
    self.directory = directory
    stamp = modified()
  }
  private func modified() -> Date? {
    (try? FileManager.default.attributesOfItem(
      atPath: directory.appendingPathComponent(TrialSpec.scheduleFile).path))?[.modificationDate]
      as? Date
  }
  public func check() -> TrialSpec? {
    guard Date().timeIntervalSince(last) >= 1 else { return nil }
    last = Date()
    let now = modified()
    guard now != stamp else { return nil }
    stamp = now
    return try? TrialSpec.read(from: directory.appendingPathComponent(TrialSpec.specFile))
  }
}
