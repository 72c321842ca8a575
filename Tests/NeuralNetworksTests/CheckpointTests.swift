import Foundation
import NeuralNetworks
import Tensors
import Testing

extension NeuralNetworksTests {
  func temporaryFile(_ name: String) -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "discipline-nn-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name)
  }

  @Test func checkpointRoundTrip() throws {
    let spec = ModelSpecification(architecture: .cnn)
    let model = spec.build(seed: 11)
    let url = temporaryFile("model.safetensors")
    try Checkpoint(specification: spec, inputMean: 0.286, inputStd: 0.353).save(model, to: url)
    let (checkpoint, loaded) = try Checkpoint.load(from: url)
    #expect(checkpoint.specification == spec)
    #expect(checkpoint.inputMean == 0.286)
    #expect(loaded.snapshot().tensors == model.snapshot().tensors)
    // The header is what safetensors' reader expects: little-endian length, then JSON.
    let data = try Data(contentsOf: url)
    let length = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    let header =
      try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(length))))
      as! [String: Any]
    let entry = header["0.weight"] as! [String: Any]
    #expect(entry["dtype"] as? String == "F32")
    #expect(entry["shape"] as? [Int] == [32, 1, 3, 3])
    #expect((header["__metadata__"] as? [String: String])?["model"] == "cnn")
  }

  @Test func notSafetensorsIsAClearError() throws {
    let url = temporaryFile("bad.safetensors")
    try Data("hello, this is not a checkpoint".utf8).write(to: url)
    #expect(throws: CheckpointError.self) { try Checkpoint.load(from: url) }
    do { _ = try Checkpoint.load(from: url) } catch let error as CheckpointError {
      #expect(error.exitCode == 65)
      #expect(error.description.contains("not a safetensors file"))
    }
    let missing = temporaryFile("absent.safetensors")
    do { _ = try Checkpoint.load(from: missing) } catch let error as CheckpointError {
      #expect(error.exitCode == 66)
    }
  }

  @Test func shapeMismatchNamesKeyAndShapes() throws {
    // An mlp for 10 classes saved, then claimed to be for 5 classes.
    let spec = ModelSpecification(architecture: .mlp)
    let url = temporaryFile("mlp.safetensors")
    try Checkpoint(specification: spec, inputMean: 0, inputStd: 1, extra: ["classes": "5"]).save(
      spec.build(seed: 0), to: url)
    // save() writes classes=10 over the extra value; rewrite the metadata by hand instead.
    let (tensors, _) = try Safetensors.read(url)
    let named = tensors.map { ($0.key, Tensor(shape: $0.value.shape, values: $0.value.values)) }
    try Safetensors.write(
      named, metadata: ["model": "mlp", "input_mean": "0", "input_std": "1", "classes": "5"],
      to: url)
    do {
      _ = try Checkpoint.load(from: url)
      Issue.record("loading a mismatched checkpoint succeeded")
    } catch let error as CheckpointError {
      #expect(
        error
          == .shapeMismatch(path: url.path, key: "5.weight", expected: [5, 256], found: [10, 256]))
      #expect(error.description.contains("[5, 256]") && error.description.contains("[10, 256]"))
    }
  }
}
