import Tensors
import TestSupport
import Testing

/// One pooling configuration.
struct PoolingCase: Sendable, CustomTestStringConvertible {
  var kind: Reference.Pooling
  var channels: Int
  var kernel: Int, stride: Int, padding: Int
  var height = 6, width = 6

  var shape: [Int] { [2, channels, height, width] }
  var seed: UInt64 { UInt64(channels * 100 + kernel * 10 + stride * 3 + padding) }
  var testDescription: String {
    "\(kind) \(shape) kernel \(kernel) stride \(stride) padding \(padding)"
  }

  func apply(_ x: Tensor) -> Tensor {
    switch kind {
    case .max: x.maxPool2d(kernelSize: kernel, stride: stride, padding: padding)
    case .average: x.avgPool2d(kernelSize: kernel, stride: stride, padding: padding)
    }
  }

  static let all: [PoolingCase] = {
    var cases: [PoolingCase] = []
    let windows = [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0), (3, 3, 0)]
    for kind in [Reference.Pooling.max, .average] {
      for channels in [1, 3, 8, 12, 16] {
        for (k, s, p) in windows {
          cases.append(
            PoolingCase(kind: kind, channels: channels, kernel: k, stride: s, padding: p))
        }
      }
    }
    // Odd sizes, where the last window does not reach the edge.
    cases.append(
      PoolingCase(kind: .max, channels: 3, kernel: 2, stride: 2, padding: 0, height: 7, width: 5))
    cases.append(
      PoolingCase(
        kind: .average, channels: 3, kernel: 2, stride: 2, padding: 0, height: 7, width: 5))
    return cases
  }()
}

extension EngineTests {
  @Suite(.serialized) struct Pooling {
    /// Forward values against direct loops (PyTorch's `max_pool2d`, and `avg_pool2d` with
    /// `count_include_pad=True`), on row-major and on blocked inputs.
    @Test(arguments: PoolingCase.all, TestLayout.allCases)
    func matchesDirectLoops(_ c: PoolingCase, layout: TestLayout) {
      let x = TestData.uniform(c.shape, seed: c.seed)
      let input = laidOut(x, layout)
      let y = c.apply(input)
      let expected = Reference.pool2d(
        c.kind, input: x.values, c.shape, kernel: c.kernel, stride: c.stride, padding: c.padding)
      #expect(y.shape == expected.shape)
      assertClose(doubles(y), expected.values, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
    }

    /// Gradients against finite differences; inputs are distinct values 0.05 apart, so no
    /// window's maximum changes within the perturbation.
    @Test(arguments: PoolingCase.all, TestLayout.allCases)
    func gradientsMatchFiniteDifferences(_ c: PoolingCase, layout: TestLayout) {
      let x = TestData.separated(c.shape, spacing: 0.05, seed: c.seed)
      checkGradients([x], epsilon: 1e-2) { t in
        c.apply(laidOut(t[0], layout))
      }
    }

    @Test(arguments: [1, 3, 8, 12, 16], TestLayout.allCases)
    func globalAveragePooling(channels: Int, layout: TestLayout) {
      let shape = [3, channels, 4, 4]
      let x = TestData.uniform(shape, seed: UInt64(channels))
      let y = laidOut(x, layout).globalAvgPool()
      let v = x.values
      let expected = (0..<(3 * channels)).map { plane in
        (0..<16).map { Double(v[plane * 16 + $0]) }.reduce(0, +) / 16
      }
      #expect(y.shape == [3, channels])
      assertClose(doubles(y), expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
      checkGradients([x]) { t in
        laidOut(t[0], layout).globalAvgPool()
      }
    }

    /// With ties, the whole gradient goes to the first maximum in row-major window order,
    /// as PyTorch's `max_pool2d` does (its index is that of the first maximum).
    @Test(arguments: TestLayout.allCases)
    func maxPoolingTiesGoToTheFirstMaximum(layout: TestLayout) {
      var values = [Float](repeating: 0, count: 8 * 16)
      for c in 0..<8 {
        values.replaceSubrange(
          c * 16..<(c + 1) * 16,
          with: [
            2, 2, 1, 3,
            2, 1, 3, 3,
            -1, 0, 4, 0,
            5, -1, 4, 4,
          ])
      }
      let x = Tensor(shape: [1, 8, 4, 4], values: values, requiresGrad: true)
      let y = laidOut(x, layout).maxPool2d(kernelSize: 2)
      y.sum().backward()
      let expected: [Float] = [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]
      #expect(x.grad!.values == Array((0..<8).map { _ in expected }.joined()))
    }

    /// Max pooling's gradient goes to the maximum of each window and nowhere else.
    @Test func maxPoolingRoutesGradientToTheMaximum() {
      let x = Tensor(
        shape: [1, 1, 2, 4], values: [1, 5, -2, -1, 3, 2, -3, -4], requiresGrad: true)
      let y = x.maxPool2d(kernelSize: 2)
      #expect(y.values == [5, -1])
      y.sum().backward()
      #expect(x.grad!.values == [0, 1, 0, 1, 0, 0, 0, 0])
    }
  }
}
