import Foundation
import Tensors
import TestSupport
import Testing

extension EngineTests {
  @Suite(.serialized) struct CrossEntropy {
    static let cases: [(rows: Int, classes: Int)] = [(1, 2), (4, 3), (8, 10), (3, 100)]

    static func labels(rows: Int, classes: Int) -> [Int32] {
      (0..<rows).map { Int32(($0 * 7 + 3) % classes) }
    }

    /// Against mean(logsumexp(row) − row[label]) in double precision.
    @Test(arguments: cases)
    func matchesLogSumExp(rows: Int, classes: Int) {
      let x = TestData.uniform([rows, classes], low: -3, high: 3, seed: UInt64(rows * classes))
      let labels = Self.labels(rows: rows, classes: classes)
      let loss = x.crossEntropy(labels: labels)
      #expect(loss.shape == [1])
      assertClose(
        Double(loss.scalar),
        Reference.crossEntropy(x.values, rows: rows, classes: classes, labels: labels),
        relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
    }

    @Test(arguments: cases)
    func gradientsMatchFiniteDifferences(rows: Int, classes: Int) {
      let x = TestData.uniform([rows, classes], low: -3, high: 3, seed: UInt64(rows + classes))
      let labels = Self.labels(rows: rows, classes: classes)
      let report = checkGradients([x]) { t in t[0].crossEntropy(labels: labels) * 10 }
      #expect(report.checked == x.count)
      // And against the closed form (softmax − one-hot)/N.
      x.zeroGradient()
      x.crossEntropy(labels: labels).backward()
      assertClose(
        doubles(x.grad!),
        Reference.crossEntropyGradient(x.values, rows: rows, classes: classes, labels: labels),
        relativeTolerance: 1e-5, absoluteTolerance: 1e-7)
    }

    /// Equal logits give log K, whatever their size.
    @Test(arguments: [Float(0), 1e4, -1e4, 3e38])
    func equalLogits(value: Float) {
      let x = Tensor(repeating: value, shape: [2, 10])
      assertClose(x.crossEntropy(labels: [0, 9]).scalar, 2.302585093, relativeTolerance: 1e-6)
    }

    /// Logits of order 1e4 (exp would overflow float32 without subtracting the maximum): the
    /// loss is finite and equals the double-precision log-sum-exp; the gradient is finite and
    /// equals the closed form.
    @Test func largeLogitsAreStable() {
      let rows = 4
      let classes = 5
      let x = TestData.uniform([rows, classes], low: -2e4, high: 2e4, seed: 5)
      // Rows whose largest logits are close, so the softmax is not one-hot.
      let v = x.values.enumerated().map { i, v in i % classes < 2 ? 1e4 + Float(i % 3) : v }
      let logits = Tensor(shape: [rows, classes], values: v, requiresGrad: true)
      let labels: [Int32] = [0, 1, 2, 4]
      let loss = logits.crossEntropy(labels: labels)
      #expect(loss.scalar.isFinite)
      assertClose(
        Double(loss.scalar),
        Reference.crossEntropy(v, rows: rows, classes: classes, labels: labels),
        relativeTolerance: 1e-6, absoluteTolerance: 1e-5)
      loss.backward()
      let g = logits.grad!.values
      #expect(g.allSatisfy { $0.isFinite })
      assertClose(
        g.map(Double.init),
        Reference.crossEntropyGradient(v, rows: rows, classes: classes, labels: labels),
        relativeTolerance: 1e-5, absoluteTolerance: 1e-7)
    }

    /// A confident right answer costs almost nothing, a confident wrong one its margin.
    @Test func confidentPredictions() {
      let x = Tensor(shape: [2, 3], values: [50, 0, 0, 0, 50, 0])
      assertClose(x.crossEntropy(labels: [0, 1]).scalar, 2 * exp(-50.0), absoluteTolerance: 1e-12)
      assertClose(x.crossEntropy(labels: [1, 0]).scalar, 50, relativeTolerance: 1e-6)
    }

    @Test func argmaxRows() {
      let x = Tensor(shape: [3, 4], values: [0, 3, 1, 2, -5, -1, -2, -3, 7, 7, 1, 0])
      #expect(x.argmaxRows() == [1, 1, 0])
      let blocked = blockedCopy(TestData.uniform([4, 8, 1, 1], seed: 6))
      let plain = blocked.values
      let expected = (0..<4).map { r in (0..<8).max { plain[r * 8 + $0] < plain[r * 8 + $1] }! }
      #expect(blocked.reshaped([4, 8]).argmaxRows() == expected)
    }
  }
}
