import Foundation
import Sessions
import Testing

@testable import Tuning

/// Ties inside the measured noise are settled by a stated default, never by the extreme of a
/// grid; candidates the noise separates are still chosen by the evidence.
@Suite struct SettlementTests {
  typealias R = Recipe<AnalyticBackend>

  /// The weight-decay grid of the README's tune that took 3e-3 (issue 24): early validation
  /// losses 0.3038–0.3111 against a measured noise band of 7.4%.
  let grid: [Double] = [3e-3, 1e-3, 1e-4, 0, 3e-4]
  let losses = [0.3038, 0.3111, 0.3074, 0.3090, 0.3052]
  let prior = TieDefault(
    5e-4, source: "the prior weight decay", scale: .logarithmic, lean: .atOrBelow)

  @Test func aWeightDecayTieSettlesAtOrBelowThePriorNotAtTheGridsLargest() throws {
    let settled = try #require(
      Margin.settle(losses: losses, values: grid, band: 0.074, by: prior, format: plainNumber))
    #expect(grid[settled.index] == 3e-4)
    #expect(
      settled.settlement?.contains("could not tell 0, 0.0001, 0.0003, 0.001, 0.003 apart") == true)
    // Without the refinement the largest at or below the prior is 1e-4.
    let coarse = try #require(
      Margin.settle(
        losses: Array(losses.prefix(4)), values: Array(grid.prefix(4)), band: 0.074, by: prior,
        format: plainNumber))
    #expect(grid[coarse.index] == 1e-4)
  }

  @Test func separatedCandidatesAreChosenByTheEvidenceEvenAtTheGridsEnd() throws {
    // A band of 0.5%: 3e-3 is clear of the others by 0.5%+, so it stands.
    let clear = try #require(
      Margin.settle(losses: losses, values: grid, band: 0.004, by: prior, format: plainNumber))
    #expect(grid[clear.index] == 3e-3 && clear.settlement == nil)
    // Everything diverged: nothing to settle.
    #expect(
      Margin.settle(
        losses: [.infinity, .nan], values: [1, 2], band: 0.1, by: prior, format: plainNumber)
        == nil)
  }

  @Test func theDefaultsMeasureNearnessOnTheirOwnScale() {
    let batch = TieDefault(128, source: "the starting batch size", scale: .logarithmic)
    // 64 and 256 are equally far from 128 by ratio: the larger, as the method leans.
    #expect(batch.settle([64, 256, 512], tied: [0, 1, 2]) == 1)
    #expect(batch.settle([64, 128, 256, 512], tied: [0, 1, 2, 3]) == 1)
    #expect(batch.settle([256, 512], tied: [0, 1]) == 0)
    let momentum = TieDefault(0.95, source: "Smith's usual top", scale: .linear)
    #expect(momentum.settle([0.99, 0.97, 0.9], tied: [0, 1, 2]) == 1)
    // At or below the prior, the largest; when every tied value is above it, the smallest.
    #expect(prior.settle([1e-2, 1e-3, 0], tied: [0, 1, 2]) == 2)
    #expect(prior.settle([1e-2, 3e-3, 1e-3], tied: [0, 1, 2]) == 2)
    #expect(prior.settle([5e-4, 1e-4], tied: [0, 1]) == 0)
  }

  @Test func regularizationTiesLeanStrongerOnlyWhileTheWeightDecayIsAtItsPrior() {
    let rows: [(value: Double, name: String, validation: Double?, stableUpTo: Double?)] = [
      (0, "0", 0.5241, 0.59), (0.25, "0.25", 0.5306, 0.5),
    ]
    let light = R.regularizationBalance(weightDecay: 3e-4, prior: 5e-4)
    let heavy = R.regularizationBalance(weightDecay: 3e-3, prior: 5e-4)
    #expect(light.leansStronger && !heavy.leansStronger)
    let stacked = R.chooseRegularization(
      rows, kind: "rates", tolerance: 0.1, why: "", balance: light)
    #expect(stacked.value == 0.25)
    let balanced = R.chooseRegularization(
      rows, kind: "rates", tolerance: 0.1, why: "", balance: heavy)
    #expect(balanced.value == 0)
    #expect(balanced.reason.contains("instead of stacking regularization"), "\(balanced.reason)")
    #expect(balanced.margin?.settlement == heavy.note)
    // Clear of the tolerance, the balance does not matter: the lowest.
    let apart: [(value: Double, name: String, validation: Double?, stableUpTo: Double?)] = [
      (0, "0", 0.70, 0.59), (0.25, "0.25", 0.52, 0.5),
    ]
    #expect(
      R.chooseRegularization(apart, kind: "rates", tolerance: 0.1, why: "", balance: heavy).value
        == 0.25)
  }

  @Test func aFinalRunCutShortOrNotLearningIsNeverOnTarget() {
    func history(steps: Int, loss: (Int) -> Double, evaluations: [Double]) -> TrainingHistory {
      var h = TrainingHistory()
      h.steps = (0..<steps).map {
        StepRecord(step: $0, epoch: 0, learningRate: 0.1, momentum: 0.9, loss: loss($0))
      }
      h.evaluations = evaluations.enumerated().map {
        EvaluationRecord(step: $0.offset, epoch: Double($0.offset), loss: $0.element, accuracy: 0)
      }
      return h
    }
    let flat = [0.5, 0.5, 0.5, 0.5]
    // The program: 10 steps of batch 512 on 54,000 samples, 0.09 of an epoch, and a
    // flat curve that read as "on target".
    let short = Diagnosis(
      history: history(steps: 10, loss: { 2.3 - 0.01 * Double($0) }, evaluations: flat),
      stepsPerEpoch: 105, plannedSteps: 10, budgetAdvice: "about --budget 20m")
    #expect(short.verdict == .tooShort && short.suggestion.contains("--budget 20m"))
    // Cut to a third of its plan.
    let cut = Diagnosis(
      history: history(steps: 300, loss: { 2.3 / (1 + Double($0)) }, evaluations: flat),
      stepsPerEpoch: 100, plannedSteps: 900)
    #expect(cut.verdict == .tooShort)
    // Long enough, but the training loss never moved.
    let stuck = Diagnosis(
      history: history(steps: 400, loss: { 2.30 - 0.0001 * Double($0 % 7) }, evaluations: flat),
      stepsPerEpoch: 100, plannedSteps: 400)
    #expect(stuck.verdict == .notLearning)
    // A run that learned and went flat is on target.
    let good = Diagnosis(
      history: history(steps: 400, loss: { 2.3 / (1 + Double($0) / 10) }, evaluations: flat),
      stepsPerEpoch: 100, plannedSteps: 400)
    #expect(good.verdict == .onTarget)
  }

  @Test func aFinalRunSaysHowLongItTrained() {
    // A program's final run re-planned shorter: 7,046 steps of 938 an epoch read "8 epochs".
    #expect(TuneOutcome.trainedLength(steps: 7046, stepsPerEpoch: 938, epochs: 8) == "7.51 epochs")
    #expect(TuneOutcome.trainedLength(steps: 9380, stepsPerEpoch: 938, epochs: 10) == "10 epochs")
    #expect(
      TuneOutcome.trainedLength(steps: 10, stepsPerEpoch: 105, epochs: 1)
        == "10 steps (0.10 of an epoch)")
    #expect(TuneOutcome.trainedLength(steps: 0, stepsPerEpoch: 100, epochs: 3) == "3 epochs")
  }
}

/// A program's costs outside training are measured and planned with; a phase whose trials would
/// be too short to separate anything is not run, and its stated default is taken.
@Suite struct RunCostTests {
  @Test func aRunDividesBetweenItsPassesAndItsTraining() {
    // The script: 1 s to start, 5.6 s a pass. A 30 s trial affords 2 passes.
    let slow = RunCosts(startupSeconds: 1, evaluationPassSeconds: 5.6)
    let (evaluations, training) = slow.split(seconds: 30, limit: 3)
    #expect(evaluations == 1 && abs(training - 23.4) < 1e-9)
    #expect(slow.split(seconds: 60, limit: 3).evaluations == 3)
    #expect(slow.evaluations(trainingSeconds: 5, limit: 3) == 1)
    #expect(slow.rangeTestValidations(trainingSeconds: 10, limit: 10) == 3)
    #expect(slow.overhead(evaluations: 2) == 12.2)
    // In-process (nothing measured): every pass the spec asks for, at no planned cost.
    let engine = RunCosts()
    #expect(engine.split(seconds: 30, limit: 3) == (3, 30))
    #expect(engine.rangeTestValidations(trainingSeconds: 1, limit: 10) == 10)
  }

  @Test func aRunOfAProgramTeachesItsCostsAnInProcessOneDoesNot() {
    var costs = RunCosts()
    costs.record(startup: nil, evaluationSeconds: 3, passes: 3)
    #expect(costs == RunCosts())
    costs.record(startup: 1.2, evaluationSeconds: 22.4, passes: 4)
    #expect(costs.startupSeconds == 1.2 && costs.evaluationPassSeconds == 5.6)
    // The longest pass counts: the plan must hold.
    costs.record(startup: 0.8, evaluationSeconds: 2, passes: 1)
    #expect(costs.startupSeconds == 1.2 && costs.evaluationPassSeconds == 5.6)
  }

  func recipe(minimumTrialSteps: Int = 10) throws -> Recipe<AnalyticBackend> {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    var s = RecipeSettings(budget: 600)
    s.startBatchSize = 32
    s.batchSizes = [16, 32, 64]
    s.weightDecays = [1e-2, 1e-3, 0]
    s.rangeTestSteps = 150
    s.validationBatches = nil
    s.minimumTrialSteps = minimumTrialSteps
    return Recipe(
      backend: AnalyticBackend(), settings: s,
      journal: try Journal(url: url, settings: ["test": "1"], resume: false))
  }

  /// A step that stands for a machine much slower than measured: it spends the clock.
  struct SlowMachine: RecipeStep {
    var seconds: Double
    var title: String { "slow machine" }
    func counts<B: TuningBackend>(in recipe: Recipe<B>) -> Bool { false }
    func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
      (recipe.backend as? AnalyticBackend)?.clock.advance(seconds)
    }
  }

  @Test func phasesAfterTheTuningShareIsSpentTakeTheirStatedDefaults() throws {
    let recipe = try recipe()
    // After the batch-size phase, the clock jumps past the tuning share (240 s of 600 s).
    recipe.steps.insert(SlowMachine(seconds: 300), at: 2)
    var notes: [String] = []
    recipe.onEvent = { if case .note(let text) = $0 { notes.append(text) } }
    let outcome = try recipe.run()
    #expect(outcome.maxMomentum.value == 0.95 && outcome.maxMomentum.reason.contains("not studied"))
    #expect(outcome.weightDecay.value == recipe.settings.priorWeightDecay)
    #expect(
      outcome.weightDecay.reason.contains("share of the budget"), "\(outcome.weightDecay.reason)")
    #expect(notes.contains { $0.hasPrefix("momentum not studied") }, "\(notes)")
    #expect(!recipe.journal.entries.contains { $0.phase == .momentum || $0.phase == .weightDecay })
    // The final run keeps what is left and ends within the budget.
    #expect(outcome.seconds <= 600 * 1.1)
  }

  @Test func trialsTooShortToSeparateAnythingAreNotRun() throws {
    let recipe = try recipe(minimumTrialSteps: 50)
    #expect(recipe.reasonToSkip(.momentum, steps: 10)?.contains("fewer than the 50") == true)
    #expect(recipe.reasonToSkip(.momentum, steps: 50) == nil)
  }
}
