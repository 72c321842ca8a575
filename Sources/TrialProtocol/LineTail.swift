import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads the complete lines appended to a file since the last call. A line may be at most
/// `maximumLineLength` bytes: a program that writes without newlines (or one endless line)
/// would otherwise grow the buffer until the machine runs out of memory. A longer line is not
/// returned; `overlongLine` names it, and the reader skips to the next newline.
package struct LineTail {
  package let url: URL
  /// The longest line read, in bytes (1 MiB: an event is a few hundred).
  package static let maximumLineLength = 1 << 20
  private let maximumLength: Int
  private var handle: FileHandle?
  private var partial = Data()
  private var lineNumber = 0
  private var inode: ino_t = 0
  /// Inside a line already found too long: bytes are dropped up to its newline.
  private var skipping = false
  /// The number of the first line longer than the limit, once one was seen.
  package private(set) var overlongLine: Int?

  package init(url: URL, maximumLineLength: Int = LineTail.maximumLineLength) {
    self.url = url
    maximumLength = maximumLineLength
  }

  /// New complete lines with their 1-based numbers; with `final`, a last line without a newline too.
  package mutating func newLines(final: Bool = false) -> [(number: Int, text: String)] {
    // A file replaced under the same name (a new inode) is read from its start.
    var info = stat()
    if stat(url.path, &info) == 0, info.st_ino != inode {
      handle = FileHandle(forReadingAtPath: url.path)
      inode = info.st_ino
      partial.removeAll()
      lineNumber = 0
      skipping = false
    }
    guard let handle else { return [] }
    var lines: [(Int, String)] = []
    // In pieces, so a huge append never sits in memory whole.
    while let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty {
      var start = chunk.startIndex
      while start < chunk.endIndex {
        let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n"))
        let end = newline ?? chunk.endIndex
        if !skipping {
          partial.append(chunk[start..<end])
          if partial.count > maximumLength {
            lineNumber += 1
            if overlongLine == nil { overlongLine = lineNumber }
            partial.removeAll()
            skipping = true
          } else if newline != nil {
            lineNumber += 1
            lines.append((lineNumber, String(decoding: partial, as: UTF8.self)))
            partial.removeAll(keepingCapacity: true)
          }
        }
        guard let newline else { break }
        skipping = false
        start = chunk.index(after: newline)
      }
    }
    if final, !partial.isEmpty {
      lineNumber += 1
      lines.append((lineNumber, String(decoding: partial, as: UTF8.self)))
      partial.removeAll()
    }
    return lines
  }
}

extension String {
  /// The text with control characters made visible ("\u{1B}[31m" becomes "\x1b[31m"): a
  /// program's bad line or standard error, echoed to the user's terminal, must not move its
  /// cursor, recolour it or set its title. Tabs stay.
  package var printable: String {
    var out = ""
    out.unicodeScalars.reserveCapacity(unicodeScalars.count)
    for scalar in unicodeScalars {
      let v = scalar.value
      if (v < 0x20 && v != 0x09) || (0x7F...0x9F).contains(v) {
        out += v <= 0xFF ? String(format: "\\x%02x", v) : String(format: "\\u%04x", v)
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}
