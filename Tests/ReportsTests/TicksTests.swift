import Foundation
import Testing

@testable import Reports

/// Element-wise comparison with a relative tolerance, printing both arrays on failure.
func expectClose(
  _ actual: [Double], _ expected: [Double], tolerance: Double = 1e-9,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  let close =
    actual.count == expected.count
    && zip(actual, expected).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
  #expect(close, "got \(actual), expected \(expected)", sourceLocation: sourceLocation)
}

@Suite struct NiceStepTests {
  // Steps of 1, 2 or 5 × 10^k: the smallest that cuts the span into at most `target` pieces.
  @Test(arguments: [
    (0.1, 5, 0.02), (0.1, 6, 0.02), (0.1, 10, 0.01), (1000.0, 5, 200.0), (1000.0, 8, 200.0),
    (7.0, 5, 2.0), (0.37, 4, 0.1), (3e-5, 3, 1e-5), (1.0, 3, 0.5), (45.0, 10, 5.0),
  ])
  func step(span: Double, target: Int, expected: Double) {
    let step = Ticks.niceStep(span: span, targetCount: target)
    #expect(abs(step - expected) <= 1e-12 * expected, "span \(span) target \(target): \(step)")
  }
}

@Suite struct LinearTickTests {
  @Test func zeroToOneTenth() {
    let ticks = Ticks.linear(in: 0...0.1, targetCount: 5)
    #expect(ticks == [0, 0.02, 0.04, 0.06, 0.08, 0.1])  // exact: binary noise is snapped away
    let labels = Ticks.linearLabels(ticks, step: 0.02).map(\.plainText)
    #expect(labels == ["0.00", "0.02", "0.04", "0.06", "0.08", "0.10"])
  }

  @Test func stepsToThousand() {
    #expect(Ticks.linear(in: 0...1000, targetCount: 5) == [0, 200, 400, 600, 800, 1000])
    #expect(
      Ticks.linearLabels([0, 200, 400], step: 200).map(\.plainText) == ["0", "200", "400"])
  }

  @Test func rangeNotOnTheGrid() {
    // 0.013…0.087 with step 0.02: the ticks are the multiples inside.
    expectClose(Ticks.linear(in: 0.013...0.087, targetCount: 4), [0.02, 0.04, 0.06, 0.08])
  }

  @Test func negativeRangeAndMomentum() {
    expectClose(Ticks.linear(in: -1...1, targetCount: 4), [-1, -0.5, 0, 0.5, 1])
    expectClose(
      Ticks.linear(in: 0.84...0.96, targetCount: 6), [0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.96])
  }

  @Test func niceDomainWidensToTicks() {
    #expect(Ticks.niceDomain(0.0031, 0.0968, targetCount: 5) == 0...0.1)
    #expect(Ticks.niceDomain(0, 2345, targetCount: 8) == 0...2500)
    let single = Ticks.niceDomain(3, 3, targetCount: 5)
    #expect(single.lowerBound < 3 && single.upperBound > 3)
  }

  @Test func tinyAndHugeValuesUseScientificLabels() {
    let small = Ticks.linear(in: 0...4e-5, targetCount: 4)
    #expect(
      Ticks.linearLabels(small, step: 1e-5).map(\.plainText) == [
        "0", "1e-5", "2e-5", "3e-5", "4e-5",
      ])
    let large = Ticks.linearLabels([0, 5e5, 1e6], step: 5e5).map(\.plainText)
    #expect(large == ["0", "5e5", "1e6"])
  }
}

@Suite struct LogTickTests {
  @Test func decadesFromTenToTheMinusSevenToTen() {
    let (major, minor) = Ticks.log(in: 1e-7...10, maxCount: 10)
    expectClose(major, [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10])
    let labels = Ticks.logLabels(major, style: .power)
    #expect(labels.map(\.exponent) == [-7, -6, -5, -4, -3, -2, -1, 0, 1])
    #expect(labels.first?.plainText == "10⁻⁷")
    #expect(
      Ticks.logLabels(major, style: .exponent).map(\.plainText).prefix(3) == [
        "1e-7", "1e-6", "1e-5",
      ])
    // Nine decades: no 2…9 minor lines (they would crowd the grid).
    #expect(minor.isEmpty)
  }

  @Test func fewDecadesGetMinorTicks() {
    let (major, minor) = Ticks.log(in: 1e-3...1, maxCount: 10)
    expectClose(major, [1e-3, 1e-2, 1e-1, 1])
    #expect(minor.count == 3 * 8)
    #expect(minor.contains { abs($0 - 2e-3) < 1e-12 } && minor.contains { abs($0 - 0.9) < 1e-12 })
  }

  @Test func manyDecadesAreThinned() {
    let (major, minor) = Ticks.log(in: 1e-12...1e12, maxCount: 8)
    #expect(major.count <= 8 && major.count >= 2)
    expectClose(major, [1e-12, 1e-8, 1e-4, 1, 1e4, 1e8, 1e12])
    #expect(minor.count == 25 - 7)  // the skipped decades
  }

  @Test func shortRangeUsesMantissas() {
    // Under two decades: 1-2-5 if that gives three ticks, else 1…9 if they fit, else 1-2-5.
    expectClose(Ticks.log(in: 0.08...0.9, maxCount: 8).major, [0.1, 0.2, 0.5])
    expectClose(
      Ticks.log(in: 0.15...0.9, maxCount: 8).major, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    expectClose(Ticks.log(in: 0.15...0.9, maxCount: 4).major, [0.2, 0.5])
    #expect(Ticks.logLabels([0.2, 0.5], style: .power).map(\.plainText) == ["0.2", "0.5"])
  }
}
