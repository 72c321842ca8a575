import Tensors
import TestSupport
import Testing

extension EngineTests {
  @Suite(.serialized) struct Autodiff {
    /// The example in `Tensor`'s documentation.
    @Test func documentedExample() {
      let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6], requiresGrad: true)
      let loss = (x * x).sum()
      loss.backward()
      #expect(x.grad!.values == [2, 4, 6, 8, 10, 12])
    }

    /// Two backward passes add into a leaf's gradient until it is cleared.
    @Test func backwardPassesAccumulate() {
      let x = TestData.uniform([3, 4], seed: 1)
      x.requiresGrad = true
      (x * x).sum().backward()
      (x * 3).sum().backward()
      assertClose(doubles(x.grad!), x.values.map { 2 * Double($0) + 3 }, relativeTolerance: 1e-6)
      x.zeroGradient()
      #expect(x.grad == nil)
      (x * 3).sum().backward()
      #expect(x.grad!.values == Array(repeating: 3, count: 12))
    }

    /// Accumulation also works for a parameter of a blocked-layout operation (conv weights)
    /// and for a leaf that is used twice.
    @Test func convolutionWeightGradientsAccumulate() {
      let x = TestData.uniform([2, 8, 4, 4], seed: 2)
      let w = TestData.uniform([8, 8, 3, 3], seed: 3)
      w.requiresGrad = true
      TestData.projection(x.conv2d(weight: w, padding: 1)).backward()
      let once = w.grad!.values
      TestData.projection(x.conv2d(weight: w, padding: 1)).backward()
      assertClose(w.grad!.values, once.map { 2 * $0 }, relativeTolerance: 1e-6)
    }

    /// A tensor used twice (x + x·x) gets the sum of both paths: 1 + 2x.
    @Test(arguments: TestLayout.allCases)
    func tensorUsedTwice(layout: TestLayout) {
      let x = TestData.uniform([2, 8, 3, 3], seed: 4)
      x.requiresGrad = true
      let y = laidOut(x, layout)
      (y + y * y).sum().backward()
      assertClose(doubles(x.grad!), x.values.map { 1 + 2 * Double($0) }, relativeTolerance: 1e-6)
      checkGradients([TestData.uniform([2, 8, 3, 3], seed: 4)]) { t in
        let y = laidOut(t[0], layout)
        return y + y * y
      }
    }

    /// A blocked activation consumed by operations that send gradients back in different
    /// layouts (convolution, pooling, ReLU, batch norm, reshape, element-wise with a plain
    /// tensor), in both blockings: each consumer's gradient matches finite differences, and
    /// the gradient of their sum is the sum of theirs (the conversions and accumulation).
    ///
    /// The inputs are 0.01 apart and at least 0.005 from zero, so ReLU and max pooling are
    /// checked with a step of 0.004, which reaches no kink or tie; the smooth consumers with
    /// 0.01, where float32 rounding weighs less. (One finite-difference check of the whole sum
    /// with a step of 0.01 crossed ReLU's kink at the input 0.005, and was 1.2e-3 off: a
    /// test-point error, not a gradient one, that passed or failed with the CPU's rounding.)
    @Test(arguments: [8, 12, 16], [TestLayout.native, .nChw8c, .nChw16c])
    func gradientsFromConsumersInDifferentLayouts(channels c: Int, layout: TestLayout) {
      let inputs = [
        TestData.separated([2, c, 4, 4], spacing: 0.01, seed: 13),
        TestData.uniform([c, c, 3, 3], low: -0.3, high: 0.3, seed: 14),
        TestData.uniform([2, c, 4, 4], seed: 15),
        TestData.uniform([c], low: 0.5, high: 1.5, seed: 16),
        TestData.uniform([c], seed: 17),
      ]
      let consumers: [(name: String, epsilon: Float, of: (Tensor, [Tensor]) -> Tensor)] = [
        ("convolution", 1e-2, { y, t in y.conv2d(weight: t[1], padding: 1) }),
        ("max pooling", 4e-3, { y, _ in y.maxPool2d(kernelSize: 3, stride: 1, padding: 1) }),
        ("ReLU", 4e-3, { y, _ in y.relu() * y.relu() }),
        (
          "batch norm", 1e-2,
          { y, t in
            let n = y.batchNorm(
              weight: t[3], bias: t[4], runningMean: Tensor(zeros: [c]),
              runningVariance: Tensor(repeating: 1, shape: [c]), training: true)
            return n * n * n * Float(0.1)
          }
        ),
        ("element-wise with a row-major tensor", 1e-2, { y, t in (t[2] * y + y) * (t[2] * y + y) }),
        ("reshape", 1e-2, { y, _ in y.reshaped([2, -1]).reshaped(y.shape) * y }),
      ]
      for consumer in consumers {
        checkGradients(
          inputs, epsilon: consumer.epsilon, maxElementsPerInput: 300, "\(consumer.name)"
        ) { t in
          consumer.of(laidOut(t[0], layout), t)
        }
      }
      /// Each input's gradient of the projected output (zeros where none reached it).
      func gradients(_ output: ([Tensor]) -> Tensor) -> [[Double]] {
        for x in inputs { x.zeroGradient() }
        TestData.projection(output(inputs)).backward()
        return inputs.map { x in x.grad.map(doubles) ?? Array(repeating: 0, count: x.count) }
      }
      var summed = inputs.map { Array(repeating: 0.0, count: $0.count) }
      for consumer in consumers {
        let g = gradients { t in consumer.of(laidOut(t[0], layout), t) }
        for i in summed.indices { for j in summed[i].indices { summed[i][j] += g[i][j] } }
      }
      let together = gradients { t in
        let y = laidOut(t[0], layout)
        return consumers.dropFirst().reduce(consumers[0].of(y, t)) { $0 + $1.of(y, t) }
      }
      for i in inputs.indices {
        assertClose(
          together[i], summed[i], relativeTolerance: 1e-4, absoluteTolerance: 1e-5, "input \(i)")
      }
    }

    /// x + x: both operands are the same tensor.
    @Test func sameTensorAsBothOperands() {
      let x = TestData.uniform([5], seed: 5)
      x.requiresGrad = true
      (x + x).sum().backward()
      #expect(x.grad!.values == Array(repeating: 2, count: 5))
      x.zeroGradient()
      (x - x).sum().backward()
      #expect(x.grad!.values == Array(repeating: 0, count: 5))
    }

    /// A diamond: y = 2x, z = y·y + y, dz/dx = 2(2y + 1).
    @Test func diamond() {
      let x = TestData.uniform([6], seed: 6)
      x.requiresGrad = true
      let y = x * 2
      (y * y + y).sum().backward()
      assertClose(
        doubles(x.grad!), x.values.map { 2 * (4 * Double($0) + 1) }, relativeTolerance: 1e-6)
    }

    /// A deep chain of 500 operations: the backward pass is iterative, not recursive.
    @Test func deepChain() {
      let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
      var y = x
      for _ in 0..<500 { y = y * Float(1) + x * Float(0.001) }
      y.sum().backward()
      // 500 float additions of 0.001 into a value near 1: rounding of up to ½ulp(1) each.
      let expected = 1 + 0.001 * 500.0
      assertClose(doubles(x.grad!), [expected, expected, expected], relativeTolerance: 1e-4)
    }

    /// Nothing is recorded inside `withoutGradients`, and recording resumes afterwards (also
    /// after a throw).
    @Test func withoutGradientsRecordsNothing() {
      let x = TestData.uniform([2, 8, 3, 3], seed: 7)
      let w = TestData.uniform([8, 8, 3, 3], seed: 8)
      let gamma = Tensor(repeating: 1, shape: [8])
      let beta = Tensor(zeros: [8])
      for t in [x, w, gamma, beta] { t.requiresGrad = true }
      let outputs = withoutGradients { () -> [Tensor] in
        let c = x.conv2d(weight: w, padding: 1)
        let b = c.batchNorm(
          weight: gamma, bias: beta, runningMean: Tensor(zeros: [8]),
          runningVariance: Tensor(repeating: 1, shape: [8]), training: true)
        let r = b.relu()
        let p = r.maxPool2d(kernelSize: 2)
        let f = p.flattened()
        let l = f.linear(weight: TestData.uniform([3, 8], seed: 9), bias: nil)
        return [c, b, r, p, f, l, l * 2, l + l, l.sum(), l.mean(), l.crossEntropy(labels: [0, 1])]
      }
      for (i, t) in outputs.enumerated() {
        #expect(t.isLeaf && !t.requiresGrad, "output \(i) was recorded")
      }
      struct Failure: Error {}
      #expect(throws: Failure.self) { try withoutGradients { throw Failure() } }
      let y = x * x
      #expect(!y.isLeaf && y.requiresGrad, "recording resumes after withoutGradients")
    }

    /// Operations on tensors that need no gradient record nothing.
    @Test func constantsRecordNothing() {
      let x = TestData.uniform([2, 3], seed: 10)
      let y = (x * x + x).relu().sum()
      #expect(y.isLeaf && !y.requiresGrad)
    }

    /// The graph is released after `backward()`; intermediate results keep no gradient.
    @Test func graphIsReleased() {
      let x = TestData.uniform([4], seed: 11)
      x.requiresGrad = true
      let y = x * x
      let loss = y.sum()
      loss.backward()
      #expect(y.isLeaf && loss.isLeaf)
      #expect(y.grad == nil)
      #expect(x.grad != nil)
    }

    /// A leaf's gradient has its shape and is row-major, even when it reached the leaf
    /// through blocked-layout operations.
    @Test func leafGradientIsRowMajor() {
      let x = TestData.uniform([2, 16, 4, 4], seed: 12)
      x.requiresGrad = true
      TestData.projection(blockedCopy(x).relu()).backward()
      #expect(x.grad!.shape == x.shape)
      #expect(x.grad!.layout == nil)
    }
  }
}
