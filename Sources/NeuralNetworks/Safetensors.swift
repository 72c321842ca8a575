import Foundation
import Tensors

/// A problem with a checkpoint file, told in a sentence that names the file and the key.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case notSafetensors(path: String, reason: String)
  case missingTensor(path: String, key: String)
  case unexpectedTensor(path: String, key: String)
  case shapeMismatch(path: String, key: String, expected: [Int], found: [Int])
  case badMetadata(path: String, key: String, reason: String)
  /// A run's saved resume state (resume.json) that cannot be decoded.
  case badResumeState(path: String, reason: String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "cannot read checkpoint \(path): \(reason)"
    case .notSafetensors(let path, let reason): "\(path) is not a safetensors file: \(reason)"
    case .missingTensor(let path, let key):
      "checkpoint \(path) has no tensor '\(key)' that the model needs"
    case .unexpectedTensor(let path, let key):
      "checkpoint \(path) has tensor '\(key)', which the model does not have"
    case .shapeMismatch(let path, let key, let expected, let found):
      "checkpoint \(path): tensor '\(key)' has shape \(found), but the model needs \(expected)"
    case .badMetadata(let path, let key, let reason):
      "checkpoint \(path): metadata '\(key)' \(reason)"
    case .badResumeState(let path, let reason):
      "the saved resume state \(path) cannot be read: \(reason)"
    }
  }

  /// The exit code for a command that failed with this error (66: missing input, 65: bad data).
  public var exitCode: Int32 {
    if case .unreadable = self { return 66 }
    return 65
  }
}

/// Reads and writes the safetensors format (https://huggingface.co/docs/safetensors): an
/// 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
/// byte range, and the raw little-endian data. Only F32 tensors are written; F32 is read.
public enum Safetensors {
  /// Writes named tensors (row-major float32) and string metadata to `url`, atomically.
  public static func write(_ tensors: [(String, Tensor)], metadata: [String: String], to url: URL)
    throws
  {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    var data = Data()
    for (name, tensor) in tensors {
      let values = tensor.values
      let bytes = values.count * 4
      header[name] = [
        "dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes],
      ]
      values.withUnsafeBytes { data.append(contentsOf: $0) }
      offset += bytes
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var file = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(json)
    file.append(data)
    try file.write(to: url, options: .atomic)
  }

  /// The tensors (name → shape and values) and metadata of a safetensors file.
  public static func read(_ url: URL) throws -> (
    tensors: [String: (shape: [Int], values: [Float])], metadata: [String: String]
  ) {
    let path = url.path
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw CheckpointError.unreadable(
        path: path,
        reason: FileManager.default.fileExists(atPath: path)
          ? "\(error.localizedDescription)" : "no such file")
    }
    guard data.count >= 8 else {
      throw CheckpointError.notSafetensors(
        path: path, reason: "only \(data.count) bytes, shorter than the 8-byte header length")
    }
    let headerLength = data.prefix(8).withUnsafeBytes {
      UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
    }
    guard headerLength > 0, headerLength <= UInt64(data.count - 8) else {
      throw CheckpointError.notSafetensors(
        path: path,
        reason:
          "header length \(headerLength) at byte 0 does not fit the file's \(data.count) bytes")
    }
    let headerBytes = data.subdata(in: 8..<(8 + Int(headerLength)))
    guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any]
    else {
      throw CheckpointError.notSafetensors(
        path: path, reason: "the header at bytes 8..<\(8 + headerLength) is not a JSON object")
    }
    let base = 8 + Int(headerLength)
    var metadata: [String: String] = [:]
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    for (key, value) in header {
      if key == "__metadata__" {
        guard let m = value as? [String: String] else {
          throw CheckpointError.notSafetensors(
            path: path, reason: "__metadata__ is not a map of strings")
        }
        metadata = m
        continue
      }
      guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
        let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
        offsets.count == 2
      else {
        throw CheckpointError.notSafetensors(
          path: path, reason: "tensor '\(key)' lacks dtype, shape or data_offsets")
      }
      guard dtype == "F32" else {
        throw CheckpointError.notSafetensors(
          path: path, reason: "tensor '\(key)' has dtype \(dtype); only F32 is supported")
      }
      let count = shape.reduce(1, *)
      guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[1] - offsets[0] == count * 4,
        base + offsets[1] <= data.count
      else {
        throw CheckpointError.notSafetensors(
          path: path,
          reason:
            "tensor '\(key)' with shape \(shape) has byte range \(offsets) that does not fit the data (\(data.count - base) bytes)"
        )
      }
      var values = [Float](repeating: 0, count: count)
      values.withUnsafeMutableBytes { dst in
        data.copyBytes(
          to: dst.bindMemory(to: UInt8.self), from: (base + offsets[0])..<(base + offsets[1]))
      }
      tensors[key] = (shape, values)
    }
    return (tensors, metadata)
  }
}
