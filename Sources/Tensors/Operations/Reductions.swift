extension Tensor {
  /// The sum of all elements, as a one-element tensor.
  public func sum() -> Tensor {
    let x = plain()
    let out = Tensor(shape: [1], values: [Float(Vector.sum(x.storage.pointer, count: count))])
    if needsGradient(x) {
      out.record([x]) { [shape] g in [Tensor(repeating: g.scalar, shape: shape)] }
    }
    return out
  }

  /// The mean of all elements, as a one-element tensor.
  public func mean() -> Tensor { sum() * (1 / Float(count)) }
}
