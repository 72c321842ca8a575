import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Files discipline creates in a spec's folder, never through a symbolic link planted there:
/// whoever can write the folder (a program, a shared filesystem) could otherwise have
/// discipline truncate or overwrite the file the link points at.
enum FolderFiles {
  /// Replaces whatever is at `path` with a new empty file. Created with O_EXCL and
  /// O_NOFOLLOW: a link planted between the removal and the creation makes it fail instead
  /// of being followed. False when the file could not be made.
  @discardableResult
  static func createEmpty(atPath path: String) -> Bool {
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    close(fd)
    return true
  }

  /// Removes `path` when it is a symbolic link (the link, not what it points at), so what
  /// opens it next opens a file of its own.
  static func removeIfLink(atPath path: String) {
    var info = stat()
    if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK { unlink(path) }
  }
}
