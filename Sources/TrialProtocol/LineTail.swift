import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads the complete lines appended to a file since the last call.
package struct LineTail {
  package let url: URL
  private var handle: FileHandle?
  private var partial = Data()
  private var lineNumber = 0
  private var inode: ino_t = 0

  package init(url: URL) { self.url = url }

  /// New complete lines with their 1-based numbers; with `final`, a last line without a newline too.
  package mutating func newLines(final: Bool = false) -> [(number: Int, text: String)] {
    // A file replaced under the same name (a new inode) is read from its start.
    var info = stat()
    if stat(url.path, &info) == 0, info.st_ino != inode {
      handle = FileHandle(forReadingAtPath: url.path)
      inode = info.st_ino
      partial.removeAll()
      lineNumber = 0
    }
    guard let handle else { return [] }
    partial.append(handle.readDataToEndOfFile())
    var lines: [(Int, String)] = []
    var start = partial.startIndex
    while let newline = partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
      lineNumber += 1
      lines.append((lineNumber, String(decoding: partial[start..<newline], as: UTF8.self)))
      start = partial.index(after: newline)
    }
    partial.removeSubrange(partial.startIndex..<start)
    if final, !partial.isEmpty {
      lineNumber += 1
      lines.append((lineNumber, String(decoding: partial, as: UTF8.self)))
      partial.removeAll()
    }
    return lines
  }
}
