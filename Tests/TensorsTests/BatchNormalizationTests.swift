import Tensors
import TestSupport
import Testing

/// Shapes for batch normalization: 4-D with plain (3, 5), blocked (8, 16) and padded-blocked
/// (12) channel counts, 1×1 spatial, and 2-D [N, C].
let batchNormShapes: [[Int]] = [
  [2, 3, 4, 4], [4, 8, 3, 3], [2, 16, 2, 2], [3, 12, 2, 3], [2, 5, 1, 1], [8, 6], [4, 16],
]

/// Batch-norm parameters and running statistics for `channels` channels.
struct BatchNormParameters {
  let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor

  init(channels: Int, seed: UInt64) {
    weight = TestData.uniform([channels], low: 0.5, high: 1.5, seed: seed)
    bias = TestData.uniform([channels], seed: seed + 1)
    runningMean = TestData.uniform([channels], seed: seed + 2)
    runningVariance = TestData.uniform([channels], low: 0.5, high: 2, seed: seed + 3)
  }
}

extension EngineTests {
  @Suite(.serialized) struct BatchNormalization {
    /// Training output against (x − batch mean)/√(biased variance + ε)·γ + β, and the running
    /// statistics against PyTorch's update: running = 0.9·running + 0.1·batch, with the
    /// unbiased variance n/(n−1)·var (torch.nn.functional.batch_norm, momentum 0.1, ε 1e-5).
    @Test(arguments: batchNormShapes, TestLayout.allCases)
    func trainingMatchesDefinition(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let c = shape[1]
      let x = TestData.uniform(shape, low: -2, high: 3, seed: UInt64(shape.reduce(1, *)))
      let p = BatchNormParameters(channels: c, seed: 10)
      let oldMean = doubles(p.runningMean)
      let oldVariance = doubles(p.runningVariance)
      let input = laidOut(x, layout)
      let y = input.batchNorm(
        weight: p.weight, bias: p.bias, runningMean: p.runningMean,
        runningVariance: p.runningVariance, training: true)
      let (mean, variance) = Reference.channelStatistics(x.values, shape)
      let expected = Reference.batchNorm(
        x.values, shape, mean: mean, variance: variance, weight: p.weight.values,
        bias: p.bias.values, epsilon: 1e-5)
      #expect(y.shape == shape)
      assertClose(doubles(y), expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-4)

      let n = Double(x.count / c)
      let unbiased = variance.map { $0 * n / (n - 1) }
      assertClose(
        doubles(p.runningMean), zip(oldMean, mean).map { 0.9 * $0 + 0.1 * $1 },
        relativeTolerance: 1e-5, absoluteTolerance: 1e-6, "running mean")
      assertClose(
        doubles(p.runningVariance), zip(oldVariance, unbiased).map { 0.9 * $0 + 0.1 * $1 },
        relativeTolerance: 1e-5, absoluteTolerance: 1e-6, "running variance")
    }

    /// Known values: x = [1, 2, 3, 4] as [4, 1], fresh statistics (mean 0, variance 1).
    /// Batch mean 2.5, biased variance 1.25, unbiased 5/3; PyTorch gives running_mean 0.25,
    /// running_var 0.9 + 0.1·5/3 = 1.0666667 and outputs (x − 2.5)/√1.25001.
    @Test func knownValues() {
      let x = Tensor(shape: [4, 1], values: [1, 2, 3, 4])
      let runningMean = Tensor(zeros: [1])
      let runningVariance = Tensor(repeating: 1, shape: [1])
      let y = x.batchNorm(
        weight: Tensor(repeating: 1, shape: [1]), bias: Tensor(zeros: [1]),
        runningMean: runningMean, runningVariance: runningVariance, training: true)
      let s = (1.25 + 1e-5).squareRoot()
      assertClose(doubles(y), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], relativeTolerance: 1e-5)
      assertClose(runningMean.scalar, 0.25, relativeTolerance: 1e-6)
      assertClose(runningVariance.scalar, 0.9 + 0.1 * 5 / 3, relativeTolerance: 1e-6)
    }

    /// Running statistics after several steps follow the recurrence step by step, and
    /// inference then normalizes with them (not with the batch's statistics).
    @Test(arguments: batchNormShapes, TestLayout.allCases)
    func inferenceUsesRunningStatistics(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let c = shape[1]
      let p = BatchNormParameters(channels: c, seed: 20)
      var mean = doubles(p.runningMean)
      var variance = doubles(p.runningVariance)
      for step in 0..<3 {
        let x = TestData.uniform(shape, low: -1, high: 2, seed: UInt64(100 + step))
        _ = withoutGradients {
          laidOut(x, layout).batchNorm(
            weight: p.weight, bias: p.bias, runningMean: p.runningMean,
            runningVariance: p.runningVariance, training: true)
        }
        let stats = Reference.channelStatistics(x.values, shape)
        let n = Double(x.count / c)
        mean = zip(mean, stats.mean).map { 0.9 * $0 + 0.1 * $1 }
        variance = zip(variance, stats.variance).map { 0.9 * $0 + 0.1 * $1 * n / (n - 1) }
      }
      assertClose(doubles(p.runningMean), mean, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
      assertClose(
        doubles(p.runningVariance), variance, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)

      let x = TestData.uniform(shape, low: -3, high: 3, seed: 7)
      let before = (p.runningMean.values, p.runningVariance.values)
      let y = withoutGradients {
        laidOut(x, layout).batchNorm(
          weight: p.weight, bias: p.bias, runningMean: p.runningMean,
          runningVariance: p.runningVariance, training: false)
      }
      let expected = Reference.batchNorm(
        x.values, shape, mean: doubles(p.runningMean), variance: doubles(p.runningVariance),
        weight: p.weight.values, bias: p.bias.values, epsilon: 1e-5)
      #expect(y.shape == shape)
      assertClose(doubles(y), expected, relativeTolerance: 1e-4, absoluteTolerance: 1e-5)
      #expect(p.runningMean.values == before.0, "inference must not change the running mean")
      #expect(
        p.runningVariance.values == before.1, "inference must not change the running variance")
    }

    /// A non-default momentum and ε are used as given.
    @Test func customMomentumAndEpsilon() {
      let shape = [3, 4, 2, 2]
      let x = TestData.uniform(shape, seed: 3)
      let p = BatchNormParameters(channels: 4, seed: 30)
      let oldMean = doubles(p.runningMean)
      let oldVariance = doubles(p.runningVariance)
      let y = x.batchNorm(
        weight: p.weight, bias: p.bias, runningMean: p.runningMean,
        runningVariance: p.runningVariance, training: true, momentum: 0.3, epsilon: 0.5)
      let (mean, variance) = Reference.channelStatistics(x.values, shape)
      assertClose(
        doubles(y),
        Reference.batchNorm(
          x.values, shape, mean: mean, variance: variance, weight: p.weight.values,
          bias: p.bias.values, epsilon: 0.5), relativeTolerance: 1e-4, absoluteTolerance: 1e-5)
      assertClose(
        doubles(p.runningMean), zip(oldMean, mean).map { 0.7 * $0 + 0.3 * $1 },
        relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
      assertClose(
        doubles(p.runningVariance),
        zip(oldVariance, variance).map { 0.7 * $0 + 0.3 * $1 * 12 / 11 },
        relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
    }

    /// A large mean and a small spread (activations of 1000 ± 1): the variance must be
    /// computed around the mean, not as E[x²] − E[x]², which cancels catastrophically.
    @Test(arguments: TestLayout.allCases)
    func largeMeanSmallVariance(layout: TestLayout) {
      let shape = [4, 8, 5, 5]
      let x = TestData.uniform(shape, low: 999, high: 1001, seed: 8)
      let p = BatchNormParameters(channels: 8, seed: 50)
      let oldVariance = doubles(p.runningVariance)
      let y = laidOut(x, layout).batchNorm(
        weight: p.weight, bias: p.bias, runningMean: p.runningMean,
        runningVariance: p.runningVariance, training: true)
      let (mean, variance) = Reference.channelStatistics(x.values, shape)
      assertClose(
        doubles(y),
        Reference.batchNorm(
          x.values, shape, mean: mean, variance: variance, weight: p.weight.values,
          bias: p.bias.values, epsilon: 1e-5), relativeTolerance: 1e-3, absoluteTolerance: 1e-3)
      assertClose(
        doubles(p.runningVariance),
        zip(oldVariance, variance).map { 0.9 * $0 + 0.1 * $1 * 100 / 99 },
        relativeTolerance: 1e-4, absoluteTolerance: 1e-5)
    }

    /// Gradients of the training-mode output with respect to input, γ and β.
    @Test(arguments: batchNormShapes, TestLayout.allCases)
    func gradientsMatchFiniteDifferences(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let c = shape[1]
      let x = TestData.uniform(shape, low: -2, high: 2, seed: UInt64(shape.reduce(1, *)) + 5)
      let p = BatchNormParameters(channels: c, seed: 40)
      checkGradients([x, p.weight, p.bias], maxElementsPerInput: 400) { t in
        let statistics = BatchNormParameters(channels: c, seed: 40)
        let y = laidOut(t[0], layout).batchNorm(
          weight: t[1], bias: t[2], runningMean: statistics.runningMean,
          runningVariance: statistics.runningVariance, training: true)
        return (y)
      }
    }
  }
}
