import Tensors
import TestSupport
import Testing

extension EngineTests {
  @Suite(.serialized) struct ShapeAndReduction {
    @Test(arguments: [
      ([2, 3, 4], [6, 4]), ([2, 3, 4], [4, -1]), ([2, 3, 2, 2], [2, 12]), ([6], [1, 2, 3]),
    ])
    func reshapedKeepsRowMajorOrder(from: [Int], to: [Int]) {
      let x = TestData.uniform(from, seed: 1)
      let y = x.reshaped(to)
      #expect(y.count == x.count)
      #expect(y.values == x.values)
      #expect(!y.shape.contains(-1))
      checkGradients([x]) { t in t[0].reshaped(to) }
    }

    @Test(arguments: [[2, 3, 4, 4], [2, 8, 3, 3], [2, 12, 2, 2], [3, 5]], TestLayout.allCases)
    func flattened(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let x = TestData.uniform(shape, seed: 2)
      let y = laidOut(x, layout).flattened()
      #expect(y.shape == [shape[0], x.count / shape[0]])
      #expect(y.values == x.values)
      checkGradients([x]) { t in
        laidOut(t[0], layout).flattened()
      }
    }

    @Test(
      arguments: [[1], [7], [3, 5], [2, 3, 4, 4], [2, 8, 3, 3], [2, 12, 2, 2], [5000]],
      TestLayout.allCases)
    func sumAndMean(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let x = TestData.uniform(shape, seed: 3)
      let input = laidOut(x, layout)
      let total = x.values.map(Double.init).reduce(0, +)
      let s = input.sum()
      let m = input.mean()
      #expect(s.count == 1 && m.count == 1)
      assertClose(Double(s.scalar), total, relativeTolerance: 1e-6, absoluteTolerance: 1e-5)
      assertClose(
        Double(m.scalar), total / Double(x.count), relativeTolerance: 1e-6, absoluteTolerance: 1e-6)
      // The gradient of a sum is all ones, of a mean 1/n.
      x.requiresGrad = true
      laidOut(x, layout).sum().backward()
      #expect(x.grad!.values == Array(repeating: 1, count: x.count))
      x.zeroGradient()
      laidOut(x, layout).mean().backward()
      assertClose(
        x.grad!.values, Array(repeating: 1 / Float(x.count), count: x.count),
        relativeTolerance: 1e-6)
      if x.count < 1000 {
        let y = TestData.uniform(shape, seed: 4)
        checkGradients([y]) { t in (laidOut(t[0], layout) * t[0]).sum() }
        checkGradients([y]) { t in (laidOut(t[0], layout) * t[0]).mean() * 10 }
      }
    }

    /// A sum of a million values is accurate to float precision (not the O(n·ulp) error of
    /// naive float accumulation, which here would be about 1e-3 relative).
    @Test func sumIsAccurate() {
      let n = 1 << 20
      let x = TestData.uniform([n], low: 0, high: 1, seed: 5)
      let exact = x.values.map(Double.init).reduce(0, +)
      assertClose(Double(x.sum().scalar), exact, relativeTolerance: 1e-6)
      assertClose(Double(x.mean().scalar), exact / Double(n), relativeTolerance: 1e-6)
    }
  }
}
