import Foundation
@testable import RangeTests
import Sessions
import Testing
@testable import Tuning

@Suite struct RangeTestTests {
  func settings(steps: Int = 200, mode: SweepMode = .exponential) -> RangeTestSettings {
    var s = RangeTestSettings()
    s.startLearningRate = 1e-5
    s.endLearningRate = 10
    s.steps = steps
    s.mode = mode
    s.momentum = 0
    s.minimumMomentum = 0
    return s
  }

  @Test func sweepFollowsPytorchLRFinder() {
    var s = settings(steps: 5)
    #expect(abs(s.learningRate(at: 0) - 1e-5) < 1e-18)
    #expect(abs(s.learningRate(at: 4) - 10) < 1e-12)
    #expect(abs(s.learningRate(at: 2) - sqrt(1e-5 * 10)) < 1e-12)
    s.mode = .linear
    #expect(abs(s.learningRate(at: 2) - (1e-5 + 10) / 2) < 1e-12)
    s.momentum = 0.95
    s.minimumMomentum = 0.85
    #expect(abs(s.momentum(at: 0) - 0.95) < 1e-12 && abs(s.momentum(at: 4) - 0.85) < 1e-12)
  }

  @Test func settingsThatMakeNoSweepThrowANamedError() {
    var s = settings()
    s.endLearningRate = s.startLearningRate / 2
    let session = AnalyticSession()
    #expect(throws: RangeTestError.self) { try RangeTest.run(on: session, settings: s) }
    #expect(session.stepsTaken == 0)
  }

  @Test func smoothingIsBiasCorrected() throws {
    let session = AnalyticSession()
    let result = try RangeTest.run(on: session, settings: settings(steps: 20))
    // The first smoothed value equals the first loss (bias correction), later ones mix.
    #expect(abs(result.points[0].smoothedLoss - result.points[0].loss) < 1e-12)
    var average = 0.0
    for (i, p) in result.points.enumerated() {
      average = 0.98 * average + 0.02 * p.loss
      #expect(abs(p.smoothedLoss - average / (1 - pow(0.98, Double(i + 1)))) < 1e-12)
    }
  }

  @Test func stopsAtDivergenceAndSuggestsAStableRate() throws {
    let session = AnalyticSession()
    let limit = 2 / session.largestCurvature  // plain SGD diverges above this
    let result = try RangeTest.run(on: session, settings: settings())
    guard case .diverged(let lr) = result.end else {
      Issue.record("expected divergence, got \(result.end)")
      return
    }
    #expect(lr > limit)
    #expect(result.points.count < 200)
    let r = result.reading
    #expect(r.problem == nil)
    for method in SuggestionMethod.allCases {
      let value = try! #require(r.suggestions[method], "\(method)")
      #expect(value < limit, "\(method) suggests \(value), above the stability limit \(limit)")
      #expect(value > limit / 1000, "\(method) suggests \(value), far below the limit \(limit)")
    }
    // The choice: the largest suggestion at least ten times below the blow-up.
    let chosen = try! #require(r.maximumLearningRate)
    #expect(chosen <= lr / 10)
    let qualifying = SuggestionMethod.allCases.compactMap { r.suggestions[$0] }.filter {
      $0 <= lr / 10
    }
    #expect(chosen == qualifying.max())
    #expect(r.suggestions[r.chosen!] == chosen)
    // Smith's reading sits where the loss stops falling, past the steepest descent.
    #expect(r.suggestions.smith! > r.suggestions.steepest!)
  }

  @Test func restoresTheSessionExactly() throws {
    let session = AnalyticSession()
    let h = HyperParameters(learningRate: 0.01, momentum: 0.9, weightDecay: 0)
    for _ in 0..<5 { _ = session.step(h) }
    let before = session.snapshot()
    _ = try RangeTest.run(on: session, settings: settings())
    #expect(session.weights == before.weights && session.stepsTaken == before.stepsTaken)
    // And continues exactly as an untouched twin does.
    let twin = AnalyticSession()
    for _ in 0..<5 { _ = twin.step(h) }
    for _ in 0..<10 { #expect(session.step(h) == twin.step(h)) }
  }

  @Test func sameSeedSameCurve() throws {
    let a = try RangeTest.run(on: AnalyticSession(seed: 3), settings: settings())
    let b = try RangeTest.run(on: AnalyticSession(seed: 3), settings: settings())
    #expect(a.points == b.points && a.reading == b.reading)
  }

  @Test func validationEveryKSteps() throws {
    var s = settings(steps: 50)
    s.endLearningRate = 0.01
    s.validateEvery = 10
    let result = try RangeTest.run(on: AnalyticSession(), settings: s)
    #expect(result.points.filter { $0.validationLoss != nil }.map(\.step) == [9, 19, 29, 39, 49])
  }

  @Test func aCurveWithoutDecreaseIsNotTurnedIntoANumber() throws {
    // Start far beyond the stability limit: the loss only grows.
    var s = settings(steps: 100)
    s.startLearningRate = 5
    s.endLearningRate = 50
    s.divergenceFactor = 1e12
    let r = try RangeTest.run(on: AnalyticSession(), settings: s).reading
    #expect(r.maximumLearningRate == nil && r.problem != nil)
    #expect(r.suggestions == Suggestions())
  }

  @Test func tooFewPoints() throws {
    let r = try RangeTest.run(on: AnalyticSession(), settings: settings(steps: 8)).reading
    #expect(r.problem?.contains("too few points") == true && r.maximumLearningRate == nil)
  }

  @Test func valleyMatchesFastai() {
    // fastai: longest decreasing run 0...6 (length 7 at index 6), sections = 2,
    // index = 0 + 2 + 1 = 3 … with max_start = max_end - lds = 6 - 7 = -1 → index 2.
    let losses = [5.0, 4, 3, 2.5, 2, 1.5, 1, 2, 3]
    let lrs = losses.indices.map { Double($0) }
    #expect(CurveReading.valley(lrs: lrs, losses: losses) == 2)
  }

  @Test func linearSweepsReadSlopeAgainstLR() throws {
    let s = settings(steps: 300, mode: .linear)
    let r = try RangeTest.run(on: AnalyticSession(), settings: s)
    #expect(r.reading.problem == nil || r.reading.problem!.contains("decrease"))
  }
}
