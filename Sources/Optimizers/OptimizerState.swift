import Foundation

/// Everything an optimizer's future steps depend on, as plain values: which optimizer, its
/// hyper-parameters, its step count, per-parameter counters and its buffers.
///
/// Buffers and counters are named as in PyTorch's `optimizer.state_dict()["state"]`, with the
/// parameter's index first: `"0.momentum_buffer"` (SGD), `"3.exp_avg"`, `"3.exp_avg_sq"` and the
/// scalar `"3.step"` (AdamW). A parameter that has never had a gradient has no entries, as in
/// PyTorch. The value is `Codable` so a checkpoint can store it (JSON for the scalars, the
/// buffers as named float arrays, e.g. tensors in a safetensors file).
public struct OptimizerState: Codable, Sendable, Equatable {
  /// The optimizer's type name, `"SGD"` or `"AdamW"`.
  public var kind: String
  /// How many times `step()` had been called.
  public var stepCount: Int
  /// Hyper-parameters by name (`learningRate`, `momentum`, `weightDecay`, and per optimizer:
  /// `dampening`, `nesterov` as 0 or 1; `beta2`, `epsilon`).
  public var hyperParameters: [String: Double]
  /// Per-parameter scalars by name, e.g. `"3.step"`.
  public var scalars: [String: Double]
  /// Per-parameter buffers by name, e.g. `"0.momentum_buffer"`, each with one float per
  /// element of its parameter in row-major order.
  public var buffers: [String: [Float]]
  /// The number of elements of each parameter, to check a restore against.
  public var parameterCounts: [Int]

  public init(
    kind: String, stepCount: Int, hyperParameters: [String: Double],
    scalars: [String: Double] = [:], buffers: [String: [Float]] = [:], parameterCounts: [Int]
  ) {
    self.kind = kind
    self.stepCount = stepCount
    self.hyperParameters = hyperParameters
    self.scalars = scalars
    self.buffers = buffers
    self.parameterCounts = parameterCounts
  }
}

/// Why an `OptimizerState` cannot be restored into an optimizer.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
  /// The state was saved by another kind of optimizer.
  case wrongKind(expected: String, found: String)
  /// The state was saved for parameters of other sizes.
  case parameterMismatch(expected: [Int], found: [Int])
  /// A hyper-parameter the optimizer needs is missing.
  case missingHyperParameter(String)
  /// A buffer or scalar name that does not belong to this optimizer.
  case unknownEntry(String)
  /// A per-parameter entry that must accompany others is missing.
  case missingEntry(String)
  /// A buffer whose length is not its parameter's element count.
  case bufferSize(name: String, expected: Int, found: Int)
  /// A step count that is not a whole number of steps (at least 1 for a parameter's count).
  case invalidScalar(name: String, value: Double)

  public var description: String {
    switch self {
    case .wrongKind(let expected, let found):
      "optimizer state is for \(found), not \(expected)"
    case .parameterMismatch(let expected, let found):
      "optimizer state was saved for parameters of sizes \(found), "
        + "but this optimizer has \(expected)"
    case .missingHyperParameter(let name):
      "optimizer state has no value for hyper-parameter \(name)"
    case .unknownEntry(let name):
      "optimizer state has an entry \"\(name)\" this optimizer does not use"
    case .missingEntry(let name):
      "optimizer state has no entry \"\(name)\""
    case .bufferSize(let name, let expected, let found):
      "optimizer state buffer \"\(name)\" has \(found) values, expected \(expected)"
    case .invalidScalar(let name, let value):
      "optimizer state scalar \"\(name)\" is \(value), expected a whole number of steps"
    }
  }
}

extension OptimizerStateError: LocalizedError {
  public var errorDescription: String? { description }
}

extension OptimizerState {
  /// Checks the parts every optimizer shares: kind, parameter sizes, hyper-parameter names, and
  /// that every buffer is `"index.name"` with a known name and the parameter's length.
  func check(
    kind expectedKind: String, parameterCounts expectedCounts: [Int],
    hyperParameters names: [String], buffers bufferNames: Set<String>,
    scalars scalarNames: Set<String> = []
  ) throws(OptimizerStateError) {
    guard kind == expectedKind else { throw .wrongKind(expected: expectedKind, found: kind) }
    guard stepCount >= 0 else { throw .invalidScalar(name: "stepCount", value: Double(stepCount)) }
    guard parameterCounts == expectedCounts else {
      throw .parameterMismatch(expected: expectedCounts, found: parameterCounts)
    }
    for name in names where hyperParameters[name] == nil { throw .missingHyperParameter(name) }
    for (key, values) in buffers {
      guard let (index, name) = Self.split(key), index < expectedCounts.count,
        bufferNames.contains(name)
      else { throw .unknownEntry(key) }
      guard values.count == expectedCounts[index] else {
        throw .bufferSize(name: key, expected: expectedCounts[index], found: values.count)
      }
    }
    for (key, value) in scalars {
      guard let (index, name) = Self.split(key), index < expectedCounts.count,
        scalarNames.contains(name)
      else { throw .unknownEntry(key) }
      guard value >= 0, value == value.rounded(), value < 1e15 else {
        throw .invalidScalar(name: key, value: value)
      }
    }
  }

  /// `"12.exp_avg"` → (12, "exp_avg").
  static func split(_ key: String) -> (Int, String)? {
    guard let dot = key.firstIndex(of: "."), let index = Int(key[..<dot]), index >= 0 else {
      return nil
    }
    return (index, String(key[key.index(after: dot)...]))
  }
}
