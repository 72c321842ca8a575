import Randomness
import Tensors

/// max(x, 0).
public final class ReLU: Module {
  public override func forward(_ input: Tensor) -> Tensor { input.relu() }
}

/// [N, ...] → [N, rest].
public final class Flatten: Module {
  public override func forward(_ input: Tensor) -> Tensor { input.flattened() }
}

/// A pooling layer with a square window (stride defaults to the window): its size, stride and
/// padding; the subclasses say how a window is pooled.
public class Pool2D: Module {
  public let kernelSize: Int, stride: Int, padding: Int
  public init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
    self.kernelSize = kernelSize
    self.stride = stride ?? kernelSize
    self.padding = padding
  }
}

/// Max pooling with a square window (stride defaults to the window).
public final class MaxPool2D: Pool2D {
  public override func forward(_ input: Tensor) -> Tensor {
    input.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
  }
}

/// Average pooling with a square window (stride defaults to the window).
public final class AvgPool2D: Pool2D {
  public override func forward(_ input: Tensor) -> Tensor {
    input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
  }
}

/// [N, C, H, W] → [N, C]: the mean over each channel's plane.
public final class GlobalAvgPool: Module {
  public override func forward(_ input: Tensor) -> Tensor { input.globalAvgPool() }
}

/// Inverted dropout in training mode, identity in evaluation mode. Its generator is part of
/// the training state, so a resumed run draws the same masks.
public final class Dropout: Module {
  public var probability: Float
  public var generator: SeededGenerator
  public init(_ probability: Float, seed: UInt64) {
    self.probability = probability
    generator = SeededGenerator(seed: seed)
  }
  public override func forward(_ input: Tensor) -> Tensor {
    guard isTraining, probability > 0 else { return input }
    return input.dropout(probability: probability, using: &generator)
  }
}

/// Layers applied in order, named "0", "1", … by position, as PyTorch's `nn.Sequential`.
///
/// Layers added with `unnamed` (the zoo's optional dropout) run in sequence but take no
/// index, so the names of the layers after them still match the PyTorch definitions.
public final class Sequential: Module {
  public private(set) var layers: [(name: String?, layer: Module)]

  public init(_ layers: [Module]) {
    self.layers = layers.enumerated().map { (String($0.offset), $0.element) }
  }

  public init(named layers: [(String?, Module)]) {
    self.layers = layers.map { (name: $0.0, layer: $0.1) }
  }

  public override var children: [(String, Module)] {
    layers.compactMap { entry in entry.name.map { ($0, entry.layer) } } + unnamedChildren
  }

  /// Unnamed layers hold no state but must still follow train/eval switches.
  private var unnamedChildren: [(String, Module)] {
    layers.enumerated().compactMap {
      $0.element.name == nil ? ("_\($0.offset)", $0.element.layer) : nil
    }
  }

  /// Runs the layers in order; a batch norm directly followed by a ReLU runs as one fused
  /// operation (same result, one pass fewer over the activations).
  public override func forward(_ input: Tensor) -> Tensor {
    var x = input
    var i = 0
    while i < layers.count {
      if let bn = layers[i].layer as? BatchNorm2D, i + 1 < layers.count, layers[i + 1].layer is ReLU
      {
        x = bn.forward(x, fusingReLU: true)
        i += 2
      } else {
        x = layers[i].layer(x)
        i += 1
      }
    }
    return x
  }
}
