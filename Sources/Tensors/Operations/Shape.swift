extension Tensor {
  /// The same values with another shape of equal element count (row-major order; a blocked
  /// tensor is reordered first). Shares storage with `self` when already row-major.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var newShape = newShape
    if let i = newShape.firstIndex(of: -1) {
      newShape[i] =
        count / newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
    }
    precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
    let source = plain()
    let out = Tensor(shape: newShape, storage: source.storage)
    if needsGradient(source) {
      let oldShape = source.shape
      out.record([source]) { g in [Tensor(shape: oldShape, storage: g.plain().storage)] }
    }
    return out
  }

  /// [N, ...] → [N, product of the rest], as `nn.Flatten`.
  public func flattened() -> Tensor { reshaped([shape[0], count / shape[0]]) }
}
