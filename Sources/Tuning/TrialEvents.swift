import Foundation

/// What a running spec reports, one JSON object a line in `events.jsonl` (Docs/PROTOCOL.md);
/// `time` is monotonic seconds since the program set itself up.
public enum TrialEvent: Equatable, Sendable {
  /// First: the protocol version, the optional hyper-parameters the program applies
  /// (`dropout`, `augmentation`), and the size of its training split where it says.
  case start(protocolVersion: Int, honours: [String], trainSamples: Int?, time: Double)
  /// After every step: the step just taken (0-based), its batch's mean loss, the batch size.
  case train(step: Int, loss: Double, samples: Int, time: Double)
  /// At each `validate_at`: steps done, validation loss and accuracy (0–1).
  case validation(step: Int, loss: Double, accuracy: Double, time: Double)
  /// Final run, after the last step: the test split.
  case test(step: Int, loss: Double, accuracy: Double, time: Double)
  /// Last: the steps taken.
  case end(steps: Int, time: Double)

  public var time: Double {
    switch self {
    case .start(_, _, _, let t), .train(_, _, _, let t), .validation(_, _, _, let t), .test(_, _, _, let t), .end(_, let t): t
    }
  }

  /// The event as one line of JSON (non-finite losses as `NaN`, `Infinity`, as Python writes them).
  public var jsonLine: String {
    func number(_ v: Double) -> String {
      v.isNaN ? "NaN" : v.isInfinite ? (v > 0 ? "Infinity" : "-Infinity") : "\(v)"
    }
    switch self {
    case .start(let version, let honours, let samples, let t):
      let list = honours.map { "\"\($0)\"" }.joined(separator: ",")
      return "{\"event\":\"start\",\"protocol\":\(version),\"honours\":[\(list)]\(samples.map { ",\"train_samples\":\($0)" } ?? ""),\"time\":\(number(t))}"
    case .train(let step, let loss, let samples, let t):
      return "{\"event\":\"train\",\"step\":\(step),\"loss\":\(number(loss)),\"samples\":\(samples),\"time\":\(number(t))}"
    case .validation(let step, let loss, let accuracy, let t):
      return "{\"event\":\"val\",\"step\":\(step),\"loss\":\(number(loss)),\"accuracy\":\(number(accuracy)),\"time\":\(number(t))}"
    case .test(let step, let loss, let accuracy, let t):
      return "{\"event\":\"test\",\"step\":\(step),\"loss\":\(number(loss)),\"accuracy\":\(number(accuracy)),\"time\":\(number(t))}"
    case .end(let steps, let t):
      return "{\"event\":\"end\",\"steps\":\(steps),\"time\":\(number(t))}"
    }
  }

  /// Parses one line of `events.jsonl`; the error says what is wrong (the caller adds the file
  /// and line). `NaN`, `Infinity`, `-Infinity` and `null` are accepted for numbers.
  public init(parsing line: String) throws(TrialEventError) {
    // JSON has no NaN: Python writes NaN/Infinity tokens, so they become null before parsing
    // (events carry no strings that could contain them, other than names checked below).
    let text = line.replacingOccurrences(of: "-Infinity", with: "null").replacingOccurrences(of: "Infinity", with: "null")
      .replacingOccurrences(of: "NaN", with: "null")
    guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
      throw TrialEventError("not a JSON object: \(line.prefix(120))")
    }
    guard let name = object["event"] as? String else { throw TrialEventError("no \"event\" name") }
    func int(_ key: String) throws(TrialEventError) -> Int {
      guard let v = object[key] as? NSNumber, let i = Int(exactly: v.doubleValue) else {
        throw TrialEventError("\"\(name)\" event without an integer \"\(key)\"")
      }
      return i
    }
    func real(_ key: String, required: Bool = true) throws(TrialEventError) -> Double {
      if let v = object[key] as? NSNumber { return v.doubleValue }
      if object[key] is NSNull || (!required && object[key] == nil) { return .nan }
      throw TrialEventError("\"\(name)\" event without a number \"\(key)\"")
    }
    let time = try real("time")
    switch name {
    case "start":
      let honours = object["honours"] as? [String] ?? []
      let samples = (object["train_samples"] as? NSNumber).map { $0.intValue }
      self = .start(protocolVersion: try int("protocol"), honours: honours, trainSamples: samples, time: time)
    case "train": self = .train(step: try int("step"), loss: try real("loss"), samples: try int("samples"), time: time)
    case "val": self = .validation(step: try int("step"), loss: try real("loss"), accuracy: try real("accuracy"), time: time)
    case "test": self = .test(step: try int("step"), loss: try real("loss"), accuracy: try real("accuracy"), time: time)
    case "end": self = .end(steps: try int("steps"), time: time)
    default: throw TrialEventError("unknown event \"\(name)\"")
    }
  }
}

/// A line of `events.jsonl` that is not an event of the protocol.
public struct TrialEventError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}

/// What the consumer of a running spec answers after each event.
public enum TrialDecision: Sendable {
  case proceed
  /// Stop the run after this step (a diverged range test, a trial whose time is up).
  case stop
}

/// How a spec's run ended and what it measured: `result.json` (Docs/PROTOCOL.md).
public struct TrialRunResult: Codable, Sendable, Equatable {
  public enum Status: String, Codable, Sendable {
    /// Every step of the schedule was taken.
    case finished
    /// The consumer asked it to stop (a diverged range test, the time limit).
    case stopped
    /// A non-finite training or validation loss.
    case diverged
    /// The user stopped discipline (Ctrl-C, SIGTERM).
    case interrupted
    /// The program failed: a non-zero exit, a malformed event, another protocol, silence.
    case failed
  }

  public struct Measurement: Codable, Sendable, Equatable {
    public var step: Int
    public var loss: Double
    public var accuracy: Double
  }

  public var protocolVersion = TrialSpec.protocolVersion
  public var key: String
  public var kind: TrialSpec.Kind
  public var status: Status
  public var steps: Int
  public var seconds: Double
  public var evaluationSeconds: Double
  /// Of `seconds`, the time until the first step was reported (a program's interpreter,
  /// imports and data loading).
  public var startupSeconds: Double = 0
  public var losses: [Double]
  public var validations: [Measurement]
  public var test: Measurement?
  public var honours: [String]
  /// The training split's size, where the program said.
  public var trainSamples: Int?
  public var exitCode: Int32?
  /// Why it failed (the file and line of a bad event, the last lines of standard error).
  public var message: String?
  /// The machine it ran on (host name), for comparing trials of equal wall time.
  public var node: String?

  enum CodingKeys: String, CodingKey {
    case protocolVersion = "protocol", key, kind, status, steps, seconds, evaluationSeconds = "evaluation_seconds"
    case startupSeconds = "startup_seconds"
    case losses, validations, test, honours, trainSamples = "train_samples", exitCode = "exit_code", message, node
  }

  public init(key: String, kind: TrialSpec.Kind) {
    self.key = key
    self.kind = kind
    status = .finished
    steps = 0
    seconds = 0
    evaluationSeconds = 0
    losses = []
    validations = []
    honours = []
  }

  /// Writes `result.json` atomically (a temporary file renamed), non-finite losses as the
  /// strings "NaN", "Infinity" and "-Infinity".
  public func write(to directory: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    try encoder.encode(self).write(to: directory.appendingPathComponent(TrialSpec.resultFile), options: .atomic)
  }

  public static func read(from directory: URL) throws -> TrialRunResult {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return try decoder.decode(TrialRunResult.self, from: Data(contentsOf: directory.appendingPathComponent(TrialSpec.resultFile)))
  }
}

/// Carries out specs: the built-in engine's sessions (`SessionRunner`), or the user's program
/// (`CommandRunner`).
public protocol TrialRunner {
  /// Runs `spec` (writing its files into `directory`, when given), handing every event to
  /// `observe` as it happens and stopping the run when it answers `.stop`.
  func run(_ spec: TrialSpec, directory: URL?, observe: (TrialEvent) -> TrialDecision) throws -> TrialRunResult
}

/// Appends events to `events.jsonl` (flushed by the system as it writes; the file is read as
/// it grows).
final class EventLog {
  private let handle: FileHandle?
  private var buffer = ""
  init(directory: URL?) throws {
    guard let directory else {
      handle = nil
      return
    }
    let url = directory.appendingPathComponent(TrialSpec.eventsFile)
    FileManager.default.createFile(atPath: url.path, contents: nil)
    handle = try FileHandle(forWritingTo: url)
  }
  func append(_ event: TrialEvent) {
    guard handle != nil else { return }
    buffer += event.jsonLine
    buffer += "\n"
    if buffer.utf8.count > 1 << 16 { flush() }
  }
  func flush() {
    guard let handle, !buffer.isEmpty else { return }
    handle.write(Data(buffer.utf8))
    buffer = ""
  }
  deinit {
    flush()
    try? handle?.close()
  }
}
