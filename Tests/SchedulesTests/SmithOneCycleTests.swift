import Testing

@testable import Schedules

/// Smith's 1cycle (arXiv:1803.09820, section 4.1; arXiv:1708.07120): expectations worked out
/// by hand from the definition — linear min → max → min over the cycle, then linear to
/// min / finalDivFactor over the last `annihilation` of the steps 0 … T − 1.
@Suite("Smith's 1cycle")
struct SmithOneCycleTests {
  /// T = 101 so the step axis 0 … 100 splits into 45 + 45 + 10 steps.
  @Test func valuesAtPhaseBoundaries() throws {
    let policy = OneCycle(variant: .smith, maxLearningRate: 1)
    #expect(policy.divFactor == 10 && policy.finalDivFactor == 1000)
    #expect(policy.annihilation == 0.1 && abs(policy.pctStart - 0.45) < 1e-15)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 101)
    let expectedRates: [Int: Double] = [
      0: 0.1, 20: 0.1 + 20.0 / 45 * 0.9, 45: 1, 60: 1 - 15.0 / 45 * 0.9, 90: 0.1,
      95: 0.1 + 0.5 * (1e-4 - 0.1), 100: 1e-4,
    ]
    for (step, rate) in expectedRates {
      #expect(isClose(schedule.learningRate(at: step), rate), "lr at step \(step)")
    }
    let expectedMomenta: [Int: Double] = [
      0: 0.95, 20: 0.95 - 20.0 / 45 * 0.1, 45: 0.85, 90: 0.95, 95: 0.95, 100: 0.95,
    ]
    for (step, momentum) in expectedMomenta {
      #expect(isClose(schedule.momentum(at: step) ?? .nan, momentum), "momentum at \(step)")
    }
  }

  @Test func annihilationCoversTheLastTenthOfTheSteps() throws {
    let policy = OneCycle(variant: .smith, maxLearningRate: 0.8)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 100)
    let minimum = 0.08
    let below = schedule.rates.filter { $0 < minimum * (1 - 1e-12) }
    #expect(below.count == 10)
    #expect(isClose(schedule.learningRate(at: 99), minimum / 1000))
    #expect(schedule.momenta.suffix(10).allSatisfy { $0 == 0.95 })
  }

  @Test func settableAnnihilationAndFactor() throws {
    let policy = OneCycle(
      variant: .smith, maxLearningRate: 0.1, divFactor: 4, finalDivFactor: 100,
      annihilation: 0.2)
    #expect(abs(policy.pctStart - 0.4) < 1e-15)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 11)
    // Span 10: up over steps 0-4, down over 4-8, annihilation over 8-10.
    let expected = [
      0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.08125, 0.0625, 0.04375, 0.025, 0.0126250,
      0.00025,
    ]
    expectClose(schedule.rates, expected)
  }

  @Test func cosineShapeAndNoMomentumCycling() throws {
    let policy = OneCycle(
      variant: .smith, maxLearningRate: 1, annealing: .cosine, cycleMomentum: false)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 101)
    #expect(!schedule.cyclesMomentum)
    #expect(isClose(schedule.learningRate(at: 45), 1))
    // A third of the way up a cosine rise from 0.1 to 1: 1 − 0.45 (1 + cos(π/3)) = 0.325.
    #expect(isClose(schedule.learningRate(at: 15), 0.325))
  }
}
