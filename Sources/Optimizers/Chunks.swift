/// The optimizers' element loops, written over eight floats at a time so they compile to
/// vector instructions however the compiler is configured (no reliance on auto-vectorization,
/// no allocation). Each lane does exactly the float operations of the scalar formula, so the
/// results do not depend on where an element falls.
typealias Chunk = SIMD8<Float>

#if arch(x86_64)
  import _Builtin_intrinsics.intel
#endif

extension SIMD8<Float> {
  /// The lane-wise square root, correctly rounded as `Float.squareRoot()`, in vector
  /// instructions. (On Linux `squareRoot()` goes through `sqrtf` lane by lane to keep `errno`,
  /// which stops vectorization; SSE's `sqrtps` gives the same bits.)
  @inline(__always)
  var vectorSquareRoot: Self {
    #if arch(x86_64)
      Self(lowHalf: _mm_sqrt_ps(lowHalf), highHalf: _mm_sqrt_ps(highHalf))
    #else
      squareRoot()
    #endif
  }
}

/// Calls `body(start, width)` for consecutive chunks of `count` elements: full chunks of 8,
/// then one partial chunk if `count` is not a multiple of 8.
@inline(__always)
func forEachChunk(of count: Int, _ body: (_ start: Int, _ width: Int) -> Void) {
  var start = 0
  while start + Chunk.scalarCount <= count {
    body(start, Chunk.scalarCount)
    start += Chunk.scalarCount
  }
  if start < count { body(start, count - start) }
}

extension UnsafePointer<Float> {
  /// `width` floats from `start` (zeros in the lanes beyond `width`).
  @inline(__always)
  func chunk(at start: Int, width: Int) -> Chunk {
    if width == Chunk.scalarCount {
      return UnsafeRawPointer(self + start).loadUnaligned(as: Chunk.self)
    }
    var result = Chunk()
    for lane in 0..<width { result[lane] = self[start + lane] }
    return result
  }
}

extension UnsafeMutablePointer<Float> {
  /// `width` floats from `start` (zeros in the lanes beyond `width`).
  @inline(__always)
  func chunk(at start: Int, width: Int) -> Chunk {
    UnsafePointer(self).chunk(at: start, width: width)
  }

  /// Writes the first `width` lanes of `value` from `start`.
  @inline(__always)
  func store(_ value: Chunk, at start: Int, width: Int) {
    if width == Chunk.scalarCount {
      UnsafeMutableRawPointer(self + start).storeBytes(of: value, as: Chunk.self)
    } else {
      for lane in 0..<width { self[start + lane] = value[lane] }
    }
  }
}
