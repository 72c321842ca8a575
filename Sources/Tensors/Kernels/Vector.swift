/// Tight loops over float buffers, written so the compiler vectorizes them (no bounds checks
/// in release builds, no per-element calls or allocation).
public enum Vector {
  @inlinable
  public static func add(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    for i in 0..<count { c[i] = a[i] + b[i] }
  }

  @inlinable
  public static func subtract(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    for i in 0..<count { c[i] = a[i] - b[i] }
  }

  @inlinable
  public static func multiply(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    for i in 0..<count { c[i] = a[i] * b[i] }
  }

  @inlinable
  public static func scale(
    _ a: UnsafePointer<Float>, by s: Float, into c: UnsafeMutablePointer<Float>, count: Int
  ) {
    for i in 0..<count { c[i] = a[i] * s }
  }

  /// y += alpha * x
  @inlinable
  public static func axpy(
    _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int
  ) {
    for i in 0..<count { y[i] += alpha * x[i] }
  }

  /// Sum of `count` floats: eight float32 lanes accumulate blocks of 4,096 values (512 per
  /// lane), and the blocks are added in double precision. Vectorizes; accurate to about 1e-6
  /// relative for typical data, though a huge value followed by many small ones loses them.
  @inlinable
  public static func sum(_ a: UnsafePointer<Float>, count: Int) -> Double {
    var total: Double = 0
    var start = 0
    while start < count {
      let end = min(start + 4096, count)
      var partial = SIMD8<Float>()
      var i = start
      while i + 8 <= end {
        partial += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
      }
      var s = Double(partial.sum())
      while i < end {
        s += Double(a[i])
        i += 1
      }
      total += s
      start = end
    }
    return total
  }

  @inlinable
  public static func relu(
    _ a: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, count: Int
  ) {
    for i in 0..<count { c[i] = max(a[i], 0) }
  }

  /// c = g where x > 0, else 0.
  @inlinable
  public static func reluBackward(
    _ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    for i in 0..<count { c[i] = x[i] > 0 ? g[i] : 0 }
  }
}
