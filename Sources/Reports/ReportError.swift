import Foundation

/// What can go wrong when writing a report or a chart to disk.
public enum ReportError: Error, LocalizedError, Equatable {
  /// The file could not be written; `reason` is the system's explanation.
  case cannotWrite(path: String, reason: String)

  public var errorDescription: String? {
    switch self {
    case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
    }
  }
}

/// Writes `text` as UTF-8 to `url` atomically, creating missing parent directories.
func writeText(_ text: String, to url: URL) throws {
  do {
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url, options: .atomic)
  } catch {
    throw ReportError.cannotWrite(path: url.path, reason: error.localizedDescription)
  }
}

extension Chart {
  /// Writes ``svg()`` to `url` (parent directories are created).
  /// - Throws: ``ReportError/cannotWrite(path:reason:)``.
  public func write(to url: URL) throws { try writeText(svg(), to: url) }
}
