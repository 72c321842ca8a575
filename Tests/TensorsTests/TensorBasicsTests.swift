import Foundation
import Randomness
import Tensors
import TestSupport
import Testing

extension EngineTests {
  @Suite(.serialized) struct TensorBasics {
    @Test func initializers() {
      let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
      #expect(x.shape == [2, 3] && x.count == 6 && x.layout == nil && x.isLeaf && !x.requiresGrad)
      #expect(x.values == [1, 2, 3, 4, 5, 6])
      #expect(Tensor(zeros: [2, 2]).values == [0, 0, 0, 0])
      #expect(Tensor(repeating: 7, shape: [3]).values == [7, 7, 7])
      #expect(Tensor(shape: [1], values: [4]).scalar == 4)
    }

    /// Seeded initializers: reproducible, inside their range, with the right moments.
    @Test func seededInitializers() {
      var a = SeededGenerator(seed: 1)
      var b = SeededGenerator(seed: 1)
      let u = Tensor.uniform([10_000], low: -2, high: 3, using: &a)
      #expect(u.values == Tensor.uniform([10_000], low: -2, high: 3, using: &b).values)
      #expect(u.values.allSatisfy { $0 >= -2 && $0 < 3 })
      let uniformMean = u.values.map(Double.init).reduce(0, +) / 10_000
      #expect(abs(uniformMean - 0.5) < 0.05)
      let n = Tensor.normal([20_000], using: &a).values.map(Double.init)
      let mean = n.reduce(0, +) / 20_000
      let variance = n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20_000
      #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05, "mean \(mean), variance \(variance)")
    }

    /// `detached()` copies values and layout and cuts the graph.
    @Test func detached() {
      let x = TestData.uniform([2, 8, 3, 3], seed: 1)
      x.requiresGrad = true
      let y = blockedCopy(x)
      let d = y.detached()
      #expect(d.isLeaf && !d.requiresGrad)
      #expect(d.values == x.values)
      #expect(d.storage !== y.storage)
    }

    /// `assign` converts between layouts in both directions.
    @Test(arguments: [8, 12])
    func assignAcrossLayouts(channels: Int) {
      let source = TestData.uniform([2, channels, 3, 3], seed: 2)
      let blocked = withoutGradients { blockedCopy(Tensor(zeros: [2, channels, 3, 3])) }
      if expectsBlockedLayout(channels: channels) { #expect(blocked.layout != nil) }
      blocked.assign(source)
      #expect(blocked.values == source.values)
      let plain = Tensor(zeros: [2, channels, 3, 3])
      plain.assign(withoutGradients { blockedCopy(source) })
      #expect(plain.values == source.values)
    }

    /// A row-major reshape shares storage (no copy).
    @Test func reshapeSharesStorage() {
      let x = TestData.uniform([2, 6], seed: 3)
      #expect(x.reshaped([3, 4]).storage === x.storage)
      #expect(x.flattened().storage === x.storage)
    }

    @Test func description() {
      #expect(Tensor(shape: [2], values: [1.5, -2]).description == "Tensor([2]: [1.5, -2])")
      #expect(Tensor(zeros: [3, 3]).description.hasSuffix(", …])"))
    }
  }
}
