import Foundation

// Reading a spec from its files: the field rules both sides share, the fields this version
// does not know, and the schedule.
extension TrialSpec {
  /// What is wrong with the spec's fields, if anything: the field (as spec.json names it) and
  /// the problem. The rules are the Python helper's (`load_spec`), so a spec one side runs
  /// the other does too; checked where a spec is read from a file (`read(from:)`), which is
  /// how `discipline trial` and every program get theirs.
  public var fieldProblem: (field: String, problem: String)? {
    if key.isEmpty
      || key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
    {
      return ("key", "must be a name without control characters, not \(Self.quoted(key))")
    }
    if batchSize < 1 { return ("batch_size", "must be a positive integer, not \(batchSize)") }
    if !(weightDecay.isFinite && weightDecay >= 0) {
      return ("weight_decay", "must be a number >= 0, not \(weightDecay)")
    }
    if !(dropout.isFinite && dropout >= 0 && dropout < 1) {
      return ("dropout", "must be a number in [0, 1), not \(dropout)")
    }
    if let bad = validateAt.first(where: { $0 < 1 }) {
      return ("validate_at", "must list step counts >= 1, not \(bad)")
    }
    if let batches = validationBatches, batches < 1 {
      return ("validation_batches", "must be a positive integer or null, not \(batches)")
    }
    if let limit = maxSeconds, !(limit.isFinite && limit > 0) {
      return ("max_seconds", "must be a positive number or null, not \(limit)")
    }
    if let path = saveModel {
      let parts = path.split(separator: "/", omittingEmptySubsequences: false)
      if path.isEmpty || path.hasPrefix("/") || parts.contains("..") || path.contains("\0") {
        return (
          "save_model",
          "must be a path inside the spec's folder (relative, without \"..\"), not \(Self.quoted(path))"
        )
      }
    }
    if let rule = stopRule {
      if !(rule.smoothing.isFinite && rule.smoothing >= 0 && rule.smoothing < 1) {
        return ("stop_rule", "\"smoothing\" must be a number in [0, 1), not \(rule.smoothing)")
      }
      if !(rule.divergenceFactor.isFinite && rule.divergenceFactor > 1) {
        return (
          "stop_rule",
          "\"divergence_factor\" must be a number above 1, not \(rule.divergenceFactor)"
        )
      }
    }
    return nil
  }

  /// A string as JSON would write it, for messages.
  static func quoted(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    let data = try? encoder.encode(text)
    return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\(text)\""
  }

  /// The top-level fields of the spec at `specURL` that this version does not know (a newer
  /// discipline's, or a typo in a spec written by hand): read as nothing, so whoever runs it is
  /// told. Empty where the file is not a JSON object (`read(from:)` says what is wrong).
  public static func unknownFields(at specURL: URL) -> [String] {
    guard let data = try? Data(contentsOf: specURL),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return [] }
    let known = Set(CodingKeys.allCases.map(\.stringValue))
    return object.keys.filter { !known.contains($0) }.sorted()
  }

  /// Reads a spec and its schedule; errors name the file, and the line of the schedule.
  public static func read(from specURL: URL) throws(TrialProtocolError) -> TrialSpec {
    let data: Data
    do { data = try Data(contentsOf: specURL) } catch {
      throw TrialProtocolError(
        file: specURL.path, problem: "cannot be read (\(error.localizedDescription))")
    }
    var spec: TrialSpec
    let declared = DeclaredSteps()
    let decoder = JSONDecoder()
    decoder.userInfo[declaredStepsKey] = declared
    do { spec = try decoder.decode(TrialSpec.self, from: data) } catch let
      DecodingError.dataCorrupted(context)
    {
      throw TrialProtocolError(file: specURL.path, problem: context.debugDescription)
    } catch let DecodingError.keyNotFound(key, _) {
      throw TrialProtocolError(file: specURL.path, problem: "has no \"\(key.stringValue)\"")
    } catch let DecodingError.typeMismatch(_, context) {
      throw TrialProtocolError(
        file: specURL.path,
        problem:
          "\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
    } catch {
      throw TrialProtocolError(file: specURL.path, problem: "is not a valid spec (\(error))")
    }
    if let bad = spec.fieldProblem {
      throw TrialProtocolError(
        file: specURL.path, line: lineOf(field: bad.field, in: data),
        problem: "\"\(bad.field)\" \(bad.problem)")
    }
    let scheduleURL = specURL.deletingLastPathComponent().appendingPathComponent(scheduleFile)
    let text: String
    do { text = try String(contentsOf: scheduleURL, encoding: .utf8) } catch {
      throw TrialProtocolError(
        file: scheduleURL.path, problem: "cannot be read (\(error.localizedDescription))")
    }
    let lines = scheduleLines(text)
    guard let header = lines.firstIndex(where: { !$0.isEmpty }) else {
      throw TrialProtocolError(
        file: scheduleURL.path, problem: "is empty: expected the header step,lr,momentum")
    }
    guard fields(of: lines[header]) == ["step", "lr", "momentum"] else {
      throw TrialProtocolError(
        file: scheduleURL.path, line: header + 1,
        problem: "the header must be step,lr,momentum, not \"\(lines[header].printable)\"")
    }
    var rows: [Row] = []
    rows.reserveCapacity(min(declared.value, lines.count))
    for (i, line) in lines.enumerated().dropFirst(header + 1) where !line.isEmpty {
      let parts = fields(of: line)
      guard parts.count == 3, let k = Int(parts[0]), let lr = number(parts[1]),
        let m = number(parts[2])
      else {
        throw TrialProtocolError(
          file: scheduleURL.path, line: i + 1,
          problem: "expected step,lr,momentum, got \"\(line.printable)\"")
      }
      guard k == rows.count else {
        throw TrialProtocolError(
          file: scheduleURL.path, line: i + 1, problem: "expected step \(rows.count), got \(k)")
      }
      guard lr.isFinite && lr >= 0 else {
        throw TrialProtocolError(
          file: scheduleURL.path, line: i + 1,
          problem: "lr \(parts[1]) is not a finite number >= 0")
      }
      guard m.isFinite else {
        throw TrialProtocolError(
          file: scheduleURL.path, line: i + 1,
          problem: "momentum \(parts[2]) is not a finite number")
      }
      rows.append(Row(learningRate: lr, momentum: m))
    }
    guard rows.count == declared.value else {
      throw TrialProtocolError(
        file: scheduleURL.path,
        problem: "has \(rows.count) steps, the spec says \(declared.value)")
    }
    spec.schedule = rows
    return spec
  }
}

/// The lines of schedule.csv by the protocol's rules, which the Python helper's
/// `load_schedule` follows too: a line ends with "\n" or "\r\n" (a file saved on Windows
/// reads the same), spaces and tabs around it are dropped, and a blank line is skipped (an
/// empty string here; the numbers of the rest stay the file's).
private func scheduleLines(_ text: String) -> [String] {
  text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
    var line = $0
    if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
    return String(decoding: line, as: UTF8.self).trimmingCharacters(
      in: CharacterSet(charactersIn: " \t"))
  }
}

/// A line's comma-separated fields, spaces and tabs around each dropped.
private func fields(of line: String) -> [String] {
  line.split(separator: ",", omittingEmptySubsequences: false).map {
    $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
  }
}

/// A number as Python's float() reads it too: not Double's hexadecimal form ("0x1p-3").
/// "nan" and "inf" are numbers here, refused as not finite with their own message.
private func number(_ field: String) -> Double? {
  guard !field.contains(where: { "xXpP".contains($0) }) else { return nil }
  return Double(field)
}

/// The 1-based line of a spec's JSON where `"field"` first appears, or nil.
private func lineOf(field: String, in data: Data) -> Int? {
  let needle = Array("\"\(field)\"".utf8)
  var line = 1
  var i = data.startIndex
  while i < data.endIndex {
    if data[i] == UInt8(ascii: "\n") {
      line += 1
    } else if data[i...].starts(with: needle) {
      return line
    }
    i = data.index(after: i)
  }
  return nil
}

/// A spec, schedule, event or result file that breaks the protocol, in words: the file, the
/// line where there is one, and what was wrong.
public struct TrialProtocolError: Error, CustomStringConvertible, Equatable {
  public var file: String
  public var line: Int?
  public var problem: String
  public init(file: String, line: Int? = nil, problem: String) {
    self.file = file
    self.line = line
    self.problem = problem
  }
  public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(problem)" }
}
