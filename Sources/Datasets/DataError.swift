import Foundation

/// Everything that can go wrong reading or preparing a data set, each with the file and the
/// position (byte offset, or line and column) and what was wrong, as one human sentence.
///
/// `exitCode` follows BSD's `sysexits.h`: 64 (`EX_USAGE`) for a bad data-set spec or option,
/// 65 (`EX_DATAERR`) for a file whose contents are wrong, 66 (`EX_NOINPUT`) for a missing or
/// unreadable file or folder.
public enum DataError: Error, Equatable, Sendable {
  /// The data-set spec string could not be understood (for example `"imagenet"`).
  case invalidSpec(String, reason: String)
  /// An option has a value the loader cannot use (for example a validation fraction of 1.5).
  case invalidOption(name: String, value: String, reason: String)
  /// A folder that should hold the data set does not exist.
  case missingDirectory(path: String)
  /// A file the data set needs does not exist (`tried` lists every name that was looked for).
  case missingFile(path: String, tried: [String])
  /// The file exists but could not be read.
  case unreadableFile(path: String, reason: String)
  /// The file holds no bytes (or, for CSV, no rows under the header).
  case emptyFile(path: String)
  /// The gzip stream is damaged; `offset` is the byte of the compressed file where zlib failed.
  case corruptGzip(path: String, offset: Int, reason: String)
  /// The gzip stream stops before its end marker and checksum.
  case truncatedGzip(path: String, compressedBytes: Int)
  /// The first four bytes are not the magic number this format starts with.
  case badMagicNumber(path: String, found: UInt32, expected: UInt32, meaning: String)
  /// The file is shorter than its header (or record size) says.
  case truncatedFile(path: String, expectedBytes: Int, actualBytes: Int, what: String)
  /// The file has bytes after the end its header declares.
  case trailingBytes(path: String, offset: Int, count: Int)
  /// The header declares a shape this loader cannot hold (zero or overflowing sizes).
  case badHeader(path: String, offset: Int, reason: String)
  /// The image and label files disagree on how many samples there are.
  case countMismatch(imagesPath: String, imageCount: Int, labelsPath: String, labelCount: Int)
  /// A label value outside `0..<classCount`; `offset` is the byte holding it.
  case labelOutOfRange(path: String, offset: Int, label: Int, classCount: Int)
  /// Two files of one data set hold samples of different shapes.
  case shapeMismatch(path: String, expected: [Int], found: [Int])
  /// A CSV cell that should be a finite number is not.
  case nonNumericCell(path: String, line: Int, column: Int, columnName: String, text: String)
  /// A CSV row with a different number of cells than the header.
  case raggedRow(path: String, line: Int, expectedCells: Int, foundCells: Int)
  /// A CSV file whose header has no column of the requested label name.
  case missingLabelColumn(path: String, name: String, available: [String])
  /// A CSV test file whose header differs from the training file's.
  case headerMismatch(path: String, expected: [String], found: [String])
  /// A test-set label that the training set does not have.
  case unknownLabel(path: String, line: Int, column: Int, label: String)
  /// Malformed CSV syntax (an unterminated quote, text after a closing quote).
  case malformedCSV(path: String, line: Int, column: Int, reason: String)
  /// Too few samples to split or train on.
  case tooFewSamples(what: String, count: Int, needed: Int)

  /// The process exit status a command-line tool should end with for this error.
  public var exitCode: Int32 {
    switch self {
    case .invalidSpec, .invalidOption: 64
    case .missingDirectory, .missingFile, .unreadableFile: 66
    default: 65
    }
  }
}

extension DataError: CustomStringConvertible, LocalizedError {
  public var description: String {
    switch self {
    case .invalidSpec(let spec, let reason):
      return "Unknown data set \"\(spec)\": \(reason)."
    case .invalidOption(let name, let value, let reason):
      return "Invalid \(name) \"\(value)\": \(reason)."
    case .missingDirectory(let path):
      return "\(path): no such folder."
    case .missingFile(let path, let tried):
      let others = tried.filter { $0 != path }
      return others.isEmpty
        ? "\(path): no such file."
        : "\(path): no such file (also tried \(others.joined(separator: ", ")))."
    case .unreadableFile(let path, let reason):
      return "\(path): cannot be read: \(reason)."
    case .emptyFile(let path):
      return "\(path): the file is empty."
    case .corruptGzip(let path, let offset, let reason):
      return "\(path): corrupt gzip data at byte \(offset) of the compressed file: \(reason)."
    case .truncatedGzip(let path, let bytes):
      return "\(path): the gzip stream is truncated: it ends after \(bytes) bytes, "
        + "before its end marker and checksum."
    case .badMagicNumber(let path, let found, let expected, let meaning):
      return "\(path): wrong magic number \(hex(found)) at byte 0; expected \(hex(expected)) "
        + "(\(meaning))."
    case .truncatedFile(let path, let expected, let actual, let what):
      return "\(path): the file is truncated: \(what) needs \(expected) bytes but the file "
        + "ends at byte \(actual)."
    case .trailingBytes(let path, let offset, let count):
      return "\(path): \(count) unexpected bytes after the end of the data at byte \(offset)."
    case .badHeader(let path, let offset, let reason):
      return "\(path): bad header at byte \(offset): \(reason)."
    case .countMismatch(let imagesPath, let imageCount, let labelsPath, let labelCount):
      return "\(imagesPath) holds \(imageCount) images but \(labelsPath) holds \(labelCount) "
        + "labels; the counts must match."
    case .labelOutOfRange(let path, let offset, let label, let classCount):
      return "\(path): label \(label) at byte \(offset) is outside the \(classCount) classes "
        + "(0...\(classCount - 1))."
    case .shapeMismatch(let path, let expected, let found):
      return "\(path): samples have shape \(shapeText(found)) but the rest of the data set has "
        + "\(shapeText(expected))."
    case .nonNumericCell(let path, let line, let column, let name, let text):
      let shown = text.isEmpty ? "an empty cell" : "\"\(text)\""
      return "\(path):\(line):\(column): \(shown) in column \"\(name)\" is not a finite number."
    case .raggedRow(let path, let line, let expected, let found):
      return "\(path):\(line): the row has \(found) cells but the header has \(expected)."
    case .missingLabelColumn(let path, let name, let available):
      return "\(path):1: no label column named \"\(name)\" in the header (columns: "
        + "\(available.joined(separator: ", ")))."
    case .headerMismatch(let path, let expected, let found):
      return "\(path):1: the header (\(found.joined(separator: ","))) differs from the "
        + "training file's (\(expected.joined(separator: ",")))."
    case .unknownLabel(let path, let line, let column, let label):
      return "\(path):\(line):\(column): label \"\(label)\" does not occur in the training data."
    case .malformedCSV(let path, let line, let column, let reason):
      return "\(path):\(line):\(column): \(reason)."
    case .tooFewSamples(let what, let count, let needed):
      return "\(what) has \(count) samples; at least \(needed) are needed."
    }
  }

  public var errorDescription: String? { description }
}

private func hex(_ value: UInt32) -> String {
  let digits = String(value, radix: 16, uppercase: true)
  return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

private func shapeText(_ shape: [Int]) -> String {
  shape.map(String.init).joined(separator: "×")
}
