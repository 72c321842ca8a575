import Foundation
import Sessions
import Testing

@testable import Tuning

/// The noise of a trial, measured by repeats under another seed, and how choices stand against it.
@Suite struct NoiseTests {
  @Test func theNoiseIsPooledOverTheRepeats() {
    // Differences of 2% and 4% of the mean: one trial's σ is √((0.02² + 0.04²)/4).
    let noise = NoiseEstimate(pairs: [
      .init(label: "a", losses: [0.101, 0.099]), .init(label: "b", losses: [0.51, 0.49]),
    ])
    let sigma = ((0.02 * 0.02 + 0.04 * 0.04) / 4).squareRoot()
    #expect(abs(noise.relative! - sigma) < 1e-12)
    #expect(abs(noise.band! - 2 * 2.0.squareRoot() * sigma) < 1e-12)
    // A diverged repeat tells nothing; without a finite pair there is no estimate.
    #expect(NoiseEstimate(pairs: [.init(label: "a", losses: [0.3, .infinity])]).relative == nil)
    #expect(NoiseEstimate().band == nil && NoiseEstimate().description == "not measured")
  }

  @Test func aMarginSaysWhetherTheChoiceRisesAboveTheNoise() {
    let candidates: [Margin.Candidate] = [
      .init(name: "64", loss: 0.300), .init(name: "128", loss: 0.306),
      .init(name: "256", loss: 0.350), .init(name: "512", loss: .infinity),
    ]
    // 2% apart with a 3% band: 64 and 128 cannot be told apart.
    let close = Margin(
      measure: "loss", candidates: candidates, chosen: "128", band: 0.03, measured: true)
    #expect(close.indistinguishable == ["64", "128"])
    #expect(abs(close.margin - (0.300 - 0.306) / 0.306) < 1e-12)
    #expect(!close.isClear)
    #expect(
      close.verdict.contains("indistinguishable from 64")
        && close.verdict.contains("behind the lowest"))
    // A 1% band separates them: 64 leads 128 by 2%, clearly.
    let clear = Margin(
      measure: "loss", candidates: candidates, chosen: "64", band: 0.01, measured: true)
    #expect(clear.indistinguishable == ["64"] && clear.isClear)
    #expect(clear.summary.hasPrefix("clear: 2.0% ahead"), "\(clear.summary)")
    // A tolerance is not a measured noise, and the report says so.
    #expect(
      Margin(measure: "loss", candidates: candidates, chosen: "64", band: 0.1, measured: false)
        .verdict.contains("noise not measured"))
  }

  @Test func aRangeTestsNoiseIsOneConditionSweptTwice() {
    // The 20-minute Fashion-MNIST tune of seed 0: batch 128's first range test and its second.
    let n = RangeTestNoise(
      label: "batch 128", lowestValidationLosses: [0.5983, 0.6457],
      maximumLearningRates: [0.0848, 0.0567], usableUpTo: [0.419, 10])
    let d = (0.6457 - 0.5983) / ((0.6457 + 0.5983) / 2)
    #expect(abs(n.relativeDifference! - d) < 1e-12)
    #expect(abs(n.band! - 2 * d) < 1e-12)
    #expect(abs(n.learningRateRatio! - 0.0848 / 0.0567) < 1e-12)
    #expect(abs(n.usableRatio! - 10 / 0.419) < 1e-12)
    #expect(
      n.description.hasPrefix("batch 128 swept twice: lowest validation loss 0.5983 and 0.6457"))
    #expect(n.description.contains("1.50× apart"), "\(n.description)")
    // The order of the two sweeps does not matter.
    let swapped = RangeTestNoise(
      label: "batch 128", lowestValidationLosses: [0.6457, 0.5983],
      maximumLearningRates: [0.0567, 0.0848], usableUpTo: [10, 0.419])
    #expect(
      abs(swapped.band! - n.band!) < 1e-12 && swapped.learningRateRatio == n.learningRateRatio)
  }

  @Test func aToleranceIsReportedBesideTheRangeTestsMeasuredNoise() {
    let candidates: [Margin.Candidate] = [
      .init(name: "none", loss: 0.6831), .init(name: "flip", loss: 0.7660),
    ]
    // flip is 12.1% above none: inside a 50% tolerance, and inside a noise of 15.4% as well.
    let wide = Margin(
      measure: "lowest validation loss in the LR range test", candidates: candidates,
      chosen: "flip", band: 0.5, measured: false, measuredNoise: 0.154)
    #expect(
      wide.verdict.contains("tolerance of 50% (the range tests' noise, from one pair: 15.4%)"))
    #expect(wide.summary.contains("range-test noise 15.4%"), "\(wide.summary)")
    #expect(!wide.verdict.contains("not measured"))
    // A tolerance narrower than the noise: the choice stands, but the report does not call it
    // clear, and names what the noise cannot tell from it.
    let narrow = Margin(
      measure: "lowest validation loss in the LR range test", candidates: candidates,
      chosen: "none", band: 0.05, measured: false, measuredNoise: 0.154)
    #expect(narrow.indistinguishable == ["none", "flip"] && !narrow.isClear)
    let unmeasured = Margin(
      measure: "lowest validation loss in the LR range test", candidates: candidates,
      chosen: "none", band: 0.05, measured: false)
    #expect(unmeasured.indistinguishable == ["none"] && unmeasured.isClear)
    // A measured band is the noise itself: nothing is added beside it.
    #expect(
      Margin(
        measure: "loss", candidates: candidates, chosen: "none", band: 0.02, measured: true,
        measuredNoise: 0.5
      ).measuredNoise == nil)
  }

  func entry(_ key: String, loss: Double, batchSize: Int = 32) -> JournalEntry {
    let trial = TrialSettings(
      batchSize: batchSize, maxLearningRate: 0.1, weightDecay: 0, steps: 10, seed: 0)
    let result = TrialResult(
      losses: [1], learningRates: [0.1], momenta: [0.9],
      evaluations: [EvaluationRecord(step: 10, epoch: 1, loss: loss, accuracy: 0.9)],
      diverged: !loss.isFinite, seconds: 10)
    return JournalEntry(
      key: key, phase: .batchSize, label: key, trial: trial, result: result, seconds: 10)
  }

  func recipe(noise: NoiseEstimate) throws -> Recipe<AnalyticBackend> {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    let recipe = Recipe(
      backend: AnalyticBackend(), settings: RecipeSettings(budget: 60),
      journal: try Journal(url: url, settings: ["test": "1"], resume: false))
    recipe.noise = noise
    return recipe
  }

  @Test func batchSizesTheNoiseCannotTellApartSettleOnTheStartingBatchSize() throws {
    let trials = [
      (64, entry("64", loss: 0.300)), (128, entry("128", loss: 0.304)),
      (256, entry("256", loss: 0.330)), (512, entry("512", loss: .infinity)),
    ]
    // Repeats 2% apart: a band of 2·√2·1.41% ≈ 4%, so 128 is as good as 64, 256 is not; the
    // tie goes to the starting batch size (128), which is the larger of the two here.
    let noisy = try recipe(
      noise: NoiseEstimate(pairs: [.init(label: "64", losses: [0.303, 0.297])]))
    let choice = noisy.chooseBatch(trials)
    #expect(choice.value == 128, "\(choice.reason)")
    #expect(choice.margin?.indistinguishable == ["64", "128"])
    #expect(choice.reason.contains("could not tell 64, 128 apart"), "\(choice.reason)")
    #expect(choice.margin?.settlement != nil)
    // Repeats that agree to 0.1%: the lowest wins, clearly, and nothing was settled.
    let quiet = try recipe(
      noise: NoiseEstimate(pairs: [.init(label: "64", losses: [0.3003, 0.3])]))
    let clear = quiet.chooseBatch(trials)
    #expect(clear.value == 64 && clear.margin!.isClear, "\(clear.reason)")
    #expect(clear.margin?.settlement == nil)
  }

  @Test func momentaTheNoiseCannotTellApartSettleOnSmithsUsualValue() throws {
    let trials = [
      (0.99, entry("0.99", loss: .infinity)), (0.97, entry("0.97", loss: 0.302)),
      (0.95, entry("0.95", loss: 0.306)), (0.9, entry("0.9", loss: 0.30)),
    ]
    // 0.9, 0.95 and 0.97 are within the noise: 0.95, neither end of the tie.
    let noisy = try recipe(
      noise: NoiseEstimate(pairs: [.init(label: "0.95", losses: [0.31, 0.30])]))
    #expect(noisy.chooseMomentum(trials).value == 0.95)
    // Quiet repeats separate them: the lowest, 0.9.
    let quiet = try recipe(
      noise: NoiseEstimate(pairs: [.init(label: "0.95", losses: [0.3001, 0.3])]))
    let clear = quiet.chooseMomentum(trials)
    #expect(clear.value == 0.9 && clear.margin!.isClear, "\(clear.reason)")
  }

  @Test func aTuneMeasuresTheNoiseInEveryTrialPhaseAndGivesEveryMargin() throws {
    let backend = AnalyticBackend()
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    var s = RecipeSettings(budget: 600)
    s.startBatchSize = 32
    s.batchSizes = [16, 32, 64]
    s.weightDecays = [1e-2, 1e-3, 0]
    s.rangeTestSteps = 150
    s.validationBatches = nil
    let recipe = Recipe(
      backend: backend, settings: s,
      journal: try Journal(url: url, settings: ["test": "1"], resume: false))
    let outcome = try recipe.run()
    let repeats = recipe.journal.entries.filter { $0.repeatOf != nil }
    #expect(Set(repeats.map(\.phase)) == [.batchSize, .momentum, .weightDecay])
    // Each repeats a trial of its phase under the next seed, with otherwise the same settings.
    for r in repeats {
      let original = recipe.journal.entry(r.repeatOf!)!
      #expect(r.trial!.seed == original.trial!.seed + 1)
      var same = r.trial!
      same.seed = original.trial!.seed
      #expect(same == original.trial!)
    }
    // The first phase's two lowest trials are repeated, the later phases' lowest.
    #expect(outcome.noise.pairs.count == 4 && outcome.noise.relative != nil)
    let batchTrials = recipe.journal.entries.filter {
      $0.phase == .batchSize && $0.trial != nil && $0.repeatOf == nil
    }
    let lowestTwo = batchTrials.sorted {
      $0.result!.finalValidationLoss < $1.result!.finalValidationLoss
    }.prefix(2).map(\.key)
    #expect(
      Set(repeats.filter { $0.phase == .batchSize }.compactMap(\.repeatOf)) == Set(lowestTwo),
      "\(repeats.map(\.key))")
    // Each phase decides by the noise measured so far; weight decay, the last, by all of it.
    for margin in [
      outcome.batchSize.margin, outcome.maxMomentum.margin, outcome.weightDecay.margin,
    ] {
      #expect(margin?.measured == true && (margin?.band ?? 0) > 0)
    }
    #expect(
      outcome.batchSize.margin?.band
        == NoiseEstimate(pairs: Array(outcome.noise.pairs.prefix(2))).band)
    #expect(outcome.weightDecay.margin?.band == outcome.noise.band)
    #expect(outcome.weightDecay.reason.contains(outcome.weightDecay.margin!.verdict))
    // The starting batch size swept twice (the first range test and the batch-size phase's)
    // measures the range tests' noise.
    let first = recipe.journal.entry(recipe.firstRangeTestKey)!.rangeTest!.conditions[0]
    let again = recipe.journal.entry("batch-size/range-test/32")!.rangeTest!.conditions[0]
    let rangeNoise = try #require(outcome.rangeTestNoise)
    #expect(
      rangeNoise.lowestValidationLosses == [
        first.lowestValidationLoss!, again.lowestValidationLoss!,
      ])
    #expect(rangeNoise.label == "batch 32")
    if rangeNoise.learningRateRatio != nil {
      #expect(outcome.maxLearningRate.reason.contains("batch 32 swept twice"))
    }
  }

  /// A batch-size phase with one candidate repeats its one trial: one pair, so the momentum
  /// phase, the next to measure, repeats its two lowest (the first choice weighed against a
  /// band from one pair is the coin toss the extra repeat is for).
  @Test func aBandFromOnePairIsWidenedByTheNextPhasesTwoRepeats() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    var s = RecipeSettings(budget: 600)
    s.startBatchSize = 32
    s.batchSizes = [32]
    s.weightDecays = [1e-2, 1e-3, 0]
    s.rangeTestSteps = 150
    s.validationBatches = nil
    let recipe = Recipe(
      backend: AnalyticBackend(), settings: s,
      journal: try Journal(url: url, settings: ["test": "1"], resume: false))
    let outcome = try recipe.run()
    let repeats = Dictionary(
      grouping: recipe.journal.entries.filter { $0.repeatOf != nil }, by: \.phase
    ).mapValues(\.count)
    #expect(repeats[.batchSize] == 1, "\(repeats)")
    #expect(repeats[.momentum] == 2 && repeats[.weightDecay] == 1, "\(repeats)")
    #expect(outcome.noise.pairs.count == 4)
  }

  @Test func learningRateReadingsAreMadeMonotoneInTheBatchSize() {
    typealias R = Recipe<AnalyticBackend>
    // Ordered readings stand.
    #expect(
      R.monotoneInBatchSize([64: 0.05, 128: 0.08, 256: 0.08, 512: 0.2], tolerance: 2) == [
        64: 0.05, 128: 0.08, 256: 0.08, 512: 0.2,
      ])
    // A 20-minute Fashion-MNIST tune's readings, each violation within the noise: pooled to
    // their geometric mean.
    let pooled = R.monotoneInBatchSize(
      [64: 0.0675, 128: 0.0567, 256: 0.0684, 512: 0.0519], tolerance: 2.22)
    let mean = pow(0.0675 * 0.0567 * 0.0684 * 0.0519, 0.25)
    #expect(pooled.values.allSatisfy { abs($0 - mean) < 1e-12 })
    // A late low reading within the noise pulls its predecessors down with it.
    let late = R.monotoneInBatchSize([64: 0.1, 128: 0.1, 256: 0.06], tolerance: 2)
    let cube = pow(0.1 * 0.1 * 0.06, 1.0 / 3)
    #expect(abs(late[64]! - cube) < 1e-12 && abs(late[256]! - cube) < 1e-12)
    // A 3-minute tune's readings: 128-512 read 16-23× below 64, far beyond the noise. They are
    // raised to 64's reading, never 64 pulled down to a pool of them (0.00714 before).
    let short = R.monotoneInBatchSize(
      [64: 0.0657, 128: 0.0028, 256: 0.00414, 512: 0.00341], tolerance: 2.13)
    #expect(short == [64: 0.0657, 128: 0.0657, 256: 0.0657, 512: 0.0657])
    // Alternating readings: each low one is raised to the high one before it.
    let alternating = R.monotoneInBatchSize(
      [64: 0.0759, 128: 0.00439, 256: 0.123, 512: 0.00376], tolerance: 2)
    #expect(alternating == [64: 0.0759, 128: 0.0759, 256: 0.123, 512: 0.123])
  }

  @Test func thePoolingToleranceIsTheRangeTestsBandAndAtLeastTwofold() {
    func noise(_ a: Double, _ b: Double) -> RangeTestNoise {
      RangeTestNoise(
        label: "batch 128", lowestValidationLosses: [0.6, 0.6], maximumLearningRates: [a, b],
        usableUpTo: [])
    }
    #expect(
      abs(RangeTestNoise.poolingTolerance(noise(0.0848, 0.0567)) - pow(0.0848 / 0.0567, 2)) < 1e-12)
    #expect(RangeTestNoise.poolingTolerance(noise(0.089, 0.0899)) == 2)
    #expect(RangeTestNoise.poolingTolerance(nil) == 2)
  }

}
