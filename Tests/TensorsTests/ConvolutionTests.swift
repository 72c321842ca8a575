import Tensors
import TestSupport
import Testing

/// One convolution configuration.
struct ConvolutionCase: Sendable, CustomTestStringConvertible {
  var batch = 2
  var inputChannels: Int
  var outputChannels: Int
  var height = 5, width = 5
  var kernelHeight = 3, kernelWidth = 3
  var stride: Int
  var padding: Int
  var bias: Bool

  var inputShape: [Int] { [batch, inputChannels, height, width] }
  var weightShape: [Int] { [outputChannels, inputChannels, kernelHeight, kernelWidth] }
  var seed: UInt64 {
    UInt64(inputChannels * 1000 + outputChannels * 10 + stride * 3 + padding + (bias ? 7 : 0))
  }

  var testDescription: String {
    "\(inputShape) * \(weightShape) stride \(stride) padding \(padding)\(bias ? " bias" : "")"
  }

  /// Channel pairs covering plain (1, 3), blocked (8, 16) and padded-blocked (12, 5) layouts,
  /// each with stride 1/2, padding 0/1, with and without bias.
  static let all: [ConvolutionCase] = {
    var cases: [ConvolutionCase] = []
    let channels = [(1, 1), (1, 3), (3, 8), (8, 8), (8, 16), (16, 8), (16, 16), (3, 12), (12, 5)]
    for (i, o) in channels {
      for stride in [1, 2] {
        for padding in [0, 1] {
          for bias in [false, true] {
            cases.append(
              ConvolutionCase(
                inputChannels: i, outputChannels: o, stride: stride, padding: padding, bias: bias))
          }
        }
      }
    }
    return cases
  }()

  /// Other geometries: non-square inputs and kernels, 1×1 and 5×5 kernels, larger padding.
  static let geometries: [ConvolutionCase] = [
    ConvolutionCase(
      batch: 3, inputChannels: 3, outputChannels: 4, height: 6, width: 7, kernelHeight: 2,
      kernelWidth: 3, stride: 1, padding: 1, bias: true),
    ConvolutionCase(
      batch: 1, inputChannels: 8, outputChannels: 8, height: 7, width: 6, kernelHeight: 1,
      kernelWidth: 1, stride: 1, padding: 0, bias: false),
    ConvolutionCase(
      batch: 2, inputChannels: 16, outputChannels: 16, height: 4, width: 4, kernelHeight: 1,
      kernelWidth: 1, stride: 2, padding: 0, bias: true),
    ConvolutionCase(
      batch: 2, inputChannels: 4, outputChannels: 8, height: 9, width: 9, kernelHeight: 5,
      kernelWidth: 5, stride: 2, padding: 2, bias: true),
    ConvolutionCase(
      batch: 1, inputChannels: 8, outputChannels: 16, height: 8, width: 8, kernelHeight: 3,
      kernelWidth: 3, stride: 1, padding: 2, bias: false),
    ConvolutionCase(
      batch: 5, inputChannels: 2, outputChannels: 3, height: 3, width: 3, kernelHeight: 3,
      kernelWidth: 3, stride: 1, padding: 0, bias: true),
    // A ResNet stem (7×7, stride 2, padding 3), a 1×1 stride-2 shortcut, and wider layers
    // where oneDNN picks other kernels.
    ConvolutionCase(
      batch: 2, inputChannels: 3, outputChannels: 16, height: 12, width: 12, kernelHeight: 7,
      kernelWidth: 7, stride: 2, padding: 3, bias: false),
    ConvolutionCase(
      batch: 2, inputChannels: 16, outputChannels: 32, height: 6, width: 6, kernelHeight: 1,
      kernelWidth: 1, stride: 2, padding: 0, bias: false),
    ConvolutionCase(
      batch: 2, inputChannels: 32, outputChannels: 64, height: 6, width: 6, kernelHeight: 3,
      kernelWidth: 3, stride: 1, padding: 1, bias: true),
    ConvolutionCase(
      batch: 3, inputChannels: 64, outputChannels: 24, height: 4, width: 4, kernelHeight: 3,
      kernelWidth: 3, stride: 2, padding: 1, bias: false),
  ]
}

extension EngineTests {
  @Suite(.serialized) struct Convolution {
    /// Forward values against the direct sum from the definition of `conv2d`.
    @Test(arguments: ConvolutionCase.all + ConvolutionCase.geometries)
    func matchesDirectLoops(_ c: ConvolutionCase) {
      let x = TestData.uniform(c.inputShape, seed: c.seed)
      let w = TestData.uniform(c.weightShape, low: -0.5, high: 0.5, seed: c.seed + 1)
      let b = c.bias ? TestData.uniform([c.outputChannels], seed: c.seed + 2) : nil
      let y = x.conv2d(weight: w, bias: b, stride: c.stride, padding: c.padding)
      let expected = Reference.conv2d(
        input: x.values, c.inputShape, weight: w.values, c.weightShape, bias: b?.values,
        stride: c.stride, padding: c.padding)
      #expect(y.shape == expected.shape)
      assertClose(doubles(y), expected.values, relativeTolerance: 1e-4, absoluteTolerance: 1e-5)
    }

    /// Gradients with respect to input, weights and bias against finite differences.
    @Test(arguments: ConvolutionCase.all + ConvolutionCase.geometries)
    func gradientsMatchFiniteDifferences(_ c: ConvolutionCase) {
      let x = TestData.uniform(c.inputShape, seed: c.seed)
      let w = TestData.uniform(c.weightShape, low: -0.5, high: 0.5, seed: c.seed + 1)
      let b = TestData.uniform([c.outputChannels], seed: c.seed + 2)
      let inputs = c.bias ? [x, w, b] : [x, w]
      checkGradients(inputs, maxElementsPerInput: 400) { t in
        let y = t[0].conv2d(
          weight: t[1], bias: c.bias ? t[2] : nil, stride: c.stride, padding: c.padding)
        return y
      }
    }

    /// Only the weights need gradients (a first layer): no input gradient is computed and the
    /// weight gradient is still right.
    @Test func weightGradientWithoutInputGradient() {
      let x = TestData.uniform([2, 3, 5, 5], seed: 1)
      let w = TestData.uniform([8, 3, 3, 3], seed: 2)
      let b = TestData.uniform([8], seed: 3)
      w.requiresGrad = true
      b.requiresGrad = true
      TestData.projection(x.conv2d(weight: w, bias: b, padding: 1)).backward()
      #expect(x.grad == nil)
      let gw = w.grad!.values
      let gb = b.grad!.values
      let check = TestData.uniform([8, 3, 3, 3], seed: 2)
      let checkBias = TestData.uniform([8], seed: 3)
      checkGradients([check, checkBias]) { t in
        x.conv2d(weight: t[0], bias: t[1], padding: 1)
      }
      assertClose(gw, check.grad!.values, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
      assertClose(gb, checkBias.grad!.values, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
    }

    /// The same convolution twice gives the same result (the cached primitive is reused).
    @Test func repeatedCallsAgree() {
      let x = TestData.uniform([2, 8, 6, 6], seed: 4)
      let w = TestData.uniform([16, 8, 3, 3], seed: 5)
      let first = x.conv2d(weight: w, padding: 1).values
      let second = x.conv2d(weight: w, padding: 1).values
      #expect(first == second)
    }

    /// A convolution fed a blocked activation (the output of another convolution) computes the
    /// same values and gradients as on the row-major copy of that activation.
    @Test(arguments: [(8, 8), (16, 8), (12, 16), (8, 3)])
    func blockedInput(channels: (Int, Int)) {
      let (c, o) = channels
      let x = TestData.uniform([2, c, 5, 5], seed: 6)
      let w = TestData.uniform([o, c, 3, 3], low: -0.5, high: 0.5, seed: 7)
      let blocked = blockedCopy(x)
      if expectsBlockedLayout(channels: c) { #expect(blocked.layout != nil) }
      let expected = Reference.conv2d(
        input: x.values, x.shape, weight: w.values, w.shape, bias: nil, stride: 1, padding: 1)
      assertClose(
        doubles(blocked.conv2d(weight: w, padding: 1)), expected.values, relativeTolerance: 1e-4,
        absoluteTolerance: 1e-5)
      checkGradients([x, w], maxElementsPerInput: 300) { t in
        blockedCopy(t[0]).conv2d(weight: t[1], padding: 1)
      }
    }
  }
}
