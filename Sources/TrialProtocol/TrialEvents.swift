import Foundation

/// What a running spec reports, one JSON object a line in `events.jsonl` (Docs/PROTOCOL.md);
/// `time` is monotonic seconds since the program set itself up.
public enum TrialEvent: Equatable, Sendable {
  /// First: the protocol version and what the program says about itself (the optional
  /// hyper-parameters it applies, its training split's size, its optimizer, ...).
  case start(protocolVersion: Int, program: ProgramFacts, time: Double)
  /// After every step: the step just taken (0-based), its batch's mean loss, the batch size.
  case train(step: Int, loss: Double, samples: Int, time: Double)
  /// At each `validate_at`: steps done, the validation loss, and the accuracy (0–1) and other
  /// metrics where the program reports them.
  case validation(TrialRunResult.Measurement, time: Double)
  /// Final run, after the last step: the test split.
  case test(TrialRunResult.Measurement, time: Double)
  /// Last: the steps taken.
  case end(steps: Int, time: Double)

  public var time: Double {
    switch self {
    case .start(_, _, let t), .train(_, _, _, let t), .validation(_, let t), .test(_, let t),
      .end(_, let t):
      t
    }
  }

  /// The event as one line of JSON (non-finite losses as `NaN`, `Infinity`, as Python writes them).
  public var jsonLine: String {
    func number(_ v: Double) -> String {
      v.isNaN ? "NaN" : v.isInfinite ? (v > 0 ? "Infinity" : "-Infinity") : "\(v)"
    }
    func measurement(_ name: String, _ m: TrialRunResult.Measurement, _ t: Double) -> String {
      let accuracy = m.accuracy.map { ",\"accuracy\":\(number($0))" } ?? ""
      let metrics =
        m.metrics.map { values in
          ",\"metrics\":{"
            + values.sorted { $0.key < $1.key }.map {
              "\(JSONText.string($0.key)):\(number($0.value))"
            }
            .joined(separator: ",") + "}"
        } ?? ""
      return
        "{\"event\":\"\(name)\",\"step\":\(m.step),\"loss\":\(number(m.loss))\(accuracy)\(metrics),\"time\":\(number(t))}"
    }
    switch self {
    case .start(let version, let program, let t):
      return
        "{\"event\":\"start\",\"protocol\":\(version),\(program.jsonFields),\"time\":\(number(t))}"
    case .train(let step, let loss, let samples, let t):
      return
        "{\"event\":\"train\",\"step\":\(step),\"loss\":\(number(loss)),\"samples\":\(samples),\"time\":\(number(t))}"
    case .validation(let m, let t): return measurement("val", m, t)
    case .test(let m, let t): return measurement("test", m, t)
    case .end(let steps, let t):
      return "{\"event\":\"end\",\"steps\":\(steps),\"time\":\(number(t))}"
    }
  }

  /// Parses one line of `events.jsonl`; the error says what is wrong (the caller adds the file
  /// and line). `NaN`, `Infinity`, `-Infinity` and `null` are accepted for numbers.
  public init(parsing line: String) throws(TrialEventError) {
    // JSON has no NaN: Python writes NaN/Infinity tokens, so those outside strings become null
    // before parsing. JSONDecoder, not JSONSerialization: it reads every number back to the
    // same bits.
    let text = JSONText.nonFiniteTokensAsNull(line)
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

/// JSON text the events need beyond what JSONDecoder reads.
enum JSONText {
  /// `s` as a JSON string literal.
  static func string(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
      default: out.unicodeScalars.append(u)
      }
    }
    return out + "\""
  }

  /// `line` with the tokens `NaN`, `Infinity` and `-Infinity` outside string literals replaced
  /// by `null` (a metric named "NaN rate" keeps its name).
  static func nonFiniteTokensAsNull(_ line: String) -> String {
    guard line.contains("NaN") || line.contains("Infinity") else { return line }
    let bytes = Array(line.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    var inString = false
    func matches(_ token: String, at k: Int) -> Bool {
      let t = Array(token.utf8)
      return k + t.count <= bytes.count && Array(bytes[k..<k + t.count]) == t
    }
    while i < bytes.count {
      let b = bytes[i]
      if inString {
        out.append(b)
        if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
          out.append(bytes[i + 1])
          i += 2
          continue
        }
        if b == UInt8(ascii: "\"") { inString = false }
        i += 1
        continue
      }
      if b == UInt8(ascii: "\"") {
        inString = true
        out.append(b)
        i += 1
        continue
      }
      var replaced = false
      for token in ["-Infinity", "Infinity", "NaN"] where matches(token, at: i) {
        out += Array("null".utf8)
        i += token.utf8.count
        replaced = true
        break
      }
      if !replaced {
        out.append(b)
        i += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }
}

extension TrialEvent {
  /// One decoder for every line (a program reports thousands of events a second).
  nonisolated(unsafe) fileprivate static let decoder = JSONDecoder()
}

/// The fields of an event line, checked as they are decoded.
struct EventFields: Decodable {
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
    func measurement() throws -> TrialRunResult.Measurement {
      let accuracyKey = Key(stringValue: "accuracy")
      var accuracy: Double? = nil
      if c.contains(accuracyKey) { accuracy = try real("accuracy") }
      var metrics: [String: Double]? = nil
      let metricsKey = Key(stringValue: "metrics")
      if c.contains(metricsKey), (try? c.decodeNil(forKey: metricsKey)) != true {
        guard let values = try? c.decode([String: Double?].self, forKey: metricsKey) else {
          throw TrialEventError(
            "\"\(name)\" event whose \"metrics\" is not an object of names and numbers")
        }
        metrics = values.mapValues { $0 ?? .nan }
      }
      return TrialRunResult.Measurement(
        step: try int("step"), loss: try real("loss"), accuracy: accuracy, metrics: metrics)
    }
    switch name {
    case "start":
      event = .start(
        protocolVersion: try int("protocol"), program: try ProgramFacts(startEvent: c),
        time: time)
    case "train":
      event = .train(
        step: try int("step"), loss: try real("loss"), samples: try int("samples"), time: time)
    case "val": event = .validation(try measurement(), time: time)
    case "test": event = .test(try measurement(), time: time)
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
    case .validation(let m, _) where m.step < 0 || m.step > done:
      return "validation after step \(m.step), but \(done) steps were reported"
    case .test(let m, _) where m.step < 0 || m.step > done:
      return "test after step \(m.step), but \(done) steps were reported"
    case .end(let steps, _) where steps != done:
      return "\"end\" says \(steps) steps, but \(done) were reported"
    default:
      return nil
    }
  }
}
