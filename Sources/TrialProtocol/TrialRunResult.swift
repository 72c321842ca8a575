import Foundation

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

  /// A validation or test measurement: the loss, and the accuracy and the program's own
  /// metrics where it reports them.
  public struct Measurement: Codable, Sendable, Equatable {
    public var step: Int
    public var loss: Double
    public var accuracy: Double?
    public var metrics: [String: Double]?
    public init(step: Int, loss: Double, accuracy: Double?, metrics: [String: Double]? = nil) {
      self.step = step
      self.loss = loss
      self.accuracy = accuracy
      self.metrics = metrics
    }
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
  /// What the program said about itself in its start event.
  public var program = ProgramFacts(honours: [], trainSamples: nil)
  public var honours: [String] {
    get { program.honours }
    set { program.honours = newValue }
  }
  /// The training split's size, where the program said.
  public var trainSamples: Int? {
    get { program.trainSamples }
    set { program.trainSamples = newValue }
  }
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
    case optimizer
    case decoupledWeightDecay = "decoupled_weight_decay"
    case worldSize = "world_size"
    case ignores, metrics, extendable
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
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    protocolVersion = try c.decode(Int.self, forKey: .protocolVersion)
    key = try c.decode(String.self, forKey: .key)
    kind = try c.decode(TrialSpec.Kind.self, forKey: .kind)
    status = try c.decode(Status.self, forKey: .status)
    steps = try c.decode(Int.self, forKey: .steps)
    seconds = try c.decode(Double.self, forKey: .seconds)
    evaluationSeconds = try c.decode(Double.self, forKey: .evaluationSeconds)
    startupSeconds = try c.decodeIfPresent(Double.self, forKey: .startupSeconds) ?? 0
    losses = try c.decode([Double].self, forKey: .losses)
    validations = try c.decode([Measurement].self, forKey: .validations)
    test = try c.decodeIfPresent(Measurement.self, forKey: .test)
    program = ProgramFacts(
      honours: try c.decode([String].self, forKey: .honours),
      trainSamples: try c.decodeIfPresent(Int.self, forKey: .trainSamples),
      optimizer: try c.decodeIfPresent(String.self, forKey: .optimizer),
      decoupledWeightDecay: try c.decodeIfPresent(Bool.self, forKey: .decoupledWeightDecay)
        ?? false,
      worldSize: try c.decodeIfPresent(Int.self, forKey: .worldSize) ?? 1,
      ignores: try c.decodeIfPresent([String].self, forKey: .ignores) ?? [],
      metrics: try c.decodeIfPresent([String: ProgramFacts.Goal].self, forKey: .metrics) ?? [:])
    program.extendable = try c.decodeIfPresent(Bool.self, forKey: .extendable) ?? false
    exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
    message = try c.decodeIfPresent(String.self, forKey: .message)
    node = try c.decodeIfPresent(String.self, forKey: .node)
    machine = try c.decodeIfPresent(String.self, forKey: .machine)
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(protocolVersion, forKey: .protocolVersion)
    try c.encode(key, forKey: .key)
    try c.encode(kind, forKey: .kind)
    try c.encode(status, forKey: .status)
    try c.encode(steps, forKey: .steps)
    try c.encode(seconds, forKey: .seconds)
    try c.encode(evaluationSeconds, forKey: .evaluationSeconds)
    try c.encode(startupSeconds, forKey: .startupSeconds)
    try c.encode(losses, forKey: .losses)
    try c.encode(validations, forKey: .validations)
    try c.encodeIfPresent(test, forKey: .test)
    try c.encode(program.honours, forKey: .honours)
    try c.encodeIfPresent(program.trainSamples, forKey: .trainSamples)
    try c.encodeIfPresent(program.optimizer, forKey: .optimizer)
    if program.decoupledWeightDecay { try c.encode(true, forKey: .decoupledWeightDecay) }
    if program.worldSize != 1 { try c.encode(program.worldSize, forKey: .worldSize) }
    if !program.ignores.isEmpty { try c.encode(program.ignores, forKey: .ignores) }
    if !program.metrics.isEmpty { try c.encode(program.metrics, forKey: .metrics) }
    if program.extendable { try c.encode(true, forKey: .extendable) }
    try c.encodeIfPresent(exitCode, forKey: .exitCode)
    try c.encodeIfPresent(message, forKey: .message)
    try c.encodeIfPresent(node, forKey: .node)
    try c.encodeIfPresent(machine, forKey: .machine)
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
    case .start(_, let facts, _):
      let samples = facts.trainSamples ?? program.trainSamples
      program = facts
      program.trainSamples = samples
    case .train(_, let loss, _, _): losses.append(loss)
    case .validation(let m, _): validations.append(m)
    case .test(let m, _): test = m
    case .end: break
    }
    steps = losses.count
  }
}
