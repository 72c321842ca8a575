import Foundation
import TrialProtocol
import Tuning

/// A run folder's file that cannot be written, with the exit code that says so (73: cannot
/// create output).
public struct RunFolderError: Error, CustomStringConvertible {
  public var description: String
  public var exitCode: Int32
  public init(_ description: String, exitCode: Int32 = 73) {
    self.description = description
    self.exitCode = exitCode
  }
}

extension JSONEncoder {
  package static var sorted: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  /// One line of JSON with sorted keys, as every command's `--json` prints.
  package static func line(_ value: some Encodable) -> String {
    String(decoding: (try? sorted.encode(value)) ?? Data(), as: UTF8.self)
  }
}

/// Writes `text` to the file at `path` (a user's `--out`), naming it when it cannot.
package func writeText(_ text: String, to path: String) throws {
  do { try text.write(to: URL(fileURLWithPath: path), atomically: true, encoding: .utf8) } catch {
    throw RunFolderError("cannot write \(path): \(error.localizedDescription)", exitCode: 73)
  }
}

package func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
  let e = JSONEncoder()
  e.outputFormatting = [.sortedKeys, .prettyPrinted]
  // A diverged run has NaN and infinite losses; JSON has no literal for them.
  e.nonConformingFloatEncodingStrategy = .convertToString(
    positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
  do { try e.encode(value).write(to: url, options: .atomic) } catch {
    throw RunFolderError("cannot write \(url.path): \(error.localizedDescription)", exitCode: 73)
  }
}

/// "1:05" or "1:02:03".
package func formatDuration(_ seconds: Double) -> String {
  guard seconds.isFinite else { return "?" }
  let s = Int(seconds.rounded())
  return s >= 3600
    ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    : String(format: "%d:%02d", s / 60, s % 60)
}

/// "1e-4", "0.001", "0": short and exact enough for names and messages.
package func formatValue(_ v: Double) -> String {
  if v == 0 { return "0" }
  let text = String(format: "%g", v)
  return text.replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+0", with: "e")
}

package func formatLR(_ v: Double) -> String { String(format: "%.3g", v) }

/// A tuned hyper-parameter's value as its definition says it reads.
package func formatChoice(_ value: HyperValue, as form: TunedParameter.Form) -> String {
  switch (form, value) {
  case (.learningRate, .number(let v)): formatLR(v)
  case (.number, .number(let v)): formatValue(v)
  default: value.description
  }
}

extension TunedHyperParameters.Entry {
  /// The value as a report writes it: "0.95 → 0.85" for parts.
  var text: String {
    parts.map { formatChoice($0.choice.value, as: $0.parameter.form) }.joined(separator: " → ")
  }
}

/// Quotes a CSV field when it needs it.
package func csvField(_ text: String) -> String {
  text.contains(",") || text.contains("\"")
    ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
}

/// What an evaluation measured, for a sentence: "test accuracy 91.23%, test loss 0.2345", or
/// for a program that measures no accuracy "test loss 0.2345" and its own metrics
/// ("test mae 0.31").
package func describeMeasurement(
  split: String, loss: Double, accuracy: Double?, metrics: [String: Double]?
) -> String {
  var parts: [String] = []
  if let accuracy { parts.append(String(format: "%@ accuracy %.2f%%", split, 100 * accuracy)) }
  parts.append(String(format: "%@ loss %.4f", split, loss))
  for (name, value) in (metrics ?? [:]).sorted(by: { $0.key < $1.key }) {
    parts.append("\(split) \(name) \(String(format: "%.4g", value))")
  }
  return parts.joined(separator: ", ")
}
