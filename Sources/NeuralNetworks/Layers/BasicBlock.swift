import Randomness
import Tensors

/// The residual block of He et al.'s CIFAR ResNet: two 3×3 convolutions with batch norm, and a
/// 1×1 convolution + batch norm shortcut where the shape changes (python/discipline/models.py).
public final class BasicBlock: Module {
  public let conv1: Conv2D, bn1: BatchNorm2D, conv2: Conv2D, bn2: BatchNorm2D
  public let shortcut: Sequential

  public init(
    _ inChannels: Int, _ outChannels: Int, stride: Int, using generator: inout SeededGenerator
  ) {
    conv1 = Conv2D(
      inChannels, outChannels, kernelSize: 3, stride: stride, padding: 1, bias: false,
      using: &generator)
    bn1 = BatchNorm2D(outChannels)
    conv2 = Conv2D(
      outChannels, outChannels, kernelSize: 3, stride: 1, padding: 1, bias: false, using: &generator
    )
    bn2 = BatchNorm2D(outChannels)
    if stride != 1 || inChannels != outChannels {
      shortcut = Sequential([
        Conv2D(
          inChannels, outChannels, kernelSize: 1, stride: stride, bias: false, using: &generator),
        BatchNorm2D(outChannels),
      ])
    } else {
      shortcut = Sequential([])
    }
  }

  public override var children: [(String, Module)] {
    [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2), ("shortcut", shortcut)]
  }

  public override func forward(_ input: Tensor) -> Tensor {
    let out = bn1.forward(conv1(input), fusingReLU: true)
    return (bn2(conv2(out)) + shortcut(input)).relu()
  }
}
