import Foundation
@testable import RangeTests
@testable import Runners
import Sessions
import Testing
@testable import TrialProtocol
@testable import Tuning

/// Specs, schedules, events and results as files (Docs/PROTOCOL.md).
@Suite struct TrialProtocolTests {
  func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "spec-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  func sampleSpec() -> TrialSpec {
    var settings = RangeTestSettings()
    settings.steps = 50
    settings.validateEvery = 20
    settings.weightDecay = 1e-4
    return settings.spec(
      key: "lr/range-test/128", batchSize: 128, seed: 3, dropout: 0.25, augmentation: "flip")
  }

  @Test func aSpecSurvivesItsFiles() throws {
    let dir = temporaryDirectory()
    let spec = sampleSpec()
    try spec.write(to: dir)
    let read = try TrialSpec.read(from: dir.appendingPathComponent("spec.json"))
    #expect(read == spec)
    #expect(read.validateAt == [20, 40, 50])
    #expect(read.stopRule == TrialSpec.StopRule(smoothing: 0.98, divergenceFactor: 4))
    let json = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: dir.appendingPathComponent("spec.json"))) as? [String: Any])
    #expect(
      json["protocol"] as? Int == 1 && json["kind"] as? String == "range-test"
        && json["steps"] as? Int == 50)
    #expect(json["schedule"] as? String == "schedule.csv" && json["batch_size"] as? Int == 128)
    let csv = try String(contentsOf: dir.appendingPathComponent("schedule.csv"), encoding: .utf8)
      .split(separator: "\n")
    #expect(csv.first == "step,lr,momentum" && csv.count == 51 && csv[1].hasPrefix("0,1e-07,"))
  }

  @Test func anotherProtocolVersionIsRefusedByName() throws {
    let dir = temporaryDirectory()
    try sampleSpec().write(to: dir)
    let url = dir.appendingPathComponent("spec.json")
    let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(
      of: "\"protocol\" : 1", with: "\"protocol\" : 2")
    try text.write(to: url, atomically: true, encoding: .utf8)
    #expect {
      _ = try TrialSpec.read(from: url)
    } throws: { error in
      "\(error)".contains("spec.json") && "\(error)".contains("protocol 2")
    }
  }

  @Test func aBadScheduleLineIsNamed() throws {
    let dir = temporaryDirectory()
    try sampleSpec().write(to: dir)
    let url = dir.appendingPathComponent("schedule.csv")
    var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
    lines[7] = "6,fast,0.9"
    try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    #expect(
      throws: TrialProtocolError(
        file: url.path, line: 8, problem: "expected step,lr,momentum, got \"6,fast,0.9\"")
    ) {
      _ = try TrialSpec.read(from: dir.appendingPathComponent("spec.json"))
    }
  }

  @Test(arguments: [
    TrialEvent.start(
      protocolVersion: 1, program: ProgramFacts(honours: ["dropout"], trainSamples: 54_000),
      time: 0),
    .start(
      protocolVersion: 1,
      program: ProgramFacts(
        honours: [], trainSamples: nil, optimizer: "AdamW", decoupledWeightDecay: true,
        worldSize: 2, ignores: ["batch_size"], metrics: ["mae": .lower, "f1 \"macro\"": .higher]),
      time: 0),
    .train(step: 3, loss: 2.25, samples: 128, time: 0.5),
    .validation(.init(step: 20, loss: 0.75, accuracy: 0.8125), time: 3),
    .validation(.init(step: 20, loss: 0.75, accuracy: nil, metrics: ["mae": 0.25]), time: 3),
    .test(.init(step: 40, loss: 0.5, accuracy: 0.875), time: 6),
    .end(steps: 40, time: 6.5),
  ])
  func eventsSurviveTheirLines(event: TrialEvent) throws {
    #expect(try TrialEvent(parsing: event.jsonLine) == event)
  }

  /// A regression program reports no accuracy, and metrics of its own; a NaN inside a metric's
  /// name stays a name (only bare tokens are read as non-finite numbers).
  @Test func measurementsWithoutAccuracyAndWithMetrics() throws {
    let event = try TrialEvent(
      parsing:
        #"{"event": "val", "step": 5, "loss": 0.3, "metrics": {"NaN rate": NaN, "mae": 0.125}, "time": 1}"#
    )
    guard case .validation(let m, _) = event else {
      Issue.record("not a validation: \(event)")
      return
    }
    #expect(m.accuracy == nil && m.loss == 0.3 && m.metrics?["mae"] == 0.125)
    #expect(m.metrics?["NaN rate"].map(\.isNaN) == true)
  }

  /// The start event's optional fields are read when present and named when malformed.
  @Test func theStartEventSaysWhatTheProgramIs() throws {
    guard
      case .start(_, let facts, _) = try TrialEvent(
        parsing:
          #"{"event":"start","protocol":1,"honours":[],"optimizer":"AdamW","decoupled_weight_decay":true,"world_size":4,"ignores":["batch_size"],"metrics":{"mae":"lower"},"time":0}"#
      )
    else {
      Issue.record("not a start event")
      return
    }
    #expect(facts.optimizer == "AdamW" && facts.decoupledWeightDecay && facts.worldSize == 4)
    #expect(!facts.applies("batch_size") && facts.applies("weight_decay"))
    #expect(!facts.applies("dropout") && facts.metrics == ["mae": .lower])
    #expect {
      _ = try TrialEvent(parsing: #"{"event":"start","protocol":1,"world_size":0,"time":0}"#)
    } throws: { "\($0)".contains("\"world_size\" is not a positive integer") }
    #expect {
      _ = try TrialEvent(parsing: #"{"event":"start","protocol":1,"metrics":{"f1":"up"},"time":0}"#)
    } throws: { "\($0)".contains("\"metrics\"") }
  }

  /// A journal written before the new facts existed reads back, and the facts survive a
  /// round trip without writing what they do not say.
  @Test func programFactsInTheJournal() throws {
    let old = try JSONDecoder().decode(
      ProgramFacts.self, from: Data(#"{"honours":["dropout"],"trainSamples":540}"#.utf8))
    #expect(old == ProgramFacts(honours: ["dropout"], trainSamples: 540))
    #expect(
      String(decoding: try JSONEncoder().encode(old), as: UTF8.self)
        .contains("decoupled") == false)
    let new = ProgramFacts(
      honours: [], trainSamples: nil, optimizer: "AdamW", decoupledWeightDecay: true,
      ignores: ["seed"])
    #expect(try JSONDecoder().decode(ProgramFacts.self, from: JSONEncoder().encode(new)) == new)
  }

  /// Python's json writes NaN and Infinity as bare tokens; they read as non-finite losses.
  @Test func nonFiniteLossesAsPythonWritesThem() throws {
    guard
      case .train(_, let loss, _, _) = try TrialEvent(
        parsing: #"{"event": "train", "step": 9, "loss": NaN, "samples": 64, "time": 1.5}"#)
    else {
      Issue.record("not a train event")
      return
    }
    #expect(loss.isNaN)
    guard
      case .train(_, let inf, _, _) = try TrialEvent(
        parsing: #"{"event":"train","step":9,"loss":Infinity,"samples":64,"time":1.5}"#)
    else { return }
    #expect(inf.isNaN || inf.isInfinite)
  }

  @Test(arguments: [
    ("{\"event\": \"train\", \"step\": 1, \"time\": 0}", "without a number \"loss\""),
    ("{\"event\": \"jump\", \"time\": 0}", "unknown event \"jump\""),
    ("step 1 loss 2", "not a JSON object"),
    ("{\"step\": 1}", "no \"event\" name"),
  ])
  func malformedEventsSayWhatIsWrong(line: String, problem: String) {
    #expect {
      _ = try TrialEvent(parsing: line)
    } throws: { error in
      "\(error)".contains(problem)
    }
  }

  /// The in-process runner writes the protocol's files: events as they happen, the result.
  @Test func theSessionRunnerWritesEventsAndResult() throws {
    let dir = temporaryDirectory()
    let session = AnalyticSession(features: 4, samples: 256, noise: 0.1, batchSize: 16, seed: 1)
    var settings = TrialSettings(
      batchSize: 16, maxLearningRate: 0.1, weightDecay: 0, steps: 40, evaluations: 4, seed: 1)
    settings.validationBatches = nil
    var spec = try settings.spec(key: "momentum/0.95")
    spec.kind = .final
    let result = try SessionRunner(session: session, clock: { 0 }).run(spec, directory: dir) { _ in
      .proceed
    }
    #expect(
      result.status == .finished && result.steps == 40
        && result.validations.map(\.step) == [10, 20, 30, 40])
    #expect(result.test != nil)
    let lines = try String(contentsOf: dir.appendingPathComponent("events.jsonl"), encoding: .utf8)
      .split(separator: "\n")
    let events = try lines.map { try TrialEvent(parsing: String($0)) }
    #expect(events.count == 1 + 40 + 4 + 1 + 1)
    guard case .start = events.first, case .end(40, _) = events.last else {
      Issue.record(
        "events must start with start and end with end: \(lines.first ?? "") … \(lines.last ?? "")")
      return
    }
    #expect(try TrialRunResult.read(from: dir) == result)
  }

  /// A range test through the runner stops where the in-process loop always stopped.
  @Test func aRangeTestThroughTheRunnerMatchesTheDivergenceRule() throws {
    let session = AnalyticSession(features: 4, samples: 256, noise: 0.1, batchSize: 16, seed: 1)
    var settings = RangeTestSettings()
    settings.steps = 200
    let result = try RangeTest.run(on: session, settings: settings)
    var rule = DivergenceStop(smoothing: settings.smoothing, factor: settings.divergenceFactor)
    let stoppedAt = result.points.firstIndex { rule.observe($0.loss) }
    #expect(stoppedAt == result.points.count - 1)
    #expect(result.divergedAtLearningRate == result.points.last?.learningRate)
  }

  /// Issue 28: a spec read from a file has its fields checked by the Python helper's rules; the
  /// error names the file, the line and the field.
  @Test(arguments: [
    ("batch_size", "-3", "must be a positive integer"),
    ("batch_size", "0", "must be a positive integer"),
    ("dropout", "7", "in [0, 1)"),
    ("dropout", "1", "in [0, 1)"),
    ("weight_decay", "-0.1", ">= 0"),
    ("validate_at", "[0, 20]", "step counts >= 1"),
    ("validation_batches", "0", "positive integer or null"),
    ("max_seconds", "-5", "positive number or null"),
    ("save_model", "\"/etc/model.pt\"", "inside the spec's folder"),
    ("save_model", "\"../../model.pt\"", "inside the spec's folder"),
    ("save_model", "\"out/../../model.pt\"", "inside the spec's folder"),
    ("key", "\"\"", "without control characters"),
    ("key", "\"a\\u001b[2Jb\"", "without control characters"),
  ])
  func badSpecFieldsAreNamed(field: String, value: String, problem: String) throws {
    let dir = temporaryDirectory()
    try sampleSpec().write(to: dir)
    let url = dir.appendingPathComponent("spec.json")
    var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
    let line = try #require(lines.firstIndex { $0.contains("\"\(field)\" :") })
    if lines[line].hasSuffix("[") {  // a list, one element a line: down to its "]"
      let close = try #require(lines[line...].firstIndex { $0.hasPrefix("  ]") })
      lines[line] = lines[close]
      lines.removeSubrange((line + 1)...close)
    }
    let comma = lines[line].hasSuffix(",") ? "," : ""
    lines[line] = "  \"\(field)\" : \(value)\(comma)"
    try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    #expect {
      _ = try TrialSpec.read(from: url)
    } throws: { error in
      let e = error as? TrialProtocolError
      return e?.file == url.path && e?.line == line + 1
        && e?.problem.hasPrefix("\"\(field)\"") == true
        && e?.problem.contains(problem) == true
    }
  }

  /// Issue 28: fields a spec has that this version does not know are named (a spec a newer
  /// discipline wrote, or one written by hand with a misspelt field); every field discipline
  /// writes is known.
  @Test func unknownSpecFieldsAreNamed() throws {
    let dir = temporaryDirectory()
    var spec = sampleSpec()
    spec.stopRule = nil
    try spec.write(to: dir)
    let url = dir.appendingPathComponent("spec.json")
    #expect(TrialSpec.unknownFields(at: url) == [])
    var object = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    object["weight_decy"] = 0.1
    object["warmup"] = 3
    try JSONSerialization.data(withJSONObject: object).write(to: url)
    #expect(TrialSpec.unknownFields(at: url) == ["warmup", "weight_decy"])
    _ = try TrialSpec.read(from: url)  // still runs: the fields are only named
  }

  /// Issue 28: schedule.csv saved with CRLF line ends, spaces around fields or a blank line
  /// first reads as written (the Python helper reads it by the same rules).
  @Test func aScheduleWithCRLFAndSpacesReads() throws {
    let dir = temporaryDirectory()
    let spec = sampleSpec()
    try spec.write(to: dir)
    let url = dir.appendingPathComponent("schedule.csv")
    let text = try String(contentsOf: url, encoding: .utf8)
    let crlf =
      "\r\n"
      + text.split(separator: "\n").map { $0.replacingOccurrences(of: ",", with: " ,\t") }
      .joined(separator: "\r\n") + "\r\n"
    try crlf.write(to: url, atomically: true, encoding: .utf8)
    #expect(try TrialSpec.read(from: dir.appendingPathComponent("spec.json")) == spec)
  }

  /// Issue 28: learning rates must be finite and not negative, momenta finite (as the Python
  /// helper requires); a lone carriage return is no line end.
  @Test(arguments: [
    ("3,nan,0.9", "lr nan is not a finite number >= 0"),
    ("3,inf,0.9", "lr inf is not a finite number >= 0"),
    ("3,-0.001,0.9", "lr -0.001 is not a finite number >= 0"),
    ("3,0.1,nan", "momentum nan is not a finite number"),
    ("3,0x1p-3,0.9", "expected step,lr,momentum"),
    ("3,0.1,0.9\r4,0.1,0.9", "expected step,lr,momentum, got \"3,0.1,0.9\\x0d4,0.1,0.9\""),
  ])
  func badScheduleValuesAreNamed(row: String, problem: String) throws {
    let dir = temporaryDirectory()
    try sampleSpec().write(to: dir)
    let url = dir.appendingPathComponent("schedule.csv")
    var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
    lines[4] = row
    try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    #expect {
      _ = try TrialSpec.read(from: dir.appendingPathComponent("spec.json"))
    } throws: { error in
      let e = error as? TrialProtocolError
      return e?.file == url.path && e?.line == 5 && e?.problem.contains(problem) == true
    }
  }

  /// Issue 28: whatever a key holds, its folder is one folder inside the trials folder.
  @Test(arguments: ["..", ".", "../../x", "", "a/../../b", ".hidden", "momentum/0.97"])
  func aKeysFolderStaysInside(key: String) {
    let name = TrialSpec.directoryName(for: key)
    let trials = URL(fileURLWithPath: "/runs/tune/trials")
    #expect(!name.isEmpty && !name.contains("/") && !name.hasPrefix("."), "\(key) → \(name)")
    #expect(
      trials.appendingPathComponent(name).standardizedFileURL.deletingLastPathComponent().path
        == trials.path)
  }
}
