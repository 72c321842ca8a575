import Tensors
import TestSupport
import Testing

extension EngineTests {
  /// The test helpers themselves: they pass what is right and catch what is wrong.
  @Suite(.serialized) struct TestSupportChecks {
    /// A gradient that misses a path (the `detached()` copy also moves when x is perturbed,
    /// so d/dx x·x is 2x while backward sees x) is reported, with its location.
    @Test func gradientCheckCatchesAWrongGradient() {
      let x = TestData.uniform([3, 4], seed: 1)
      withKnownIssue {
        let report = checkGradients([x]) { t in t[0] * t[0].detached() }
        #expect(report.failures.count == 12)
        #expect(!report.passed)
      }
    }

    /// An input whose gradient never arrives is reported too.
    @Test func gradientCheckCatchesAMissingGradient() {
      let x = TestData.uniform([5], seed: 2)
      withKnownIssue {
        checkGradients([x]) { t in t[0].detached() * Float(2) }
      }
    }

    @Test func gradientCheckPassesARightGradient() {
      let x = TestData.uniform([3, 4], seed: 3)
      let report = checkGradients([x]) { t in t[0] * t[0] * t[0] }
      #expect(report.passed && report.checked == 12 && report.skipped == 0)
      #expect(report.largestError < 1e-3)
    }

    /// Kinks inside ±ε are skipped, not failed, when asked; too many skips are reported.
    @Test func gradientCheckSkipsKinks() {
      let x = Tensor(shape: [4], values: [-0.5, -0.001, 0.002, 0.7])
      let report = checkGradients([x], skipNonSmooth: true, maxSkippedFraction: 0.5) { t in
        t[0].relu()
      }
      #expect(report.skipped == 2 && report.checked == 2 && report.passed)
      withKnownIssue {
        checkGradients([x], skipNonSmooth: true, maxSkippedFraction: 0.1) { t in t[0].relu() }
      }
    }

    @Test func sampledElements() {
      let x = TestData.uniform([1000], seed: 4)
      let report = checkGradients([x], maxElementsPerInput: 10) { t in t[0] * Float(3) }
      #expect(report.checked == 10)
    }

    @Test func assertCloseRecordsMismatches() {
      #expect(assertClose([1, 2, 3] as [Float], [1, 2, 3.000001], relativeTolerance: 1e-5))
      withKnownIssue { assertClose([1, 2, 3] as [Float], [1, 2.1, 3]) }
      withKnownIssue { assertClose([1, 2] as [Float], [1, 2, 3]) }
      withKnownIssue { assertClose([.nan] as [Float], [.nan]) }
      withKnownIssue { assertClose(Tensor(zeros: [2, 2]), shape: [4], [0, 0, 0, 0]) }
      #expect(isClose(.infinity, .infinity, relativeTolerance: 0, absoluteTolerance: 0))
    }

    @Test func separatedValuesAreDistinctAndAwayFromZero() {
      let v = TestData.separated([4, 50], spacing: 0.05, seed: 5).values.sorted()
      #expect(v.allSatisfy { abs($0) >= 0.025 - 1e-6 })
      #expect(zip(v, v.dropFirst()).allSatisfy { abs(($1 - $0) - 0.05) < 1e-4 })
    }

    /// The reference implementations against hand-computed values.
    @Test func referenceValues() {
      // 2×2 input, 2×2 kernel of ones, padding 1: every output sums the overlapping inputs.
      let conv = Reference.conv2d(
        input: [1, 2, 3, 4], [1, 1, 2, 2], weight: [1, 1, 1, 1], [1, 1, 2, 2], bias: [0.5],
        stride: 1, padding: 1)
      #expect(conv.shape == [1, 1, 3, 3])
      #expect(conv.values == [1.5, 3.5, 2.5, 4.5, 10.5, 6.5, 3.5, 7.5, 4.5])
      let average = Reference.pool2d(
        .average, input: [1, 2, 3, 4], [1, 1, 2, 2], kernel: 2, stride: 1, padding: 1)
      #expect(average.values[0] == 0.25 && average.values[4] == 2.5)
      let ce = Reference.crossEntropy([0, 0], rows: 1, classes: 2, labels: [1])
      #expect(abs(ce - 0.693147180559945) < 1e-12)
    }
  }
}
