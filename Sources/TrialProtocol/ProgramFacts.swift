import Foundation

/// What a training program says about itself in its `start` event (Docs/PROTOCOL.md): the
/// optional hyper-parameters it applies, the size of its training split, its optimizer, how
/// many processes train together, the spec fields it does not apply, and the metrics it
/// reports beside the loss.
public struct ProgramFacts: Codable, Sendable, Equatable {
  /// Whether a larger or a smaller value of a metric is better.
  public enum Goal: String, Codable, Sendable, Equatable {
    case higher, lower
  }

  /// Of the optional hyper-parameters (`dropout`, `augmentation`), those it applies.
  public var honours: [String]
  /// The training split's size, where it says (epoch lengths in reports).
  public var trainSamples: Int?
  /// The optimizer's class name ("SGD", "AdamW"), where it says.
  public var optimizer: String?
  /// Whether its weight decay is decoupled from the gradient (AdamW), not an L2 term (SGD).
  public var decoupledWeightDecay: Bool
  /// Processes training together (torch.distributed); the spec's batch size is theirs together.
  public var worldSize: Int
  /// Hyper-parameters of the spec the program does not apply (`batch_size`, `weight_decay`,
  /// `seed`, `momentum`): the recipe does not study them.
  public var ignores: [String]
  /// The metrics it reports beside the loss, each with whether higher or lower is better.
  public var metrics: [String: Goal]
  /// Whether it follows a spec rewritten longer while it runs (it ends when the spec's steps
  /// are done, not when a loop over the steps it was first given does): the Python helper's
  /// `attach` says so. A final run that turns out faster than planned is then lengthened to
  /// fill the budget; others are only ever shortened.
  public var extendable: Bool = false

  public init(
    honours: [String], trainSamples: Int?, optimizer: String? = nil,
    decoupledWeightDecay: Bool = false, worldSize: Int = 1, ignores: [String] = [],
    metrics: [String: Goal] = [:]
  ) {
    self.honours = honours
    self.trainSamples = trainSamples
    self.optimizer = optimizer
    self.decoupledWeightDecay = decoupledWeightDecay
    self.worldSize = worldSize
    self.ignores = ignores
    self.metrics = metrics
  }

  public var honoursDropout: Bool { honours.contains("dropout") }
  public var honoursAugmentation: Bool { honours.contains("augmentation") }
  /// Whether the program applies a hyper-parameter of the spec or the schedule (`batch_size`,
  /// `weight_decay`, `momentum`, ...; `dropout` and `augmentation` by `honours`).
  public func applies(_ name: String) -> Bool {
    if name == "dropout" || name == "augmentation" { return honours.contains(name) }
    return !ignores.contains(name)
  }

  // The journal's keys: those of old journals, and the new ones only where they say something.
  enum CodingKeys: String, CodingKey {
    case honours, trainSamples, optimizer, decoupledWeightDecay, worldSize, ignores, metrics
    case extendable
  }
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    honours = try c.decode([String].self, forKey: .honours)
    trainSamples = try c.decodeIfPresent(Int.self, forKey: .trainSamples)
    optimizer = try c.decodeIfPresent(String.self, forKey: .optimizer)
    decoupledWeightDecay =
      try c.decodeIfPresent(Bool.self, forKey: .decoupledWeightDecay) ?? false
    worldSize = try c.decodeIfPresent(Int.self, forKey: .worldSize) ?? 1
    ignores = try c.decodeIfPresent([String].self, forKey: .ignores) ?? []
    metrics = try c.decodeIfPresent([String: Goal].self, forKey: .metrics) ?? [:]
    extendable = try c.decodeIfPresent(Bool.self, forKey: .extendable) ?? false
  }
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(honours, forKey: .honours)
    try c.encodeIfPresent(trainSamples, forKey: .trainSamples)
    try c.encodeIfPresent(optimizer, forKey: .optimizer)
    if decoupledWeightDecay { try c.encode(true, forKey: .decoupledWeightDecay) }
    if worldSize != 1 { try c.encode(worldSize, forKey: .worldSize) }
    if !ignores.isEmpty { try c.encode(ignores, forKey: .ignores) }
    if !metrics.isEmpty { try c.encode(metrics, forKey: .metrics) }
    if extendable { try c.encode(true, forKey: .extendable) }
  }

  /// The start event's fields after `"protocol"`, as JSON text (what the built-in engine writes).
  var jsonFields: String {
    var parts = ["\"honours\":[" + honours.map(JSONText.string).joined(separator: ",") + "]"]
    if let trainSamples { parts.append("\"train_samples\":\(trainSamples)") }
    if let optimizer { parts.append("\"optimizer\":\(JSONText.string(optimizer))") }
    if decoupledWeightDecay { parts.append("\"decoupled_weight_decay\":true") }
    if worldSize != 1 { parts.append("\"world_size\":\(worldSize)") }
    if !ignores.isEmpty {
      parts.append("\"ignores\":[" + ignores.map(JSONText.string).joined(separator: ",") + "]")
    }
    if !metrics.isEmpty {
      parts.append(
        "\"metrics\":{"
          + metrics.sorted { $0.key < $1.key }.map {
            "\(JSONText.string($0.key)):\(JSONText.string($0.value.rawValue))"
          }.joined(separator: ",") + "}")
    }
    if extendable { parts.append("\"extendable\":true") }
    return parts.joined(separator: ",")
  }

  /// Reads the start event's fields; an optional field of the wrong type is an error that
  /// names it (a program that says something discipline cannot read should hear so).
  init(startEvent c: KeyedDecodingContainer<EventFields.Key>) throws {
    func key(_ s: String) -> EventFields.Key { EventFields.Key(stringValue: s) }
    func present(_ s: String) -> Bool {
      c.contains(key(s)) && (try? c.decodeNil(forKey: key(s))) != true
    }
    func wrong(_ field: String, _ what: String) -> TrialEventError {
      TrialEventError("\"start\" event whose \"\(field)\" is not \(what)")
    }
    /// An optional field: nil when absent (or null), an error naming it when malformed.
    func optional<T: Decodable>(
      _ field: String, _ what: String, valid: (T) -> Bool = { _ in true }
    ) throws -> T? {
      guard present(field) else { return nil }
      guard let v = try? c.decode(T.self, forKey: key(field)), valid(v) else {
        throw wrong(field, what)
      }
      return v
    }
    honours = (try? c.decode([String].self, forKey: key("honours"))) ?? []
    trainSamples = try? c.decode(Int.self, forKey: key("train_samples"))
    optimizer = try optional("optimizer", "a string (the optimizer's class name)")
    decoupledWeightDecay = try optional("decoupled_weight_decay", "true or false") ?? false
    worldSize = try optional("world_size", "a positive integer", valid: { (v: Int) in v >= 1 }) ?? 1
    ignores = try optional("ignores", "a list of spec field names") ?? []
    metrics =
      try optional("metrics", "an object of metric names and \"higher\" or \"lower\"") ?? [:]
    extendable = try optional("extendable", "true or false") ?? false
  }
}
