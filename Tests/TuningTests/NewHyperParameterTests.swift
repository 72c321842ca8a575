import Foundation
import RunFolders
import Sessions
import Testing
import TrialProtocol

@testable import Tuning

/// A new hyper-parameter with its phase, added as `Docs/ARCHITECTURE.md` ("a new
/// hyper-parameter") says: this one file (its `Phase`, its step, its choice through
/// `Recipe.choose`) and one registration (here the recipe's `steps`; in the product,
/// `recipeSteps`). Label smoothing stands in for any: the analytic problem ignores it, which is
/// all the better — its value must still reach every spec, the journal and
/// hyperparameters.json.
extension Phase {
  static let labelSmoothing = Phase("label smoothing", field: "label_smoothing")
}

struct LabelSmoothingStep: RecipeStep {
  var candidates: [Double] = [0, 0.1]
  var title: String { Phase.labelSmoothing.rawValue }
  func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let batch = try findings.required(\.batch, by: title, from: "batch size")
    if let why = recipe.reasonToSkip(.labelSmoothing, steps: batch.stepsPerTrial) {
      recipe.choose("label_smoothing", Choice(.number(0), "\(why); the stated default, none"))
      return
    }
    let entries = try recipe.trials(
      candidates.map { value in
        var settings = TrialSettings(
          batchSize: batch.batchSize.value, maxLearningRate: batch.learningRate,
          weightDecay: recipe.priorWeightDecay, steps: batch.stepsPerTrial, evaluations: 2,
          seed: recipe.settings.seed)
        settings.hyperparameters = ["label_smoothing": .number(value)]
        return TrialWork(
          key: "label-smoothing/\(value)", phase: .labelSmoothing,
          label: "label smoothing \(value)", settings: settings)
      })
    let losses = entries.map { $0.result!.finalValidationLoss }
    let best = losses.indices.min { losses[$0] < losses[$1] }!
    recipe.choose(
      "label_smoothing",
      Choice(
        .number(candidates[best]),
        "lowest early validation loss of \(candidates.count) short runs"))
  }
}

@Suite struct NewHyperParameterTests {
  @Test func aNewHyperParameterReachesTheSpecTheJournalAndHyperparametersJSON() throws {
    let backend = AnalyticBackend()
    var s = RecipeSettings(budget: 600)
    s.startBatchSize = 32
    s.batchSizes = [16, 32, 64]
    s.weightDecays = [1e-3, 0]
    s.rangeTestSteps = 150
    s.validationBatches = nil
    s.minimumTrialSteps = 10
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    let recipe = Recipe(
      backend: backend, settings: s,
      journal: try Journal(url: url, settings: ["test": "1"], resume: false))
    recipe.steps.insert(LabelSmoothingStep(), at: 2)
    let outcome = try recipe.run()

    // The journal keeps each of its trials with the value it ran at.
    let journaled = recipe.journal.entries.filter { $0.phase == .labelSmoothing }
    #expect(
      journaled.compactMap { $0.trial?.hyperparameters?["label_smoothing"] }
        == [.number(0), .number(0.1)])
    // Every spec after the choice carries the chosen value, the final run's plan too.
    let chosen = try #require(outcome.others.first { $0.name == "label_smoothing" })
    let later = backend.specsRun.drop { !$0.key.hasPrefix("label-smoothing/") }
      .drop { $0.key.hasPrefix("label-smoothing/") }
    #expect(!later.isEmpty)
    #expect(later.allSatisfy { $0.hyperparameters["label_smoothing"] == chosen.choice.value })
    #expect(outcome.chosen.plan.hyperparameters?["label_smoothing"] == chosen.choice.value)
    // A spec round-trips it through spec.json.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    try later.first!.write(to: dir)
    #expect(
      try TrialSpec.read(from: dir.appendingPathComponent(TrialSpec.specFile)).hyperparameters
        == ["label_smoothing": chosen.choice.value])
    // hyperparameters.json gives it under its name, with its reason.
    let files = TuneFiles(
      directory: dir, outcome: outcome, journal: recipe.journal, title: "test",
      normalization: nil, budget: s.budget)
    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(files.jsonLine().utf8)) as? [String: Any])
    let parameters = try #require(json["hyperparameters"] as? [String: Any])
    #expect(parameters["label_smoothing"] as? Double == chosen.choice.value.number)
    #expect(
      (parameters["reasons"] as? [String: String])?["label_smoothing"]
        == chosen.choice.reason)
    // So does every one of the recipe's own, each under its definition's names
    // (`TunedParameter`): its entry's value, its reason under the same name, its margin under
    // each part's; the report's table of choices and the summary name each.
    let entries = outcome.chosen.entries
    #expect(
      Set(parameters.keys).subtracting(entries.map(\.name))
        == ["policy", "epochs", "reasons", "margins", "noise"])
    #expect(
      parameters["momentum"] as? [Double] == [outcome.maxMomentum.value, outcome.minMomentum.value])
    #expect(parameters["batch_size"] as? Int == outcome.batchSize.value)
    let reasons = parameters["reasons"] as? [String: String] ?? [:]
    #expect(Set(reasons.keys) == Set(entries.map(\.name) + ["epochs", "policy"]))
    #expect(
      reasons["momentum"]
        == "max: \(outcome.maxMomentum.reason); min: \(outcome.minMomentum.reason)")
    let margins = parameters["margins"] as? [String: Any] ?? [:]
    #expect(Set(margins.keys).isSubset(of: Set(outcome.chosen.named.map(\.parameter.name))))
    #expect(margins["max_momentum"] != nil && margins["weight_decay"] != nil, "\(margins.keys)")
    #expect(files.report().choices.map(\.name) == entries.map(\.title) + ["epochs"])
    #expect(files.summary().contains("; label_smoothing \(chosen.choice.value)"))
    // The phases that study them are named by the same definitions.
    #expect(Phase.weightDecay.field == TunedParameter.weightDecay.name)
    #expect(Phase.momentum.rawValue == TunedParameter.maxMomentum.title)
    // A resumed run reuses the phase's journaled trials and makes the same choice.
    let again = Recipe(
      backend: AnalyticBackend(), settings: s,
      journal: try Journal(url: url, settings: ["test": "1"], resume: true))
    again.steps.insert(LabelSmoothingStep(), at: 2)
    #expect(try again.run().others == outcome.others)
  }

  /// A program that says it does not apply the new hyper-parameter (its start event's
  /// `ignores`) does not get its trials.
  @Test func aProgramThatIgnoresItSkipsThePhase() throws {
    let backend = AnalyticBackend()
    backend.programFacts = ProgramFacts(
      honours: [], trainSamples: nil, ignores: ["label_smoothing"])
    var s = RecipeSettings(budget: 600)
    s.startBatchSize = 32
    s.batchSizes = [16, 32, 64]
    s.weightDecays = [1e-3, 0]
    s.validationBatches = nil
    let recipe = Recipe(
      backend: backend, settings: s,
      journal: try Journal(
        url: FileManager.default.temporaryDirectory.appendingPathComponent(
          "journal-\(UUID().uuidString).jsonl"), settings: ["test": "1"], resume: false))
    recipe.steps.insert(LabelSmoothingStep(), at: 2)
    let outcome = try recipe.run()
    #expect(recipe.journal.entries.allSatisfy { $0.phase != .labelSmoothing })
    #expect(
      outcome.others.first?.choice.reason.contains("does not apply label_smoothing") == true)
  }
}
