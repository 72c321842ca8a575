import Tensors

/// Batch normalization over channels (PyTorch's `BatchNorm2d`: eps 1e-5, momentum 0.1,
/// weight 1, bias 0, running mean 0, running variance 1).
public final class BatchNorm2D: Module {
  public let weight: Tensor
  public let bias: Tensor
  public let runningMean: Tensor
  public let runningVariance: Tensor
  public let momentum: Float
  public let epsilon: Float

  public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
    weight = Tensor(repeating: 1, shape: [channels], requiresGrad: true)
    bias = Tensor(zeros: [channels], requiresGrad: true)
    runningMean = Tensor(zeros: [channels])
    runningVariance = Tensor(repeating: 1, shape: [channels])
    self.momentum = momentum
    self.epsilon = epsilon
  }

  public override var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
  public override var ownBuffers: [(String, Tensor)] {
    [("running_mean", runningMean), ("running_var", runningVariance)]
  }

  public override func forward(_ input: Tensor) -> Tensor { forward(input, fusingReLU: false) }

  /// `relu(self(input))` in one pass when `fusingReLU`.
  public func forward(_ input: Tensor, fusingReLU: Bool) -> Tensor {
    input.batchNorm(
      weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance,
      training: isTraining, momentum: momentum, epsilon: epsilon, fusedReLU: fusingReLU)
  }
}
