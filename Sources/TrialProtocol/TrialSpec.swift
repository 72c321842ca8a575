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
  /// The final run (`kind` final): train on training and validation data, report the test split
  /// at the end. `spec.json` carries it as `final` too, for programs that read that field; a
  /// spec read back takes its kind.
  public var final: Bool { kind == .final }
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

  enum CodingKeys: String, CodingKey, CaseIterable {
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

  /// The fields a command line may take as words (`{batch_size}`), named as in spec.json.
  static let wordFields: [CodingKeys] = [
    .kind, .key, .batchSize, .seed, .weightDecay, .dropout, .augmentation, .steps,
  ]
  /// The names of `words`.
  public static var wordNames: [String] { wordFields.map(\.rawValue) }
  /// The spec's fields a command line may take, as text, by their names in spec.json.
  public var words: [String: String] {
    Dictionary(uniqueKeysWithValues: Self.wordFields.map { ($0.rawValue, word($0)) })
  }
  func word(_ field: CodingKeys) -> String {
    switch field {
    case .kind: kind.rawValue
    case .key: key
    case .batchSize: "\(batchSize)"
    case .seed: "\(seed)"
    case .weightDecay: "\(weightDecay)"
    case .dropout: "\(dropout)"
    case .augmentation: augmentation
    case .steps: "\(steps)"
    default: ""
    }
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

}
