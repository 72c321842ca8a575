import Randomness
import Tensors

/// Seeded test tensors.
public enum TestData {
  /// Uniform values in [low, high).
  public static func uniform(
    _ shape: [Int], low: Float = -1, high: Float = 1, seed: UInt64
  ) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, using: &generator)
  }

  /// Distinct values `spacing` apart, shuffled, none closer than `spacing / 2` to zero: test
  /// points where ReLU has no kink and max pooling no ties within a perturbation of
  /// less than `spacing / 2`. The values lie in about ±count·spacing/2.
  public static func separated(_ shape: [Int], spacing: Float = 0.05, seed: UInt64) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    let n = shape.reduce(1, *)
    var values = (0..<n).map { (Float($0) - Float(n / 2) + 0.5) * spacing }
    values.shuffle(using: &generator)
    return Tensor(shape: shape, values: values)
  }

  /// The weighted sum Σ yᵢ·rᵢ with fixed random weights r in [-1, 1): a scalar loss whose
  /// gradient with respect to `y` is r, so that every element of `y` matters to a gradient
  /// check (a plain sum would hide errors that cancel, as batch normalization's do).
  public static func projection(_ y: Tensor, seed: UInt64 = 99) -> Tensor {
    (y * uniform(y.shape, seed: seed)).sum()
  }

  /// Fills and frees many blocks with NaN so that later uninitialized allocations of similar
  /// sizes likely start as NaN: an operation that reads memory it never wrote (such as the
  /// padding of a blocked layout) then shows up as NaN in its results.
  ///
  /// Between a forward and a backward pass this exposes a backward closure that reads
  /// storage nothing keeps alive (a use after free): its gradients turn NaN or change.
  public static func poisonFreedMemory(sizes: [Int] = Array(1...4096) + [6000, 8192, 12000, 16384])
  {
    var blocks: [Storage] = []
    for size in sizes {
      for _ in 0..<2 {
        let s = Storage(count: size)
        s.pointer.update(repeating: .nan, count: size)
        blocks.append(s)
      }
    }
    blocks.removeAll()
  }
}
