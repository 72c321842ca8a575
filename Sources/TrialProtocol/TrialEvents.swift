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
    case .start(_, _, _, let t), .train(_, _, _, let t), .validation(_, _, _, let t),
      .test(_, _, _, let t), .end(_, let t):
      t
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
      return
        "{\"event\":\"start\",\"protocol\":\(version),\"honours\":[\(list)]\(samples.map { ",\"train_samples\":\($0)" } ?? ""),\"time\":\(number(t))}"
    case .train(let step, let loss, let samples, let t):
      return
        "{\"event\":\"train\",\"step\":\(step),\"loss\":\(number(loss)),\"samples\":\(samples),\"time\":\(number(t))}"
    case .validation(let step, let loss, let accuracy, let t):
      return
        "{\"event\":\"val\",\"step\":\(step),\"loss\":\(number(loss)),\"accuracy\":\(number(accuracy)),\"time\":\(number(t))}"
    case .test(let step, let loss, let accuracy, let t):
      return
        "{\"event\":\"test\",\"step\":\(step),\"loss\":\(number(loss)),\"accuracy\":\(number(accuracy)),\"time\":\(number(t))}"
    case .end(let steps, let t):
      return "{\"event\":\"end\",\"steps\":\(steps),\"time\":\(number(t))}"
    }
  }

  /// Parses one line of `events.jsonl`; the error says what is wrong (the caller adds the file
  /// and line). `NaN`, `Infinity`, `-Infinity` and `null` are accepted for numbers.
  public init(parsing line: String) throws(TrialEventError) {
    // JSON has no NaN: Python writes NaN/Infinity tokens, so they become null before parsing
    // (events carry no strings that could contain them, other than names checked below).
    // JSONDecoder, not JSONSerialization: it reads every number back to the same bits.
    let text = line.replacingOccurrences(of: "-Infinity", with: "null").replacingOccurrences(
      of: "Infinity", with: "null"
    )
    .replacingOccurrences(of: "NaN", with: "null")
    let fields: EventFields
    do { fields = try Self.decoder.decode(EventFields.self, from: Data(text.utf8)) } catch let error
      as TrialEventError
    {
      throw error
    } catch {
      throw TrialEventError("not a JSON object: \(line.prefix(120))")
    }
    self = fields.event
  }
}

extension TrialEvent {
  /// One decoder for every line (a program reports thousands of events a second).
  nonisolated(unsafe) fileprivate static let decoder = JSONDecoder()
}

/// The fields of an event line, checked as they are decoded.
private struct EventFields: Decodable {
  var event: TrialEvent

  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: Key.self)
    guard let name = try? c.decode(String.self, forKey: Key(stringValue: "event")) else {
      throw TrialEventError("no \"event\" name")
    }
    func int(_ key: String) throws -> Int {
      guard let v = try? c.decode(Int.self, forKey: Key(stringValue: key)) else {
        throw TrialEventError("\"\(name)\" event without an integer \"\(key)\"")
      }
      return v
    }
    func real(_ key: String) throws -> Double {
      let k = Key(stringValue: key)
      if let v = try? c.decode(Double.self, forKey: k) { return v }
      if c.contains(k), (try? c.decodeNil(forKey: k)) == true { return .nan }
      throw TrialEventError("\"\(name)\" event without a number \"\(key)\"")
    }
    let time = try real("time")
    switch name {
    case "start":
      let honours = (try? c.decode([String].self, forKey: Key(stringValue: "honours"))) ?? []
      let samples = try? c.decode(Int.self, forKey: Key(stringValue: "train_samples"))
      event = .start(
        protocolVersion: try int("protocol"), honours: honours, trainSamples: samples, time: time)
    case "train":
      event = .train(
        step: try int("step"), loss: try real("loss"), samples: try int("samples"), time: time)
    case "val":
      event = .validation(
        step: try int("step"), loss: try real("loss"), accuracy: try real("accuracy"), time: time)
    case "test":
      event = .test(
        step: try int("step"), loss: try real("loss"), accuracy: try real("accuracy"), time: time)
    case "end": event = .end(steps: try int("steps"), time: time)
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
  /// What kind of machine that is (CPU model and cores), to warn when trials compared by equal
  /// wall time ran on different kinds.
  public var machine: String?

  enum CodingKeys: String, CodingKey {
    case protocolVersion = "protocol"
    case key, kind, status, steps, seconds
    case evaluationSeconds = "evaluation_seconds"
    case startupSeconds = "startup_seconds"
    case losses, validations, test, honours
    case trainSamples = "train_samples"
    case exitCode = "exit_code"
    case message, node, machine
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
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    try encoder.encode(self).write(
      to: directory.appendingPathComponent(TrialSpec.resultFile), options: .atomic)
  }

  public static func read(from directory: URL) throws -> TrialRunResult {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return try decoder.decode(
      TrialRunResult.self,
      from: Data(contentsOf: directory.appendingPathComponent(TrialSpec.resultFile)))
  }
}

/// Appends events to `events.jsonl`, written out every 0.2 s (and at 64 KiB): whoever reads the
/// file as it grows (a discipline watching a process or a cluster task) sees the run progress,
/// its start-up end and its divergence within a fraction of a second.
package final class EventLog {
  private let handle: FileHandle?
  private var buffer = ""
  private var lastFlush = Date()
  package init(directory: URL?) throws {
    guard let directory else {
      handle = nil
      return
    }
    let url = directory.appendingPathComponent(TrialSpec.eventsFile)
    // Emptied in place, not replaced: a discipline may already be reading this very file.
    if let existing = FileHandle(forWritingAtPath: url.path) {
      try existing.truncate(atOffset: 0)
      handle = existing
    } else {
      FileManager.default.createFile(atPath: url.path, contents: nil)
      handle = try FileHandle(forWritingTo: url)
    }
  }
  package func append(_ event: TrialEvent) {
    guard handle != nil else { return }
    buffer += event.jsonLine
    buffer += "\n"
    if buffer.utf8.count > 1 << 16 || Date().timeIntervalSince(lastFlush) >= 0.2 { flush() }
  }
  package func flush() {
    guard let handle, !buffer.isEmpty else { return }
    handle.write(Data(buffer.utf8))
    buffer = ""
    lastFlush = Date()
  }
  deinit {
    flush()
    try? handle?.close()
  }
}

extension TrialRunResult {
  /// Adds what an event measured.
  package mutating func record(_ event: TrialEvent) {
    switch event {
    case .start(_, let honours, let samples, _):
      self.honours = honours
      if let samples { trainSamples = samples }
    case .train(_, let loss, _, _): losses.append(loss)
    case .validation(let step, let loss, let accuracy, _):
      validations.append(Measurement(step: step, loss: loss, accuracy: accuracy))
    case .test(let step, let loss, let accuracy, _):
      test = Measurement(step: step, loss: loss, accuracy: accuracy)
    case .end: break
    }
    steps = losses.count
  }
}

extension TrialEvent {
  /// What is wrong with `event` coming after the events recorded in `result`, by the
  /// protocol's rules (Docs/PROTOCOL.md) — nil when nothing is. `start` comes once, first;
  /// train steps count 0, 1, 2, … one event each, none repeated, skipped or negative (each
  /// counts toward the measured speed); a validation or test reports a step count between 0
  /// and the steps done; `end` says the steps done, and nothing follows it. The one checker of
  /// every runner that reads a program's events.
  package static func sequenceProblem(
    _ event: TrialEvent, after result: TrialRunResult, started: Bool, ended: Bool
  ) -> String? {
    if ended { return "an event after \"end\"" }
    let done = result.losses.count
    switch event {
    case .start where started:
      return "a second \"start\""
    case .train(let step, _, _, _) where step != done:
      return
        "train step \(step), expected \(done) (one train event per step, counting from 0, in order)"
    case .validation(let step, _, _, _) where step < 0 || step > done:
      return "validation after step \(step), but \(done) steps were reported"
    case .test(let step, _, _, _) where step < 0 || step > done:
      return "test after step \(step), but \(done) steps were reported"
    case .end(let steps, _) where steps != done:
      return "\"end\" says \(steps) steps, but \(done) were reported"
    default:
      return nil
    }
  }
}
