import Foundation
import RangeTests
import Schedules
import Sessions

extension Phase {
  public static let learningRate = Phase("learning rate")
}

/// Phase 1: the LR range test at the starting batch size.
public struct LearningRateStep: RecipeStep {
  public init() {}
  public var title: String { Phase.learningRate.rawValue }
  public func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let first = try recipe.learningRatePhase()
    findings.firstRangeTest = first
    findings.rangeTestStart = recipe.laterStart(after: first)
  }
}

extension Recipe {
  /// Phase 1: an LR range test (with validation loss) at the starting batch size.
  public func learningRatePhase() throws -> RangeTestComparison {
    let b0 = settings.startBatchSize
    let first = try rangeTest(
      key: firstRangeTestKey, phase: .learningRate, label: "LR range test, batch \(b0)",
      conditions: [RangeTestCondition(name: "batch \(b0)", batchSize: b0, steps: rangeTestSteps)],
      base: rangeSettings(
        steps: rangeTestSteps, weightDecay: priorWeightDecay,
        momentum: momenta.last ?? 0.9, validate: true, start: nil),
      batchSize: { $0.batchSize! })
    guard first.suggestedMaximumLearningRate != nil else {
      throw RecipeError(description: "the first LR range test could not be read: \(first.reason)")
    }
    return first
  }

  /// Where later range tests start: a decade below the learning rate at which the first one's
  /// loss began to fall (its steepest descent), so their fewer steps are not spent on a flat
  /// curve; nil (the sweep's default) when the first one had no steepest descent.
  public func laterStart(after first: RangeTestComparison) -> Double? {
    first.conditions.first?.suggestions.steepest.map { min(1e-3, max(1e-7, $0 / 100)) }
  }
}
