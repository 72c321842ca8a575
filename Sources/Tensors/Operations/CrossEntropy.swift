import Foundation

extension Tensor {
  /// Mean cross-entropy of [N, K] logits against class indices, as PyTorch's `cross_entropy`:
  /// a log-softmax (max-subtracted, so large logits do not overflow) fused with the negative
  /// log-likelihood. The backward pass is (softmax − one-hot) / N.
  public func crossEntropy(labels: [Int32]) -> Tensor {
    precondition(
      shape.count == 2 && labels.count == shape[0],
      "crossEntropy of logits \(shape) with \(labels.count) labels")
    let x = plain()
    let (n, k) = (shape[0], shape[1])
    let probabilities = Storage(count: n * k)
    let p = x.storage.pointer
    let q = probabilities.pointer
    var total: Double = 0
    for r in 0..<n {
      let row = p + r * k
      let out = q + r * k
      var m = -Float.infinity
      for j in 0..<k { m = max(m, row[j]) }
      var s: Float = 0
      for j in 0..<k {
        let e = expf(row[j] - m)
        out[j] = e
        s += e
      }
      let label = Int(labels[r])
      precondition(label >= 0 && label < k, "label \(label) outside 0..<\(k)")
      total += Double(logf(s) - (row[label] - m))
      let inv = 1 / s
      for j in 0..<k { out[j] *= inv }
    }
    let loss = Tensor(shape: [1], values: [Float(total / Double(n))])
    if needsGradient(x) {
      loss.record([x]) { g in
        let q = probabilities.pointer  // the closure keeps `probabilities` alive
        let scale = g.scalar / Float(n)
        let dx = Tensor(shape: [n, k], storage: Storage(count: n * k))
        let d = dx.storage.pointer
        for i in 0..<(n * k) { d[i] = q[i] * scale }
        for r in 0..<n { d[r * k + Int(labels[r])] -= scale }
        return [dx]
      }
    }
    return loss
  }

  /// The index of the largest value in each row of an [N, K] tensor.
  public func argmaxRows() -> [Int] {
    let x = plain()
    let (n, k) = (shape[0], shape[1])
    let p = x.storage.pointer
    return (0..<n).map { r in
      var best = 0
      for j in 1..<k where p[r * k + j] > p[r * k + best] { best = j }
      return best
    }
  }
}
