import Randomness
import Tensors

/// A 2-D convolution with square kernels, weights [out, in, k, k] as PyTorch stores them.
public final class Conv2D: Module {
  public let weight: Tensor
  public let bias: Tensor?
  public let stride: Int
  public let padding: Int

  /// Weights (and bias) uniform in ±1/√(in·k·k): PyTorch's default initialization.
  public init(
    _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
    bias: Bool = true, using generator: inout SeededGenerator
  ) {
    let bound = 1 / Float(inChannels * kernelSize * kernelSize).squareRoot()
    weight = Tensor.uniform(
      [outChannels, inChannels, kernelSize, kernelSize], low: -bound, high: bound, using: &generator
    )
    weight.requiresGrad = true
    if bias {
      let b = Tensor.uniform([outChannels], low: -bound, high: bound, using: &generator)
      b.requiresGrad = true
      self.bias = b
    } else {
      self.bias = nil
    }
    self.stride = stride
    self.padding = padding
  }

  public override var ownParameters: [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public override func forward(_ input: Tensor) -> Tensor {
    input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
  }
}
