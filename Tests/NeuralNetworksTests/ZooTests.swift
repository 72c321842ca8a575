import Foundation
import NeuralNetworks
import Optimizers
import Randomness
import Tensors
import Testing

/// The engine's caches are process-global and not thread-safe: one serialized suite.
@Suite(.serialized) struct NeuralNetworksTests {
  /// Keys and shapes from `reference/models.py` (PyTorch's `state_dict()` of `cnn()`).
  @Test func cnnStateMatchesPyTorchNamesAndShapes() {
    let model = ModelSpecification(architecture: .cnn).build(seed: 0)
    let state = model.stateDictionary().map { "\($0.0):\($0.1.shape)" }
    #expect(
      state == [
        "0.weight:[32, 1, 3, 3]",
        "1.weight:[32]", "1.bias:[32]", "1.running_mean:[32]", "1.running_var:[32]",
        "4.weight:[64, 32, 3, 3]",
        "5.weight:[64]", "5.bias:[64]", "5.running_mean:[64]", "5.running_var:[64]",
        "9.weight:[10, 3136]", "9.bias:[10]",
      ])
    // models.py's docstring: 50,282 parameters for 1×28×28 inputs.
    #expect(model.parameterCount == 50_282)
  }

  @Test func mlpStateMatchesPyTorchNames() {
    let model = ModelSpecification(architecture: .mlp, dropout: 0.2).build(seed: 0)
    #expect(
      model.namedParameters().map(\.0) == [
        "1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias",
      ])
    #expect(model.parameterCount == 535_818)  // bench.py's "params" for mlp
  }

  @Test func resnetStateMatchesPyTorchNames() {
    let model = ModelSpecification(
      architecture: .resnet(depth: 20), inputChannels: 3, inputSize: 32
    ).build(seed: 0)
    let names = model.stateDictionary().map(\.0)
    #expect(names.first == "conv1.weight")
    #expect(names.contains("layer1.0.conv1.weight"))
    #expect(names.contains("layer2.0.shortcut.0.weight"))
    #expect(names.contains("layer2.0.shortcut.1.running_var"))
    #expect(!names.contains("layer1.0.shortcut.0.weight"))  // identity shortcut in stage 1
    #expect(names.last == "fc.bias")
    // PyTorch's resnet20 (CIFAR, 3 input channels): 272,474 parameters.
    #expect(model.parameterCount == 272_474)
  }

  @Test func initializationFollowsPyTorchBounds() {
    let model = ModelSpecification(architecture: .cnn).build(seed: 3)
    let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
    // Kaiming-uniform with a = √5 gives bound 1/√fan_in; fan_in of 4.weight is 32·3·3.
    let w = params["4.weight"]!.values
    let bound = 1 / Float(32 * 9).squareRoot()
    #expect(w.allSatisfy { abs($0) <= bound })
    #expect(w.max()! > bound * 0.9 && w.min()! < -bound * 0.9)
    #expect(params["1.weight"]!.values.allSatisfy { $0 == 1 })
    #expect(params["1.bias"]!.values.allSatisfy { $0 == 0 })
  }

  @Test func sameSeedSameModel() {
    let a = ModelSpecification(architecture: .cnn).build(seed: 7).parameters.flatMap(\.values)
    let b = ModelSpecification(architecture: .cnn).build(seed: 7).parameters.flatMap(\.values)
    let c = ModelSpecification(architecture: .cnn).build(seed: 8).parameters.flatMap(\.values)
    #expect(a == b)
    #expect(a != c)
  }

  /// Two interleaved classes on a 8×8 "image": a bright blob top-left vs bottom-right.
  func blobs(count: Int, seed: UInt64) -> (Tensor, [Int32]) {
    var g = SeededGenerator(seed: seed)
    var values = [Float](repeating: 0, count: count * 64)
    var labels: [Int32] = []
    for i in 0..<count {
      let label = Int32(i % 2)
      labels.append(label)
      for p in 0..<64 {
        let (r, c) = (p / 8, p % 8)
        let inBlob = label == 0 ? (r < 4 && c < 4) : (r >= 4 && c >= 4)
        values[i * 64 + p] = (inBlob ? 1 : 0) + 0.3 * g.nextNormal()
      }
    }
    return (Tensor(shape: [count, 1, 8, 8], values: values), labels)
  }

  @Test(arguments: ["mlp", "cnn", "resnet8"])
  func modelLearnsASmallTask(name: String) {
    let spec = ModelSpecification(
      architecture: ModelArchitecture(name)!, inputChannels: 1, inputSize: 8, classes: 2)
    let model = spec.build(seed: 1)
    let optimizer = SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9)
    let (x, y) = blobs(count: 64, seed: 2)
    for _ in 0..<30 {
      optimizer.zeroGradients()
      model(x).crossEntropy(labels: y).backward()
      optimizer.step()
    }
    model.eval()
    let (tx, ty) = blobs(count: 64, seed: 3)
    let predicted = withoutGradients { model(tx).argmaxRows() }
    let accuracy = Double(zip(predicted, ty).filter { $0 == Int($1) }.count) / 64
    #expect(accuracy >= 0.95, "\(name) reached only \(accuracy)")
  }

  @Test func batchNormRunningStatisticsEqualDirectComputation() {
    let bn = BatchNorm2D(3)
    var g = SeededGenerator(seed: 4)
    let x = Tensor.normal([4, 3, 5, 5], using: &g)
    _ = bn(x)
    let v = x.values
    for c in 0..<3 {
      var xs: [Double] = []
      for n in 0..<4 { for i in 0..<25 { xs.append(Double(v[(n * 3 + c) * 25 + i])) } }
      let mean = xs.reduce(0, +) / Double(xs.count)
      let unbiased = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1)
      // PyTorch: running = 0.9·running + 0.1·batch, from mean 0 and variance 1.
      #expect(abs(Double(bn.runningMean.values[c]) - 0.1 * mean) < 1e-6)
      #expect(abs(Double(bn.runningVariance.values[c]) - (0.9 + 0.1 * unbiased)) < 1e-5)
    }
  }

  @Test func snapshotAndRestoreLeaveNoTrace() {
    let model = ModelSpecification(architecture: .cnn, inputSize: 8).build(seed: 5)
    let before = model.snapshot()
    let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9)
    let (x, y) = blobs(count: 8, seed: 6)
    model(x).crossEntropy(labels: y).backward()
    optimizer.step()
    #expect(model.snapshot().tensors != before.tensors)
    model.restore(before)
    #expect(model.snapshot().tensors == before.tensors)
  }
}
