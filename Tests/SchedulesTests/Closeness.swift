import Foundation
import Testing

@testable import Schedules

/// The agreement the issue asks for: 1e-6 relative, or 1e-9 absolute for values near zero.
func isClose(_ actual: Double, _ expected: Double, relative: Double = 1e-6, absolute: Double = 1e-9)
  -> Bool
{
  let difference = abs(actual - expected)
  return difference <= absolute || difference <= relative * abs(expected)
}

/// Expects `actual` and `expected` to agree element by element, reporting the first few steps
/// that do not at the caller's location.
func expectClose(
  _ actual: [Double], _ expected: [Double], _ label: String = "",
  relative: Double = 1e-6, absolute: Double = 1e-9,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(
    actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)",
    sourceLocation: sourceLocation)
  var reported = 0
  for (step, (a, e)) in zip(actual, expected).enumerated()
  where !isClose(a, e, relative: relative, absolute: absolute) {
    Issue.record(
      "\(label) step \(step): got \(a), expected \(e)", sourceLocation: sourceLocation)
    reported += 1
    if reported == 5 { break }
  }
}

extension Schedule {
  /// The learning rates of steps 0 ..< totalSteps.
  var rates: [Double] { (0..<totalSteps).map { learningRate(at: $0) } }
  /// The momenta of steps 0 ..< totalSteps (NaN where the policy does not set momentum).
  var momenta: [Double] { (0..<totalSteps).map { momentum(at: $0) ?? .nan } }
}

/// SplitMix64: a small seeded generator so randomized tests are reproducible.
struct TestGenerator: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A value spread evenly in log space between `lower` and `upper`.
  mutating func logUniform(_ lower: Double, _ upper: Double) -> Double {
    exp(Double.random(in: log(lower)...log(upper), using: &self))
  }
}
