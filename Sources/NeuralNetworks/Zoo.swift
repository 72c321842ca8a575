import Randomness
import Tensors

/// The built-in models, layer for layer as `python/discipline/models.py` defines them.
public enum ModelArchitecture: Equatable, Sendable, CustomStringConvertible {
  /// Flatten → Linear(in, 512) → ReLU → Linear(512, 256) → ReLU → Linear(256, classes).
  case mlp
  /// Two conv (3×3, no bias) → BN → ReLU → max-pool blocks, then a linear classifier.
  case cnn
  /// He et al.'s CIFAR ResNet of the given depth (6n + 2).
  case resnet(depth: Int)

  /// Parses "mlp", "cnn" or "resnetN".
  public init?(_ name: String) {
    switch name.lowercased() {
    case "mlp": self = .mlp
    case "cnn": self = .cnn
    case let s where s.hasPrefix("resnet"):
      guard let depth = Int(s.dropFirst(6)), depth >= 8, (depth - 2) % 6 == 0 else { return nil }
      self = .resnet(depth: depth)
    default: return nil
    }
  }

  /// Residual networks of 20 layers or more (their weight-decay prior is smaller).
  public var isDeep: Bool {
    if case .resnet(let depth) = self { return depth >= 20 }
    return false
  }

  public var description: String {
    switch self {
    case .mlp: "mlp"
    case .cnn: "cnn"
    case .resnet(let depth): "resnet\(depth)"
    }
  }
}

/// What a model is built for: its architecture and the shape of its inputs and outputs.
public struct ModelSpecification: Equatable, Sendable {
  public var architecture: ModelArchitecture
  public var inputChannels: Int
  public var inputSize: Int
  public var classes: Int
  /// Dropout probability before the classifier (0: none, as the reference models).
  public var dropout: Float

  public init(
    architecture: ModelArchitecture, inputChannels: Int = 1, inputSize: Int = 28, classes: Int = 10,
    dropout: Float = 0
  ) {
    self.architecture = architecture
    self.inputChannels = inputChannels
    self.inputSize = inputSize
    self.classes = classes
    self.dropout = dropout
  }

  /// A freshly initialized model, its weights drawn from `seed`.
  public func build(seed: UInt64) -> Module {
    var g = SeededGenerator(seed: seed)
    let dropoutLayer: [(String?, Module)] =
      dropout > 0 ? [(nil, Dropout(dropout, seed: seed &+ 0x5eed))] : []
    switch architecture {
    case .mlp:
      let inFeatures = inputChannels * inputSize * inputSize
      return Sequential(
        named: [
          ("0", Flatten()), ("1", Linear(inFeatures, 512, using: &g)), ("2", ReLU()),
          ("3", Linear(512, 256, using: &g)), ("4", ReLU()),
        ] + dropoutLayer + [("5", Linear(256, classes, using: &g))])
    case .cnn:
      let side = inputSize / 4
      return Sequential(
        named: [
          ("0", Conv2D(inputChannels, 32, kernelSize: 3, padding: 1, bias: false, using: &g)),
          ("1", BatchNorm2D(32)), ("2", ReLU()), ("3", MaxPool2D(2)),
          ("4", Conv2D(32, 64, kernelSize: 3, padding: 1, bias: false, using: &g)),
          ("5", BatchNorm2D(64)), ("6", ReLU()), ("7", MaxPool2D(2)),
          ("8", Flatten()),
        ] + dropoutLayer + [("9", Linear(64 * side * side, classes, using: &g))])
    case .resnet(let depth):
      return ResNet(
        depth: depth, inputChannels: inputChannels, classes: classes, dropout: dropout, seed: seed,
        using: &g)
    }
  }
}

/// He et al.'s CIFAR ResNet (depth 6n + 2; widths 16, 32, 64), as `python/discipline/models.py`.
public final class ResNet: Module {
  public let conv1: Conv2D, bn1: BatchNorm2D
  public let layer1: Sequential, layer2: Sequential, layer3: Sequential
  public let dropout: Dropout?
  public let fc: Linear

  public init(
    depth: Int, inputChannels: Int, classes: Int, dropout: Float, seed: UInt64,
    using g: inout SeededGenerator
  ) {
    precondition((depth - 2) % 6 == 0, "ResNet depth \(depth) is not 6n + 2")
    let n = (depth - 2) / 6
    conv1 = Conv2D(inputChannels, 16, kernelSize: 3, stride: 1, padding: 1, bias: false, using: &g)
    bn1 = BatchNorm2D(16)
    var stages: [Sequential] = []
    var cin = 16
    for (cout, stride) in [(16, 1), (32, 2), (64, 2)] {
      var blocks: [Module] = []
      for i in 0..<n {
        blocks.append(BasicBlock(cin, cout, stride: i == 0 ? stride : 1, using: &g))
        cin = cout
      }
      stages.append(Sequential(blocks))
    }
    (layer1, layer2, layer3) = (stages[0], stages[1], stages[2])
    self.dropout = dropout > 0 ? Dropout(dropout, seed: seed &+ 0x5eed) : nil
    fc = Linear(64, classes, using: &g)
  }

  public override var children: [(String, Module)] {
    [("conv1", conv1), ("bn1", bn1), ("layer1", layer1), ("layer2", layer2), ("layer3", layer3)]
      + (dropout.map { [("_dropout", $0)] } ?? []) + [("fc", fc)]
  }

  public override func forward(_ input: Tensor) -> Tensor {
    var x = bn1.forward(conv1(input), fusingReLU: true)
    x = layer3(layer2(layer1(x))).globalAvgPool()
    if let dropout { x = dropout(x) }
    return fc(x)
  }
}
