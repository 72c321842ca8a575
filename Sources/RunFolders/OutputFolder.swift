import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Makes (or checks) an output folder.
public func prepareOutputDirectory(_ path: String) throws -> URL {
  let url = URL(fileURLWithPath: path, isDirectory: true)
  do {
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  } catch {
    throw RunFolderError(
      "cannot create output folder \(path): \(error.localizedDescription)", exitCode: 73)
  }
  try OutputLock.take(url, named: path)
  return url
}

/// An exclusive lock on an output folder (`DIR/.lock`, flock), held until the process ends: a
/// second discipline writing into the same folder would delete the first one's trials, replace
/// its journal and end its programs.
enum OutputLock {
  nonisolated(unsafe) private static var held: [String: Int32] = [:]

  static func take(_ url: URL, named path: String) throws {
    let lock = url.appendingPathComponent(".lock").path
    guard held[lock] == nil else { return }
    let fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard fd >= 0 else {
      throw RunFolderError(
        "cannot lock output folder \(path): \(String(cString: strerror(errno)))", exitCode: 73)
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      var owner = ""
      if let text = try? String(contentsOfFile: lock, encoding: .utf8),
        let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
      {
        owner = " (process \(pid))"
      }
      close(fd)
      throw RunFolderError(
        "another discipline is writing into \(path)\(owner); wait for it to end, or choose another --out",
        exitCode: 73)
    }
    ftruncate(fd, 0)
    let text = "\(getpid())\n"
    _ = text.withCString { write(fd, $0, strlen($0)) }
    held[lock] = fd
  }
}

/// Starts a fresh run's trial folders: an earlier run's files in DIR/trials would otherwise
/// count as finished trials of this one (only --resume reuses them).
public func clearTrials(in outURL: URL, resume: Bool) throws {
  guard !resume else { return }
  let trials = outURL.appendingPathComponent("trials")
  guard FileManager.default.fileExists(atPath: trials.path) else { return }
  do { try FileManager.default.removeItem(at: trials) } catch {
    throw RunFolderError(
      "cannot clear \(trials.path) from an earlier run: \(error.localizedDescription)", exitCode: 73
    )
  }
}
