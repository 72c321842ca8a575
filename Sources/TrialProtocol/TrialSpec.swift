import Foundation
import Schedules

/// One piece of the recipe's work as data — an LR range test, a short trial or the final run —
/// that any runner can carry out: the built-in engine in-process, `discipline trial --spec`,
/// or the user's own program (`--command`). Written as `spec.json` and `schedule.csv` in its
/// own directory (Docs/PROTOCOL.md); the per-step schedule is computed beforehand, so running
/// it needs no round trip per step.
public struct TrialSpec: Codable, Sendable, Equatable {
  /// The protocol version this build speaks.
  public static let protocolVersion = 1

  public enum Kind: String, Codable, Sendable {
    case rangeTest = "range-test"
    case trial
    case final
  }

  /// One row of the schedule: the learning rate and momentum (β₁ for Adam) before a step.
  public struct Row: Codable, Sendable, Equatable {
    public var learningRate: Double
    public var momentum: Double
    public init(learningRate: Double, momentum: Double) {
      self.learningRate = learningRate
      self.momentum = momentum
    }

    /// Every step of `schedule` as rows; `momentum` where the schedule does not cycle it.
    public static func rows(of schedule: Schedule, momentum: Double) -> [Row] {
      (0..<schedule.totalSteps).map {
        Row(
          learningRate: schedule.learningRate(at: $0),
          momentum: schedule.momentum(at: $0) ?? momentum)
      }
    }
  }

  public var protocolVersion = TrialSpec.protocolVersion
  public var kind: Kind
  /// The journal's name for the work ("momentum/0.97").
  public var key: String
  public var batchSize: Int
  public var seed: UInt64
  public var weightDecay: Double
  public var dropout: Double
  public var augmentation: String
  /// The whole schedule, one row per step (written to `schedule.csv`, not `spec.json`).
  public var schedule: [Row]
  /// Steps done after which the validation loss is measured (1-based counts).
  public var validateAt: [Int]
  /// Batches of the validation split each measurement reads; nil: all of it.
  public var validationBatches: Int?
  /// The final run: train on training and validation data, report the test split at the end.
  public var final: Bool = false
  /// Final run: where the program saves its model, relative to the spec's directory.
  public var saveModel: String?
  /// Wall-clock limit of the run, enforced through the stop file.
  public var maxSeconds: Double?
  /// A range test's divergence stop, for runners that read their own events (`discipline
  /// trial`): stop once the bias-corrected moving average of the loss (β `smoothing`) passes
  /// `divergence_factor` × its best. discipline applies it itself when it reads the events.
  public struct StopRule: Codable, Sendable, Equatable {
    public var smoothing: Double
    public var divergenceFactor: Double
    enum CodingKeys: String, CodingKey {
      case smoothing
      case divergenceFactor = "divergence_factor"
    }
    public init(smoothing: Double, divergenceFactor: Double) {
      self.smoothing = smoothing
      self.divergenceFactor = divergenceFactor
    }
  }
  public var stopRule: StopRule?
  /// What the built-in engine needs to rebuild the data and model (`discipline trial`); a
  /// user's program ignores it.
  public var engineSection: [String: String]?
  /// Hyper-parameters beyond the fields above (a phase added to the recipe tunes them), by
  /// name; written as `hyperparameters` only when there are any.
  public var hyperparameters: [String: HyperValue] = [:]

  public var steps: Int { schedule.count }

  public init(
    kind: Kind, key: String, batchSize: Int, seed: UInt64, weightDecay: Double, dropout: Double = 0,
    augmentation: String = "none", schedule: [Row], validateAt: [Int], validationBatches: Int?
  ) {
    self.kind = kind
    self.key = key
    self.batchSize = batchSize
    self.seed = seed
    self.weightDecay = weightDecay
    self.dropout = dropout
    self.augmentation = augmentation
    self.schedule = schedule
    self.validateAt = validateAt
    self.validationBatches = validationBatches
  }

  enum CodingKeys: String, CodingKey {
    case protocolVersion = "protocol"
    case kind, key
    case batchSize = "batch_size"
    case seed
    case weightDecay = "weight_decay"
    case dropout, augmentation, steps, schedule
    case validateAt = "validate_at"
    case validationBatches = "validation_batches"
    case final
    case saveModel = "save_model"
    case maxSeconds = "max_seconds"
    case stopRule = "stop_rule"
    case engine, hyperparameters
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(protocolVersion, forKey: .protocolVersion)
    try c.encode(kind, forKey: .kind)
    try c.encode(key, forKey: .key)
    try c.encode(batchSize, forKey: .batchSize)
    try c.encode(seed, forKey: .seed)
    try c.encode(weightDecay, forKey: .weightDecay)
    try c.encode(dropout, forKey: .dropout)
    try c.encode(augmentation, forKey: .augmentation)
    try c.encode(steps, forKey: .steps)
    try c.encode(Self.scheduleFile, forKey: .schedule)
    try c.encode(validateAt, forKey: .validateAt)
    try c.encode(validationBatches, forKey: .validationBatches)
    try c.encode(final, forKey: .final)
    try c.encode(saveModel, forKey: .saveModel)
    try c.encode(maxSeconds, forKey: .maxSeconds)
    try c.encodeIfPresent(stopRule, forKey: .stopRule)
    try c.encodeIfPresent(engineSection, forKey: .engine)
    if !hyperparameters.isEmpty { try c.encode(hyperparameters, forKey: .hyperparameters) }
  }

  /// Decodes everything but the schedule's rows, which `read(from:)` fills from the CSV file.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    protocolVersion = try c.decode(Int.self, forKey: .protocolVersion)
    guard protocolVersion == Self.protocolVersion else {
      throw DecodingError.dataCorruptedError(
        forKey: .protocolVersion, in: c,
        debugDescription:
          "protocol \(protocolVersion) is not the one this discipline speaks (\(Self.protocolVersion))"
      )
    }
    kind = try c.decode(Kind.self, forKey: .kind)
    key = try c.decode(String.self, forKey: .key)
    batchSize = try c.decode(Int.self, forKey: .batchSize)
    seed = try c.decode(UInt64.self, forKey: .seed)
    weightDecay = try c.decode(Double.self, forKey: .weightDecay)
    dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
    augmentation = try c.decodeIfPresent(String.self, forKey: .augmentation) ?? "none"
    let steps = try c.decode(Int.self, forKey: .steps)
    guard steps >= 0 else {
      throw DecodingError.dataCorruptedError(
        forKey: .steps, in: c, debugDescription: "\"steps\" must be 0 or more, not \(steps)")
    }
    // The rows come from schedule.csv (`read(from:)`): nothing is allocated for a count that
    // only the spec states (`steps: 9e18` would abort the process).
    schedule = []
    (decoder.userInfo[Self.declaredStepsKey] as? DeclaredSteps)?.value = steps
    validateAt = try c.decode([Int].self, forKey: .validateAt)
    validationBatches = try c.decodeIfPresent(Int.self, forKey: .validationBatches)
    final = try c.decodeIfPresent(Bool.self, forKey: .final) ?? false
    saveModel = try c.decodeIfPresent(String.self, forKey: .saveModel)
    maxSeconds = try c.decodeIfPresent(Double.self, forKey: .maxSeconds)
    stopRule = try c.decodeIfPresent(StopRule.self, forKey: .stopRule)
    engineSection = try c.decodeIfPresent([String: String].self, forKey: .engine)
    hyperparameters =
      try c.decodeIfPresent([String: HyperValue].self, forKey: .hyperparameters) ?? [:]
  }

  /// A folder name for a key: "momentum/0.97" → "momentum-0.97". Always one folder inside the
  /// trials folder: "/" and every other character but letters, digits, ".", "-" and "_"
  /// become "-", and so does a leading "." (a key "..", or "../../x", can name neither the
  /// parent folder nor a hidden one); an empty key is "-".
  public static func directoryName(for key: String) -> String {
    var name = String(key.map { $0.isLetter || $0.isNumber || ".-_".contains($0) ? $0 : "-" })
    if name.first == "." { name = "-" + name.dropFirst() }
    return name.isEmpty ? "-" : name
  }

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

  /// Where decoding a spec leaves the step count it states, for `read(from:)` to check against
  /// the rows of schedule.csv.
  final class DeclaredSteps: @unchecked Sendable { var value = 0 }
  static let declaredStepsKey = CodingUserInfoKey(rawValue: "discipline.declaredSteps")!

  public static let specFile = "spec.json"
  public static let scheduleFile = "schedule.csv"
  public static let eventsFile = "events.jsonl"
  public static let resultFile = "result.json"
  public static let stopFile = "stop"

  /// Writes `spec.json` and `schedule.csv` into `directory` (created if needed), replacing
  /// what a killed earlier run left there (its events, result and stop file).
  public func write(to directory: URL) throws {
    let fm = FileManager.default
    try fm.createDirectory(at: directory, withIntermediateDirectories: true)
    for name in [Self.eventsFile, Self.resultFile, Self.stopFile] {
      try? fm.removeItem(at: directory.appendingPathComponent(name))
    }
    try writeFiles(to: directory)
  }

  /// Replaces the spec and schedule of a run in progress (a final run re-planned shorter):
  /// spec.json first, then schedule.csv, each atomically; a program re-reads both when
  /// schedule.csv changes (Docs/PROTOCOL.md).
  public func rewrite(in directory: URL) throws {
    try writeFiles(to: directory, scheduleLast: true)
  }

  private func writeFiles(to directory: URL, scheduleLast: Bool = false) throws {
    var csv = "step,lr,momentum\n"
    csv.reserveCapacity(schedule.count * 32)
    for (k, row) in schedule.enumerated() { csv += "\(k),\(row.learningRate),\(row.momentum)\n" }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let json = try encoder.encode(self)
    if !scheduleLast {
      try Data(csv.utf8).write(
        to: directory.appendingPathComponent(Self.scheduleFile), options: .atomic)
    }
    try json.write(to: directory.appendingPathComponent(Self.specFile), options: .atomic)
    if scheduleLast {
      try Data(csv.utf8).write(
        to: directory.appendingPathComponent(Self.scheduleFile), options: .atomic)
    }
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
