import Foundation
import RangeTests
import Schedules
import Sessions

extension Phase {
  public static let weightDecay = Phase(studying: .weightDecay)
}

/// What the weight-decay phase decided, with the maximum learning rate set together with it.
public struct WeightDecayDecision: Sendable {
  public var weightDecay: Choice<Double>
  public var maxLearningRate: Choice<Double>
}

/// Phase 4: the weight decay, at the chosen batch size and momentum.
public struct WeightDecayStep: RecipeStep {
  public init() {}
  public var title: String { Phase.weightDecay.rawValue }
  public func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let batch = try findings.required(\.batch, by: title, from: "batch size")
    let momentum = try findings.required(\.momentum, by: title, from: "momentum")
    let b = batch.batchSize.value
    let planned = recipe.replannedSteps(
      b, trials: recipe.weightDecays.count + 1 + recipe.noiseRepeats + recipe.firstNoiseExtra)
    let steps = recipe.trialSteps(phase: .weightDecay, batchSize: b, planned: planned)
    if let why = recipe.reasonToSkip(.weightDecay, steps: steps) {
      let prior = recipe.priorWeightDecay
      recipe.onEvent?(.note("weight decay \(why); the prior \(plainNumber(prior)) is taken"))
      findings.weightDecay = WeightDecayDecision(
        weightDecay: Choice(prior, "\(why); the stated default, the prior weight decay"),
        maxLearningRate: Choice(
          batch.learningRate,
          "LR range test at batch \(b): a tenth of the largest rate at which the network still trains"
        ))
      return
    }
    findings.weightDecay = try recipe.weightDecayPhase(
      batchSize: b, learningRate: batch.learningRate,
      momentum: (momentum.max.value, momentum.min.value), steps: steps,
      sweepFrom: findings.rangeTestStart, rangeTestNoise: batch.rangeTestNoise)
  }
}

extension Recipe {
  /// Phase 4: a grid of short one-cycle trials, one refinement between the best two, then LR
  /// range tests at the best two values to settle learning rate and weight decay together.
  public func weightDecayPhase(
    batchSize batch: Int, learningRate lr: Double, momentum: (max: Double, min: Double), steps: Int,
    sweepFrom start: Double?, rangeTestNoise: RangeTestNoise?
  ) throws -> WeightDecayDecision {
    func wdWork(_ wd: Double, refine: Bool = false) -> TrialWork {
      TrialWork(
        key: "weight-decay/\(wd)", phase: .weightDecay,
        label: "weight decay \(Self.format(wd))\(refine ? " (refinement)" : "")",
        settings: TrialSettings(
          batchSize: batch, maxLearningRate: lr, divFactor: settings.divFactor,
          maxMomentum: momentum.max,
          minMomentum: momentum.min, weightDecay: wd, steps: steps,
          evaluations: trialEvaluations(steps: steps, batchSize: batch),
          validationBatches: settings.validationBatches, seed: settings.seed))
    }
    var wdTrials = Array(
      zip(weightDecays, try trials(weightDecays.map { wdWork($0) })))
    // The refinement runs beside the noise measurement (the grid's lowest under another seed).
    let refinement = Self.refinement(wdTrials.map { ($0.0, $0.1.result!.finalValidationLoss) })
    let refined = try measureNoise(
      wdTrials.map(\.1), alongside: refinement.map { [wdWork($0, refine: true)] } ?? [])
    if let refinement, let entry = refined.first { wdTrials.append((refinement, entry)) }
    let losses = wdTrials.map { $0.1.result!.finalValidationLoss }
    let ranked = wdTrials.sorted {
      $0.1.result!.finalValidationLoss < $1.1.result!.finalValidationLoss
    }
    let lowest = ranked[0]
    // Early validation losses closer than the noise cannot be told apart by a short run: the
    // stated default settles among them (the largest at or below the prior), never the grid's
    // largest on a difference the noise cannot see.
    let (band, measured) = noiseBand(fallback: settings.weightDecayTolerance)
    let settled = Margin.settle(
      losses: losses, values: wdTrials.map(\.0), band: band, by: weightDecayDefault,
      format: Self.format)
    let best = settled.map { wdTrials[$0.index] } ?? lowest
    let second = best.0 != lowest.0 ? lowest : (ranked.count > 1 ? ranked[1] : nil)
    let table = ranked.map {
      String(format: "%@: %.4f", Self.format($0.0), $0.1.result!.finalValidationLoss)
    }.joined(separator: ", ")
    let wdSteps = rangeTestSteps(batchSize: batch)
    let values = [best.0] + (second.map { [$0.0] } ?? [])
    let wdRange = try rangeTest(
      key: "weight-decay/range-test/\(batch)", phase: .weightDecay,
      label: "LR range tests at weight decay \(values.map(plainNumber).joined(separator: ", "))",
      conditions: values.map {
        RangeTestCondition(
          name: "wd \(Self.format($0))", weightDecay: $0, batchSize: batch, steps: wdSteps)
      },
      base: rangeSettings(
        steps: wdSteps, weightDecay: best.0, momentum: momentum.max, validate: true, start: start),
      batchSize: { $0.batchSize! })
    let why: String
    if settled == nil {
      why = "every weight-decay trial diverged (\(table)); the lowest loss is kept"
    } else if let settlement = settled?.settlement {
      why = "\(settlement) (\(steps)-step runs: \(table))"
    } else {
      why = String(
        format: "lowest early validation loss of %d short one-cycle runs (%@)", ranked.count, table)
    }
    var margin = Margin(
      measure: "early validation loss",
      candidates: wdTrials.map {
        .init(name: Self.format($0.0), loss: $0.1.result!.finalValidationLoss)
      },
      chosen: Self.format(best.0), band: band, measured: measured)
    margin.settlement = settled?.settlement
    var wdChoice = Choice(best.0, "\(why); \(margin.verdict)", margin: margin)
    // Every reading at the chosen batch size counts: the batch-size study's and the one at the
    // best weight decay; their geometric mean evens out the noise of a single curve.
    var readings = [lr]
    if let bestCondition = wdRange.conditions.first(where: { $0.condition.weightDecay == best.0 }),
      let readLR = bestCondition.maximumLearningRate
    {
      readings.append(readLR)
    }
    let meanLR = exp(readings.map(log).reduce(0, +) / Double(readings.count))
    let maxLR =
      readings.count > 1
      ? Choice(
        meanLR,
        "geometric mean of the LR range tests at batch \(batch): \(Self.formatLR(readings[0])) (prior weight decay) and \(Self.formatLR(readings[1])) (weight decay \(Self.format(best.0))); each reads Smith's way, a tenth of the largest rate at which the network still trains"
      )
      : Choice(
        lr,
        "LR range test at batch \(batch): a tenth of the largest rate at which the network still trains"
      )
    wdChoice.reason += Self.rangeTestLowest(
      wdRange, chosen: "wd \(Self.format(best.0))", noise: rangeTestNoise)
    if let grid = settings.weightDecayCandidates(for: program).why {
      wdChoice.reason += "; \(grid)"
    }
    return WeightDecayDecision(weightDecay: wdChoice, maxLearningRate: maxLR)
  }

  /// What the weight-decay range tests' lowest validation losses say beside the rule: the
  /// chosen one reached the lowest too, or which did and by how much, against the range tests'
  /// noise. The lowest point of a sweep is one reading at one rate; the trials ran whole
  /// one-cycle schedules, so they decide and this is for the record.
  static func rangeTestLowest(
    _ comparison: RangeTestComparison, chosen: String, noise: RangeTestNoise?
  ) -> String {
    let losses = comparison.conditions.compactMap { c in
      c.lowestValidationLoss.map { (c.condition.name, $0) }
    }
    guard losses.count >= 2, let low = losses.min(by: { $0.1 < $1.1 }) else { return "" }
    if low.0 == chosen { return "; its LR range test also reached the lowest validation loss" }
    guard let mine = losses.first(where: { $0.0 == chosen })?.1 else {
      return "; in the LR range tests \(low.0) reached the lowest validation loss"
    }
    let apart = (mine - low.1) / low.1
    let against =
      noise?.band.map {
        apart <= $0
          ? String(format: ", within the range tests' noise of %.1f%%", 100 * $0)
          : String(format: ", more than the range tests' noise of %.1f%%", 100 * $0)
      } ?? ""
    return String(
      format:
        "; in the LR range tests %@ reached the lowest validation loss (%.4f against %.4f, %.1f%% lower%@): the choice rests on the trials, whose whole one-cycle runs a sweep's lowest point (one reading at one rate) does not replace",
      low.0, low.1, mine, 100 * apart, against)
  }
}
