import Foundation
import Sessions
import Testing

@testable import Tuning

/// A phase added as `Docs/ARCHITECTURE.md` says: one file (its `Phase`, its finding, its step)
/// and one registration (here the recipe's `steps`; in the product, `recipeSteps`).
extension Phase {
  static let warmUpCheck = Phase("warm-up check")
}

/// What the new step finds: the early validation loss at the chosen settings, one trial.
struct WarmUpCheck: Sendable {
  var loss: Double
}

extension Findings {
  var warmUpCheck: WarmUpCheck? {
    get { self[WarmUpCheck.self] }
    set { self[WarmUpCheck.self] = newValue }
  }
}

struct WarmUpCheckStep: RecipeStep {
  var title: String { Phase.warmUpCheck.rawValue }
  func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let batch = try findings.required(\.batch, by: title, from: "batch size")
    let momentum = try findings.required(\.momentum, by: title, from: "momentum")
    let entry = try recipe.trial(
      key: "warm-up-check/\(batch.batchSize.value)", phase: .warmUpCheck, label: "warm-up check",
      TrialSettings(
        batchSize: batch.batchSize.value, maxLearningRate: batch.learningRate, divFactor: 25,
        maxMomentum: momentum.max.value, minMomentum: momentum.min.value, weightDecay: 0,
        steps: 40, evaluations: 2, validationBatches: nil, seed: recipe.settings.seed))
    findings.warmUpCheck = WarmUpCheck(loss: entry.result!.finalValidationLoss)
  }
}

@Suite struct RecipeStepTests {
  func recipe() throws -> Recipe<AnalyticBackend> {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    var s = RecipeSettings(budget: 600)
    s.startBatchSize = 32
    s.batchSizes = [16, 32, 64]
    s.weightDecays = [1e-3, 0]
    s.rangeTestSteps = 150
    s.validationBatches = nil
    return Recipe(
      backend: AnalyticBackend(), settings: s,
      journal: try Journal(url: url, settings: ["test": "1"], resume: false))
  }

  @Test func aStepAddedInItsOwnFileRunsInItsPlaceWithWhatTheEarlierOnesFound() throws {
    let recipe = try recipe()
    recipe.steps.insert(WarmUpCheckStep(), at: 3)
    var phases: [String] = []
    recipe.onEvent = { event in
      if case .phase(let name, let index, let count) = event {
        phases.append("\(index)/\(count) \(name)")
      }
    }
    let outcome = try recipe.run()
    #expect(
      phases == [
        "1/6 learning rate", "2/6 batch size", "3/6 momentum", "4/6 warm-up check",
        "5/6 weight decay", "6/6 final training",
      ])
    let checks = recipe.journal.entries.filter { $0.phase == .warmUpCheck }
    #expect(checks.count == 1)
    #expect(checks.first?.trial?.batchSize == outcome.batchSize.value)
    #expect(checks.first?.trial?.maxMomentum == outcome.maxMomentum.value)
    // The journal keeps the new phase by name, and reads it back as the same phase.
    let reread = try Journal(url: recipe.journal.url, settings: ["test": "1"], resume: true)
    #expect(reread.entries.filter { $0.phase == .warmUpCheck }.count == 1)
  }

  @Test func aStepThatNeedsAnEarlierOneSaysWhich() throws {
    let recipe = try recipe()
    recipe.steps = [WarmUpCheckStep()]
    #expect(throws: RecipeError.self) { try recipe.run() }
    do { _ = try recipe.run() } catch let e as RecipeError {
      #expect(e.description == "the warm-up check step needs the batch size step to run first")
    }
  }

  @Test func theDefaultStepsAreThePhasesInTheMethodsOrder() {
    #expect(
      recipeSteps.map(\.title) == [
        "learning rate", "batch size", "momentum", "weight decay", "regularization",
      ])
    #expect(recipeSteps.last?.phases == [.dropout, .augmentation])
  }
}
