import Randomness
import Tensors
import TestSupport
import Testing

/// An operation whose backward pass is checked for reading freed memory.
enum LifetimeCase: String, Sendable, CaseIterable {
  case convolution, convolutionBlocked, maxPool, maxPoolBlocked, averagePool, globalAveragePool
  case batchNorm, batchNormBlocked, relu, reluBlocked, dropout, dropoutBlocked, linear, matmul
  case add, multiplyChannel, multiplyScalar, scale, crossEntropy, reshape, sum, mean

  var inputShapes: [[Int]] {
    switch self {
    case .convolution, .convolutionBlocked: [[2, 8, 5, 5], [16, 8, 3, 3], [16]]
    case .batchNorm, .batchNormBlocked: [[2, 8, 3, 3], [8], [8]]
    case .linear: [[4, 6], [5, 6], [5]]
    case .matmul: [[4, 6], [6, 5]]
    case .add: [[2, 8, 3, 3], [2, 8, 3, 3]]
    case .multiplyChannel: [[2, 8, 3, 3], [8]]
    case .multiplyScalar: [[2, 8, 3, 3], [1]]
    case .crossEntropy: [[6, 7]]
    default: [[2, 8, 4, 4]]
    }
  }

  func output(_ t: [Tensor]) -> Tensor {
    switch self {
    case .convolution: t[0].conv2d(weight: t[1], bias: t[2], stride: 1, padding: 1)
    case .convolutionBlocked:
      blockedCopy(t[0]).conv2d(weight: t[1], bias: t[2], stride: 2, padding: 1)
    case .maxPool: t[0].maxPool2d(kernelSize: 2)
    case .maxPoolBlocked: blockedCopy(t[0]).maxPool2d(kernelSize: 3, stride: 1, padding: 1)
    case .averagePool: t[0].avgPool2d(kernelSize: 3, stride: 1, padding: 1)
    case .globalAveragePool: blockedCopy(t[0]).globalAvgPool()
    case .batchNorm, .batchNormBlocked:
      (self == .batchNorm ? t[0] : blockedCopy(t[0])).batchNorm(
        weight: t[1], bias: t[2], runningMean: Tensor(zeros: [8]),
        runningVariance: Tensor(repeating: 1, shape: [8]), training: true)
    case .relu: t[0].relu()
    case .reluBlocked: blockedCopy(t[0]).relu()
    case .dropout, .dropoutBlocked:
      {
        var generator = SeededGenerator(seed: 5)
        return (self == .dropout ? t[0] : blockedCopy(t[0])).dropout(
          probability: 0.5, using: &generator)
      }()
    case .linear: t[0].linear(weight: t[1], bias: t[2])
    case .matmul: t[0].matmul(t[1])
    case .add: blockedCopy(t[0]) + t[1]
    case .multiplyChannel: blockedCopy(t[0]) * t[1]
    case .multiplyScalar: t[0] * t[1]
    case .scale: blockedCopy(t[0]) * Float(3)
    case .crossEntropy: t[0].crossEntropy(labels: [0, 1, 2, 3, 4, 6])
    case .reshape: blockedCopy(t[0]).reshaped([4, -1])
    case .sum: (t[0] * t[0]).sum()
    case .mean: (blockedCopy(t[0]) * t[0]).mean()
    }
  }
}

extension EngineTests {
  @Suite(.serialized) struct Lifetimes {
    /// The backward pass reads only memory its graph keeps alive: freed memory filled with
    /// NaN between the forward and the backward pass changes no gradient. (The backward
    /// closure of cross-entropy once captured a raw pointer into storage that was freed when
    /// the forward pass returned; this catches that class of bug.)
    @Test(arguments: LifetimeCase.allCases)
    func backwardReadsNoFreedMemory(_ c: LifetimeCase) {
      func gradients(poison: Bool) -> [[Float]] {
        let inputs = c.inputShapes.enumerated().map { i, shape in
          TestData.uniform(shape, seed: UInt64(i + 1))
        }
        for t in inputs { t.requiresGrad = true }
        let y = c.output(inputs)
        let loss = y.count == 1 ? y : (y * TestData.uniform(y.shape, seed: 9)).sum()
        if poison { TestData.poisonFreedMemory() }
        loss.backward()
        return inputs.map { $0.grad?.values ?? [] }
      }
      let clean = gradients(poison: false)
      let poisoned = gradients(poison: true)
      for (i, g) in poisoned.enumerated() {
        #expect(!g.isEmpty, "input \(i) got no gradient")
        assertClose(
          g, clean[i], relativeTolerance: 0, absoluteTolerance: 0,
          "gradient \(i) after poisoning freed memory")
      }
    }
  }
}
