import Randomness
import Tensors
import TestSupport
import Testing

extension EngineTests {
  /// Chains of operations that pass oneDNN's blocked layouts from one to the next.
  @Suite(.serialized) struct Layouts {
    /// conv → batchNorm(training) → relu → maxPool → conv, gradients with respect to the
    /// input and every parameter. ReLU and max pooling have kinks that a random test point
    /// may sit next to, so elements where the forward pass is not smooth within ±ε are skipped
    /// (at most 10%).
    @Test(arguments: [(3, 8, 8), (3, 16, 16), (8, 8, 16), (16, 16, 8), (3, 12, 5), (1, 3, 3)])
    func convolutionBlock(channels: (Int, Int, Int)) {
      let (c0, c1, c2) = channels
      let x = TestData.uniform([2, c0, 6, 6], seed: 1)
      let w1 = TestData.uniform([c1, c0, 3, 3], low: -0.5, high: 0.5, seed: 2)
      let b1 = TestData.uniform([c1], seed: 3)
      let gamma = TestData.uniform([c1], low: 0.5, high: 1.5, seed: 4)
      let beta = TestData.uniform([c1], low: -0.2, high: 0.2, seed: 5)
      let w2 = TestData.uniform([c2, c1, 3, 3], low: -0.5, high: 0.5, seed: 6)
      func block(_ t: [Tensor]) -> (Tensor, [Tensor]) {
        let a = t[0].conv2d(weight: t[1], bias: t[2], padding: 1)
        let b = a.batchNorm(
          weight: t[3], bias: t[4], runningMean: Tensor(zeros: [c1]),
          runningVariance: Tensor(repeating: 1, shape: [c1]), training: true)
        let r = b.relu()
        let p = r.maxPool2d(kernelSize: 2)
        let y = p.conv2d(weight: t[5], padding: 1)
        return (y, [a, b, r, p, y])
      }
      let (_, stages) = withoutGradients { block([x, w1, b1, gamma, beta, w2]) }
      if expectsBlockedLayout(channels: c1) {
        #expect(stages.prefix(4).allSatisfy { $0.layout != nil }, "activations should be blocked")
      }
      // Forward against the references, stage by stage.
      let conv = Reference.conv2d(
        input: x.values, x.shape, weight: w1.values, w1.shape, bias: b1.values, stride: 1,
        padding: 1)
      assertClose(doubles(stages[0]), conv.values, relativeTolerance: 1e-4, absoluteTolerance: 1e-5)
      let a = stages[0].values
      let statistics = Reference.channelStatistics(a, stages[0].shape)
      let normalized = Reference.batchNorm(
        a, stages[0].shape, mean: statistics.mean, variance: statistics.variance,
        weight: gamma.values, bias: beta.values, epsilon: 1e-5)
      assertClose(doubles(stages[1]), normalized, relativeTolerance: 1e-4, absoluteTolerance: 1e-4)
      #expect(stages[2].values == stages[1].values.map { max($0, 0) })
      let pooled = Reference.pool2d(
        .max, input: stages[2].values, stages[2].shape, kernel: 2, stride: 2, padding: 0)
      assertClose(doubles(stages[3]), pooled.values, relativeTolerance: 0, absoluteTolerance: 0)
      let out = Reference.conv2d(
        input: stages[3].values, stages[3].shape, weight: w2.values, w2.shape, bias: nil, stride: 1,
        padding: 1)
      assertClose(doubles(stages[4]), out.values, relativeTolerance: 1e-4, absoluteTolerance: 1e-5)

      // ε = 3e-3 balances the float32 rounding of the outputs (about 5e-6 on a loss of ~50,
      // divided by 2ε) against kinks inside ±ε (skipped: 1–4% of the elements here).
      checkGradients(
        [x, w1, b1, gamma, beta, w2], epsilon: 3e-3, relativeTolerance: 2e-2,
        absoluteTolerance: 2e-3, maxElementsPerInput: 200, skipNonSmooth: true
      ) { t in block(t).0 }
    }

    /// A small network end to end: conv → BN → ReLU → conv (stride 2) → BN → ReLU →
    /// average pooling → global average pooling → flatten → dropout → linear (the logits are
    /// checked; cross-entropy on top is checked in `linearIntoCrossEntropy`).
    @Test func smallNetwork() {
      let x = TestData.uniform([4, 3, 8, 8], seed: 10)
      let parameters = [
        TestData.uniform([16, 3, 3, 3], low: -0.4, high: 0.4, seed: 11),
        TestData.uniform([16], low: 0.5, high: 1.5, seed: 12),
        TestData.uniform([16], low: -0.2, high: 0.2, seed: 13),
        TestData.uniform([12, 16, 3, 3], low: -0.2, high: 0.2, seed: 14),
        TestData.uniform([12], low: 0.5, high: 1.5, seed: 15),
        TestData.uniform([12], low: -0.2, high: 0.2, seed: 16),
        TestData.uniform([5, 12], seed: 17), TestData.uniform([5], seed: 18),
      ]
      func network(_ t: [Tensor]) -> Tensor {
        var h = t[0].conv2d(weight: t[1], padding: 1)
        h = h.batchNorm(
          weight: t[2], bias: t[3], runningMean: Tensor(zeros: [16]),
          runningVariance: Tensor(repeating: 1, shape: [16]), training: true
        ).relu()
        h = h.conv2d(weight: t[4], stride: 2, padding: 1)
        h = h.batchNorm(
          weight: t[5], bias: t[6], runningMean: Tensor(zeros: [12]),
          runningVariance: Tensor(repeating: 1, shape: [12]), training: true
        ).relu()
        h = h.avgPool2d(kernelSize: 2).globalAvgPool().flattened()
        var generator = SeededGenerator(seed: 3)
        h = h.dropout(probability: 0.2, using: &generator)
        return h.linear(weight: t[7], bias: t[8])
      }
      // Two ReLUs behind batch normalization: moving one input moves every activation of its
      // channel, so kinks are dense; ε = 2e-3 keeps the skipped elements near 7%.
      let report = checkGradients(
        [x] + parameters, epsilon: 2e-3, relativeTolerance: 2e-2, absoluteTolerance: 2e-3,
        maxElementsPerInput: 150, skipNonSmooth: true, of: network)
      #expect(report.checked > 500)
    }

    /// linear → cross-entropy, with respect to input, weights and bias.
    @Test func linearIntoCrossEntropy() {
      let x = TestData.uniform([6, 8], seed: 30)
      let w = TestData.uniform([5, 8], seed: 31)
      let b = TestData.uniform([5], seed: 32)
      let labels: [Int32] = [0, 4, 2, 1, 3, 3]
      checkGradients([x, w, b]) { t in
        t[0].linear(weight: t[1], bias: t[2]).crossEntropy(labels: labels)
      }
    }

    /// Uninitialized memory (here: NaN left behind by freed blocks) must never reach results:
    /// the padding of blocked layouts (12 channels in nChw8c) included.
    @Test func uninitializedMemoryDoesNotLeak() {
      let x = TestData.uniform([2, 3, 6, 6], seed: 20)
      let w1 = TestData.uniform([12, 3, 3, 3], seed: 21)
      let gamma = TestData.uniform([12], low: 0.5, high: 1.5, seed: 22)
      let beta = TestData.uniform([12], seed: 23)
      let w2 = TestData.uniform([5, 12, 3, 3], seed: 24)
      let inputs = [x, w1, gamma, beta, w2]
      func run() -> [[Float]] {
        for t in inputs {
          t.requiresGrad = true
          t.zeroGradient()
        }
        let a = x.conv2d(weight: w1, padding: 1)
        let b = a.batchNorm(
          weight: gamma, bias: beta, runningMean: Tensor(zeros: [12]),
          runningVariance: Tensor(repeating: 1, shape: [12]), training: true)
        let c = (b.relu() * 2 + b * b - b).maxPool2d(kernelSize: 2)
        var generator = SeededGenerator(seed: 1)
        let d = c.dropout(probability: 0.5, using: &generator).conv2d(weight: w2, padding: 1)
        let loss = TestData.projection(d)
        loss.backward()
        return [d.values] + inputs.map { $0.grad!.values }
      }
      let clean = run()
      TestData.poisonFreedMemory(sizes: [
        12 * 36 * 2, 16 * 36 * 2, 16 * 9 * 2, 5 * 9 * 2, 12 * 27, 12 * 16 * 9, 64, 16,
      ])
      let poisoned = run()
      for (i, values) in poisoned.enumerated() {
        assertClose(
          values, clean[i], relativeTolerance: 0, absoluteTolerance: 0,
          "result \(i) after poisoning freed memory")
      }
    }
  }
}
