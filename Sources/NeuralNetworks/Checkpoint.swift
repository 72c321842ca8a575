import Foundation
import Tensors

/// A trained model on disk: its parameters and buffers under PyTorch's names and shapes, and
/// what is needed to rebuild and feed it (architecture, input shape, normalization), so that
/// `reference/check_checkpoint.py` loads it into the PyTorch model with strict names.
public struct Checkpoint {
  public var specification: ModelSpecification
  public var inputMean: Float
  public var inputStd: Float
  /// Extra metadata to store (strings).
  public var extra: [String: String]

  public init(
    specification: ModelSpecification, inputMean: Float, inputStd: Float,
    extra: [String: String] = [:]
  ) {
    self.specification = specification
    self.inputMean = inputMean
    self.inputStd = inputStd
    self.extra = extra
  }

  /// Writes `model`'s state and this checkpoint's metadata as safetensors.
  public func save(_ model: Module, to url: URL) throws {
    var metadata = extra
    metadata["model"] = specification.architecture.description
    metadata["input_mean"] = String(inputMean)
    metadata["input_std"] = String(inputStd)
    metadata["input_channels"] = String(specification.inputChannels)
    metadata["input_size"] = String(specification.inputSize)
    metadata["classes"] = String(specification.classes)
    try Safetensors.write(model.stateDictionary(), metadata: metadata, to: url)
  }

  /// Reads a checkpoint and builds its model with the stored weights.
  public static func load(from url: URL) throws -> (checkpoint: Checkpoint, model: Module) {
    let path = url.path
    let (tensors, metadata) = try Safetensors.read(url)
    func field(_ key: String) throws -> String {
      guard let v = metadata[key] else {
        throw CheckpointError.badMetadata(path: path, key: key, reason: "is missing")
      }
      return v
    }
    func number<T: LosslessStringConvertible>(_ key: String, _: T.Type) throws -> T {
      let s = try field(key)
      guard let v = T(s) else {
        throw CheckpointError.badMetadata(path: path, key: key, reason: "'\(s)' is not a number")
      }
      return v
    }
    let name = try field("model")
    guard let architecture = ModelArchitecture(name) else {
      throw CheckpointError.badMetadata(
        path: path, key: "model", reason: "names no known model: '\(name)'")
    }
    // Input shape: stored by this tool; otherwise inferred for the common case of 1×28×28, 10 classes.
    let channels = metadata["input_channels"] == nil ? 1 : try number("input_channels", Int.self)
    let size = metadata["input_size"] == nil ? 28 : try number("input_size", Int.self)
    let classes = metadata["classes"] == nil ? 10 : try number("classes", Int.self)
    let spec = ModelSpecification(
      architecture: architecture, inputChannels: channels, inputSize: size, classes: classes)
    let checkpoint = Checkpoint(
      specification: spec, inputMean: try number("input_mean", Float.self),
      inputStd: try number("input_std", Float.self), extra: metadata)
    let model = spec.build(seed: 0)
    try model.load(tensors, path: path)
    return (checkpoint, model)
  }
}

extension Module {
  /// Loads named tensors into this module's parameters and buffers, strictly: every name must
  /// be present with the right shape, and no other names (PyTorch's num_batches_tracked aside).
  public func load(_ tensors: [String: (shape: [Int], values: [Float])], path: String) throws {
    let state = stateDictionary()
    let known = Set(state.map(\.0))
    for key in tensors.keys.sorted()
    where !known.contains(key) && !key.hasSuffix("num_batches_tracked") {
      throw CheckpointError.unexpectedTensor(path: path, key: key)
    }
    for (key, tensor) in state {
      guard let stored = tensors[key] else {
        throw CheckpointError.missingTensor(path: path, key: key)
      }
      guard stored.shape == tensor.shape else {
        throw CheckpointError.shapeMismatch(
          path: path, key: key, expected: tensor.shape, found: stored.shape)
      }
    }
    for (key, tensor) in state {
      tensor.assign(Tensor(shape: tensor.shape, values: tensors[key]!.values))
    }
  }
}
