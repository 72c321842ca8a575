import Foundation
import Schedules
import Sessions

// Phase 1 of the recipe, and what the later phases' decisions look like.

extension Recipe {
  /// What the batch-size phase decided.
  public struct BatchSizeDecision: Sendable {
    public var batchSize: Choice<Int>
    /// The range test's maximum learning rate at the chosen batch size.
    public var learningRate: Double
    /// Steps of a trial at the chosen batch size in the planned trial time.
    public var stepsPerTrial: Int
    /// Each batch size's range-test reading, and the same made monotone in the batch size.
    public var readings: [Int: Double] = [:]
    public var monotoneReadings: [Int: Double] = [:]
  }

  /// What the weight-decay phase decided.
  public struct WeightDecayDecision: Sendable {
    public var weightDecay: Choice<Double>
    public var maxLearningRate: Choice<Double>
  }

  /// Phase 1: an LR range test (with validation loss) at the starting batch size.
  public func learningRatePhase() throws -> RangeTestComparison {
    let b0 = settings.startBatchSize
    let first = try rangeTest(
      key: firstRangeTestKey, phase: .learningRate, label: "LR range test, batch \(b0)",
      conditions: [RangeTestCondition(name: "batch \(b0)", batchSize: b0, steps: rangeTestSteps)],
      base: rangeSettings(
        steps: rangeTestSteps, weightDecay: settings.priorWeightDecay,
        momentum: settings.momenta.last ?? 0.9, validate: true),
      batchSize: { $0.batchSize! })
    guard first.suggestedMaximumLearningRate != nil else {
      throw RecipeError(description: "the first LR range test could not be read: \(first.reason)")
    }
    if let steepest = first.conditions.first?.suggestions.steepest {
      laterStart = min(1e-3, max(1e-7, steepest / 100))
    }
    return first
  }
}
