extension Tensor {
  /// Matrix product of [M, K] and [K, N].
  public func matmul(_ other: Tensor) -> Tensor {
    precondition(
      shape.count == 2 && other.shape.count == 2 && shape[1] == other.shape[0],
      "matmul of \(shape) and \(other.shape)")
    let a = plain()
    let b = other.plain()
    let (m, k, n) = (shape[0], shape[1], other.shape[1])
    let out = Tensor(shape: [m, n], storage: Storage(count: m * n))
    GEMM.multiply(
      transposeA: false, transposeB: false, m: m, n: n, k: k,
      a.storage.pointer, lda: k, b.storage.pointer, ldb: n, out.storage.pointer, ldc: n)
    if needsGradient(a, b) {
      out.record([a, b]) { g in
        let g = g.plain()
        var ga: Tensor?
        var gb: Tensor?
        if a.requiresGrad {  // dA = dC · Bᵀ
          let t = Tensor(shape: [m, k], storage: Storage(count: m * k))
          GEMM.multiply(
            transposeA: false, transposeB: true, m: m, n: k, k: n,
            g.storage.pointer, lda: n, b.storage.pointer, ldb: n, t.storage.pointer, ldc: k)
          ga = t
        }
        if b.requiresGrad {  // dB = Aᵀ · dC
          let t = Tensor(shape: [k, n], storage: Storage(count: k * n))
          GEMM.multiply(
            transposeA: true, transposeB: false, m: k, n: n, k: m,
            a.storage.pointer, lda: k, g.storage.pointer, ldb: n, t.storage.pointer, ldc: n)
          gb = t
        }
        return [ga, gb]
      }
    }
    return out
  }

  /// A fully connected layer as PyTorch's `linear`: x·Wᵀ + b for x [N, in], W [out, in],
  /// b [out]. One GEMM forward (the bias pre-filled into the output), two backward.
  public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(
      shape.count == 2 && weight.shape.count == 2 && weight.shape[1] == shape[1],
      "linear input \(shape) does not fit weights \(weight.shape)")
    let x = plain()
    let w = weight.plain()
    let (n, i, o) = (shape[0], shape[1], weight.shape[0])
    let out = Tensor(shape: [n, o], storage: Storage(count: n * o))
    let y = out.storage.pointer
    if let bias {
      let b = bias.plain().storage.pointer
      for r in 0..<n { (y + r * o).update(from: b, count: o) }
    }
    GEMM.multiply(
      transposeA: false, transposeB: true, m: n, n: o, k: i,
      x.storage.pointer, lda: i, w.storage.pointer, ldb: i, beta: bias == nil ? 0 : 1, y, ldc: o)
    let inputs = [x, w] + (bias.map { [$0] } ?? [])
    if needsGradient(x, w) || (bias.map { needsGradient($0) } ?? false) {
      out.record(inputs) { g in
        let g = g.plain()
        let gp = g.storage.pointer
        var gx: Tensor?
        if x.requiresGrad {  // dX = dY · W
          let t = Tensor(shape: [n, i], storage: Storage(count: n * i))
          GEMM.multiply(
            transposeA: false, transposeB: false, m: n, n: i, k: o,
            gp, lda: o, w.storage.pointer, ldb: i, t.storage.pointer, ldc: i)
          gx = t
        }
        // dW = dYᵀ · X
        let gw = Tensor(shape: [o, i], storage: Storage(count: o * i))
        GEMM.multiply(
          transposeA: true, transposeB: false, m: o, n: i, k: n,
          gp, lda: o, x.storage.pointer, ldb: i, gw.storage.pointer, ldc: i)
        guard bias != nil else { return [gx, gw] }
        let gb = Tensor(zeros: [o])
        let bp = gb.storage.pointer
        for r in 0..<n { for c in 0..<o { bp[c] += gp[r * o + c] } }
        return [gx, gw, gb]
      }
    }
    return out
  }
}
