import Foundation

/// A fast, seeded pseudo-random generator (xoshiro256**), so that every initializer, shuffle,
/// dropout mask and augmentation in the project is reproducible from one `--seed`.
///
/// The state is expanded from the seed with SplitMix64, as the xoshiro authors recommend.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
  @usableFromInline var s0, s1, s2, s3: UInt64

  public init(seed: UInt64) {
    var x = seed
    func splitMix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix()
    s1 = splitMix()
    s2 = splitMix()
    s3 = splitMix()
  }

  @inlinable
  public mutating func next() -> UInt64 {
    let result = rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return result
  }

  @inlinable
  @usableFromInline func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

  /// A uniform value in [0, 1) with 24 bits of precision.
  @inlinable
  public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

  /// A uniform value in [0, 1) with 53 bits of precision.
  @inlinable
  public mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

  /// A standard normal value (Box–Muller).
  public mutating func nextNormal() -> Float {
    let u1 = max(nextUnitDouble(), 1e-300)
    let u2 = nextUnitDouble()
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
  }

  /// A generator for an independent stream derived from this one's seed and `stream`
  /// (for example one per epoch or per trial), without advancing this generator.
  public func derived(stream: UInt64) -> SeededGenerator {
    SeededGenerator(seed: s0 ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ s3)
  }
}
