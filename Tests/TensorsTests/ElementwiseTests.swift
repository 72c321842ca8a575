import Randomness
import Tensors
import TestSupport
import Testing

enum BinaryOperator: String, Sendable, CaseIterable {
  case add = "+"
  case subtract = "-"
  case multiply = "*"

  func callAsFunction(_ a: Tensor, _ b: Tensor) -> Tensor {
    switch self {
    case .add: a + b
    case .subtract: a - b
    case .multiply: a * b
    }
  }

  func callAsFunction(_ a: Double, _ b: Double) -> Double {
    switch self {
    case .add: a + b
    case .subtract: a - b
    case .multiply: a * b
    }
  }
}

/// Operand shapes and layouts for a binary operation.
struct BinaryCase: Sendable, CustomTestStringConvertible {
  var left: [Int], right: [Int]
  var leftBlocked = false, rightBlocked = false

  var testDescription: String {
    "\(left)\(leftBlocked ? " blocked" : "") with \(right)\(rightBlocked ? " blocked" : "")"
  }

  /// Expected a ∘ b with b broadcast as the engine documents: same shape, [C] against
  /// axis 1, or a single value.
  func expected(_ a: [Float], _ b: [Float], _ op: BinaryOperator) -> [Double] {
    let inner = left.dropFirst(2).reduce(1, *)
    return a.indices.map { i in
      let j = right == left ? i : (right.reduce(1, *) == 1 ? 0 : (i / inner) % right[0])
      return op(Double(a[i]), Double(b[j]))
    }
  }

  static let all: [BinaryCase] = [
    BinaryCase(left: [2, 3, 4, 4], right: [2, 3, 4, 4]),
    BinaryCase(left: [3, 5], right: [3, 5]),
    BinaryCase(left: [7], right: [7]),
    BinaryCase(left: [2, 3, 4, 4], right: [3]),
    BinaryCase(left: [4, 5], right: [5]),
    BinaryCase(left: [2, 3, 5], right: [3]),
    BinaryCase(left: [2, 3, 4, 4], right: [1]),
    BinaryCase(left: [3, 5], right: [1]),
    BinaryCase(left: [2, 8, 3, 3], right: [2, 8, 3, 3], leftBlocked: true),
    BinaryCase(left: [2, 8, 3, 3], right: [2, 8, 3, 3], rightBlocked: true),
    BinaryCase(left: [2, 16, 3, 3], right: [2, 16, 3, 3], leftBlocked: true, rightBlocked: true),
    BinaryCase(left: [2, 12, 3, 3], right: [2, 12, 3, 3], leftBlocked: true),
    BinaryCase(left: [2, 12, 3, 3], right: [2, 12, 3, 3], leftBlocked: true, rightBlocked: true),
    BinaryCase(left: [2, 8, 3, 3], right: [8], leftBlocked: true),
    BinaryCase(left: [2, 12, 3, 3], right: [12], leftBlocked: true),
    BinaryCase(left: [2, 8, 3, 3], right: [1], leftBlocked: true),
  ]
}

extension EngineTests {
  @Suite(.serialized) struct Elementwise {
    @Test(arguments: BinaryOperator.allCases, BinaryCase.all)
    func binaryValues(_ op: BinaryOperator, _ c: BinaryCase) {
      let a = TestData.uniform(c.left, seed: 1)
      let b = TestData.uniform(c.right, seed: 2)
      let y = op(c.leftBlocked ? blockedCopy(a) : a, c.rightBlocked ? blockedCopy(b) : b)
      #expect(y.shape == c.left)
      assertClose(doubles(y), c.expected(a.values, b.values, op), relativeTolerance: 1e-6)
    }

    @Test(arguments: BinaryOperator.allCases, BinaryCase.all)
    func binaryGradients(_ op: BinaryOperator, _ c: BinaryCase) {
      let a = TestData.uniform(c.left, seed: 3)
      let b = TestData.uniform(c.right, seed: 4)
      checkGradients([a, b]) { t in
        op(c.leftBlocked ? blockedCopy(t[0]) : t[0], c.rightBlocked ? blockedCopy(t[1]) : t[1])
      }
    }

    /// Only one operand needs a gradient: the other gets none, the first the right one.
    @Test(arguments: BinaryOperator.allCases, [false, true])
    func gradientForOneOperand(_ op: BinaryOperator, rightOnly: Bool) {
      let a = TestData.uniform([2, 3, 2, 2], seed: 5)
      let b = TestData.uniform([3], seed: 6)
      let (wanted, constant) = rightOnly ? (b, a) : (a, b)
      wanted.requiresGrad = true
      op(a, b).sum().backward()
      #expect(constant.grad == nil)
      let expected: [Double]
      switch (op, rightOnly) {
      case (.add, false), (.subtract, false): expected = Array(repeating: 1, count: a.count)
      case (.multiply, false): expected = (0..<a.count).map { Double(b.values[($0 / 4) % 3]) }
      case (.add, true): expected = Array(repeating: 8, count: 3)
      case (.subtract, true): expected = Array(repeating: -8, count: 3)
      case (.multiply, true):
        let av = a.values
        var sums = [Double](repeating: 0, count: 3)
        for i in av.indices { sums[(i / 4) % 3] += Double(av[i]) }
        expected = sums
      }
      assertClose(doubles(wanted.grad!), expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-6)
    }

    @Test(arguments: [[3, 4], [2, 8, 3, 3], [2, 12, 2, 2]], TestLayout.allCases)
    func scaledByConstant(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let x = TestData.uniform(shape, seed: 7)
      let y = laidOut(x, layout) * Float(-2.5)
      assertClose(doubles(y), x.values.map { Double($0) * -2.5 }, relativeTolerance: 1e-6)
      checkGradients([x]) { t in laidOut(t[0], layout) * 1.5 }
    }

    @Test(arguments: [[3, 4], [2, 3, 3, 3], [2, 8, 3, 3], [2, 12, 2, 2]], TestLayout.allCases)
    func relu(shape: [Int], layout: TestLayout) {
      if layout != .plain && shape.count != 4 { return }
      let x = TestData.separated(shape, spacing: 0.05, seed: 8)
      let y = laidOut(x, layout).relu()
      #expect(y.values == x.values.map { max($0, 0) })
      checkGradients([x]) { t in laidOut(t[0], layout).relu() }
    }

    /// Inverted dropout: each output is 0 or x/(1 − p); the gradient of the sum is the mask
    /// scale (0 or 1/(1 − p)); the mask depends only on the seed; about p of the elements drop.
    @Test(arguments: [Float(0.1), 0.3, 0.5, 0.9], TestLayout.allCases)
    func dropout(probability p: Float, layout: TestLayout) {
      let shape = [4, 8, 6, 6]
      let x = TestData.separated(shape, spacing: 0.01, seed: 9)
      x.requiresGrad = true
      var generator = SeededGenerator(seed: 42)
      let y = laidOut(x, layout).dropout(probability: p, using: &generator)
      y.sum().backward()
      let keep = 1 / (1 - p)
      let xs = x.values
      let ys = y.values
      let gs = x.grad!.values
      var dropped = 0
      var wrong: [Int] = []
      for i in xs.indices {
        if ys[i] == 0 {
          dropped += 1
          if gs[i] != 0 { wrong.append(i) }
        } else {
          let scaled: Float = xs[i] * keep
          if ys[i] != scaled || gs[i] != keep { wrong.append(i) }
        }
      }
      #expect(wrong.isEmpty, "mask and gradient disagree at \(wrong.prefix(5))")
      let fraction = Double(dropped) / Double(xs.count)
      #expect(abs(fraction - Double(p)) < 0.05, "dropped \(fraction), expected about \(p)")

      var again = SeededGenerator(seed: 42)
      let repeated = withoutGradients {
        laidOut(x, layout).dropout(probability: p, using: &again)
      }
      #expect(repeated.values == ys, "the same seed gives the same mask")
      var other = SeededGenerator(seed: 43)
      let different = withoutGradients {
        laidOut(x, layout).dropout(probability: p, using: &other)
      }
      #expect(different.values != ys, "another seed gives another mask")

      let small = TestData.separated([2, 8, 2, 2], spacing: 0.05, seed: 10)
      checkGradients([small]) { t in
        var generator = SeededGenerator(seed: 7)
        return laidOut(t[0], layout).dropout(probability: p, using: &generator)
      }
    }

    /// The mask is drawn in row-major element order whatever the memory layout, so a seed
    /// gives the same mask (and the same training run) on machines where oneDNN picks
    /// different blocked layouts (nChw8c with AVX2, nChw16c with AVX-512, padded channels).
    @Test(arguments: [8, 12, 16])
    func dropoutMaskDoesNotDependOnLayout(channels: Int) {
      let x = TestData.separated([2, channels, 3, 3], spacing: 0.01, seed: 12)
      var first = SeededGenerator(seed: 3)
      var second = SeededGenerator(seed: 3)
      let plain = x.dropout(probability: 0.5, using: &first)
      let blocked = blockedCopy(x).dropout(probability: 0.5, using: &second)
      let (p, q) = (plain.values, blocked.values)
      let differing = p.indices.filter { p[$0] != q[$0] }
      let identical = differing.isEmpty
      #expect(identical, "masks differ at \(differing.count) of \(p.count) elements")
      #expect(first == second, "both draw one number per element")
    }

    @Test func dropoutWithZeroProbabilityIsIdentity() {
      let x = TestData.uniform([3, 4], seed: 11)
      var generator = SeededGenerator(seed: 1)
      let before = generator
      #expect(x.dropout(probability: 0, using: &generator).values == x.values)
      #expect(generator == before)
    }
  }
}
