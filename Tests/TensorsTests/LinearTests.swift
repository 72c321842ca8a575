import Tensors
import TestSupport
import Testing

extension EngineTests {
  @Suite(.serialized) struct Linear {
    static let matmulShapes: [(m: Int, k: Int, n: Int)] = [
      (1, 1, 1), (2, 3, 4), (1, 7, 1), (5, 1, 3), (16, 33, 9), (64, 70, 65),
    ]

    @Test(arguments: matmulShapes)
    func matmulMatchesDirectProduct(m: Int, k: Int, n: Int) {
      let a = TestData.uniform([m, k], seed: 1)
      let b = TestData.uniform([k, n], seed: 2)
      let c = a.matmul(b)
      #expect(c.shape == [m, n])
      assertClose(
        doubles(c), Reference.matmul(a.values, b.values, m: m, k: k, n: n),
        relativeTolerance: 1e-5, absoluteTolerance: 1e-5)
    }

    @Test(arguments: matmulShapes.prefix(5))
    func matmulGradients(m: Int, k: Int, n: Int) {
      let a = TestData.uniform([m, k], seed: 3)
      let b = TestData.uniform([k, n], seed: 4)
      checkGradients([a, b], maxElementsPerInput: 300) { t in t[0].matmul(t[1]) }
    }

    static let linearShapes: [(batch: Int, inputs: Int, outputs: Int)] = [
      (1, 1, 1), (4, 3, 2), (8, 20, 10), (3, 64, 17),
    ]

    @Test(arguments: linearShapes, [false, true])
    func linearMatchesDirectProduct(shape: (batch: Int, inputs: Int, outputs: Int), bias: Bool) {
      let (n, i, o) = shape
      let x = TestData.uniform([n, i], seed: 5)
      let w = TestData.uniform([o, i], seed: 6)
      let b = bias ? TestData.uniform([o], seed: 7) : nil
      let y = x.linear(weight: w, bias: b)
      #expect(y.shape == [n, o])
      assertClose(
        doubles(y),
        Reference.linear(
          x.values, weight: w.values, bias: b?.values, batch: n, inputs: i, outputs: o),
        relativeTolerance: 1e-5, absoluteTolerance: 1e-5)
    }

    @Test(arguments: linearShapes, [false, true])
    func linearGradients(shape: (batch: Int, inputs: Int, outputs: Int), bias: Bool) {
      let (n, i, o) = shape
      let x = TestData.uniform([n, i], seed: 8)
      let w = TestData.uniform([o, i], seed: 9)
      let b = TestData.uniform([o], seed: 10)
      checkGradients(bias ? [x, w, b] : [x, w], maxElementsPerInput: 300) { t in
        t[0].linear(weight: t[1], bias: bias ? t[2] : nil)
      }
    }

    /// Parameters only (the input is data): no input gradient, right parameter gradients.
    @Test func linearParameterGradientsOnly() {
      let x = TestData.uniform([4, 3], seed: 11)
      let w = TestData.uniform([2, 3], seed: 12)
      let b = TestData.uniform([2], seed: 13)
      w.requiresGrad = true
      b.requiresGrad = true
      x.linear(weight: w, bias: b).sum().backward()
      #expect(x.grad == nil)
      let columnSums = (0..<3).map { j in (0..<4).map { Double(x.values[$0 * 3 + j]) }.reduce(0, +)
      }
      assertClose(doubles(w.grad!), columnSums + columnSums, relativeTolerance: 1e-5)
      assertClose(doubles(b.grad!), [4, 4], relativeTolerance: 1e-6)
    }
  }

  /// Tests that switch `GEMM.backend` (process-wide), restoring it afterwards.
  @Suite(.serialized) struct GEMMBackends {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
      (1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 128, 96),
    ]

    /// C = α·op(A)·op(B) + β·C with every transpose combination, leading dimensions larger
    /// than the matrices, against the direct product, on both back ends.
    @Test(arguments: GEMM.Backend.allCases, shapes)
    func backendMatchesDirectProduct(_ backend: GEMM.Backend, shape: (m: Int, n: Int, k: Int)) {
      let saved = GEMM.backend
      defer { GEMM.backend = saved }
      GEMM.backend = backend
      let (m, n, k) = shape
      for transposeA in [false, true] {
        for transposeB in [false, true] {
          // Stored shapes of A and B, with 2 extra columns of padding in each row.
          let (ar, ac) = transposeA ? (k, m) : (m, k)
          let (br, bc) = transposeB ? (n, k) : (k, n)
          let lda = ac + 2
          let ldb = bc + 2
          let ldc = n + 2
          let a = TestData.uniform([ar * lda], seed: 1).values
          let b = TestData.uniform([br * ldb], seed: 2).values
          var c = TestData.uniform([m * ldc], seed: 3).values
          let initial = c
          let (alpha, beta): (Float, Float) = (1.5, 0.5)
          c.withUnsafeMutableBufferPointer { cp in
            GEMM.multiply(
              transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a,
              lda: lda, b, ldb: ldb, beta: beta, cp.baseAddress!, ldc: ldc)
          }
          var expected = initial.map(Double.init)
          for i in 0..<m {
            for j in 0..<n {
              var s = 0.0
              for l in 0..<k {
                let x = transposeA ? a[l * lda + i] : a[i * lda + l]
                let y = transposeB ? b[j * ldb + l] : b[l * ldb + j]
                s += Double(x) * Double(y)
              }
              expected[i * ldc + j] =
                Double(alpha) * s + Double(beta) * Double(initial[i * ldc + j])
            }
          }
          assertClose(
            c.map(Double.init), expected, relativeTolerance: 1e-5, absoluteTolerance: 1e-5,
            "\(backend) transposeA \(transposeA) transposeB \(transposeB)")
        }
      }
    }

    /// Both back ends give the same products (to float rounding) and gradients for
    /// `matmul` and `linear`.
    @Test(arguments: shapes)
    func backendsAgree(shape: (m: Int, n: Int, k: Int)) {
      let saved = GEMM.backend
      defer { GEMM.backend = saved }
      let (m, n, k) = shape
      let a = TestData.uniform([m, k], seed: 4)
      let b = TestData.uniform([k, n], seed: 5)
      let w = TestData.uniform([n, k], seed: 6)
      let bias = TestData.uniform([n], seed: 7)
      var results: [[[Float]]] = []
      for backend in GEMM.Backend.allCases {
        GEMM.backend = backend
        for t in [a, b, w, bias] {
          t.requiresGrad = true
          t.zeroGradient()
        }
        let product = a.matmul(b)
        let affine = a.linear(weight: w, bias: bias)
        (TestData.projection(product) + TestData.projection(affine)).backward()
        results.append(
          [product.values, affine.values] + [a, b, w, bias].map { $0.grad!.values })
      }
      for (index, name) in ["matmul", "linear", "dA", "dB", "dW", "dBias"].enumerated() {
        assertClose(
          results[1][index], results[0][index], relativeTolerance: 1e-5, absoluteTolerance: 1e-5,
          "openblas vs dnnl: \(name)")
      }
    }

    @Test func gradientsWithOpenBLAS() {
      let saved = GEMM.backend
      defer { GEMM.backend = saved }
      GEMM.backend = .openblas
      let x = TestData.uniform([5, 6], seed: 8)
      let w = TestData.uniform([4, 6], seed: 9)
      let b = TestData.uniform([4], seed: 10)
      let m = TestData.uniform([4, 3], seed: 11)
      checkGradients([x, w, b, m]) { t in
        t[0].linear(weight: t[1], bias: t[2]).matmul(t[3])
      }
    }
  }
}
