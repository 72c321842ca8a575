import Randomness
import Tensors

/// A fully connected layer, y = x·Wᵀ + b, with PyTorch's default initialization.
public final class Linear: Module {
  public let weight: Tensor
  public let bias: Tensor?

  /// Weights and bias uniform in ±1/√inFeatures (PyTorch's Kaiming-uniform with a = √5).
  public init(
    _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, using generator: inout SeededGenerator
  ) {
    let bound = 1 / Float(inFeatures).squareRoot()
    weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, using: &generator)
    weight.requiresGrad = true
    if bias {
      let b = Tensor.uniform([outFeatures], low: -bound, high: bound, using: &generator)
      b.requiresGrad = true
      self.bias = b
    } else {
      self.bias = nil
    }
  }

  public override var ownParameters: [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public override func forward(_ input: Tensor) -> Tensor {
    input.linear(weight: weight, bias: bias)
  }
}
