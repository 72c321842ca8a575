import Foundation
import Schedules
import Sessions

extension Recipe {
  /// Phase 4: a grid of short one-cycle trials, one refinement between the best two, then LR
  /// range tests at the best two values to settle learning rate and weight decay together.
  public func weightDecayPhase(batchSize batch: Int, learningRate lr: Double, momentum: (max: Double, min: Double), steps: Int) throws -> WeightDecayDecision {
    func wdWork(_ wd: Double, refine: Bool = false) -> TrialWork {
      TrialWork(key: "weight-decay/\(wd)", phase: .weightDecay, label: "weight decay \(Self.format(wd))\(refine ? " (refinement)" : "")",
        settings: TrialSettings(batchSize: batch, maxLearningRate: lr, divFactor: settings.divFactor, maxMomentum: momentum.max,
          minMomentum: momentum.min, weightDecay: wd, steps: steps, evaluations: settings.trialEvaluations,
          validationBatches: settings.validationBatches, seed: settings.seed))
    }
    var wdTrials = Array(zip(settings.weightDecays, try trials(settings.weightDecays.map { wdWork($0) })))
    if let refinement = Self.refinement(wdTrials.map { ($0.0, $0.1.result!.finalValidationLoss) }) {
      wdTrials.append((refinement, try trials([wdWork(refinement, refine: true)])[0]))
    }
    let ranked = wdTrials.sorted { $0.1.result!.finalValidationLoss < $1.1.result!.finalValidationLoss }
    let lowest = ranked[0]
    // Early validation losses within a few percent cannot be told apart by a short run, and the
    // final run is many times longer, where more regularization pays off: among those, the
    // largest weight decay (Smith: balance the regularization for the whole run).
    let chosenValue = Self.chooseWeightDecay(wdTrials.map { ($0.0, $0.1.result!.finalValidationLoss) }, tolerance: settings.weightDecayTolerance)
    let best = wdTrials.first { $0.0 == chosenValue } ?? lowest
    let second = best.0 != lowest.0 ? lowest : (ranked.count > 1 ? ranked[1] : nil)
    let table = ranked.map { String(format: "%@: %.4f", Self.format($0.0), $0.1.result!.finalValidationLoss) }.joined(separator: ", ")
    var wdChoice = best.0 == lowest.0
      ? Choice(best.0, String(format: "lowest early validation loss of %d short one-cycle runs (%@)", ranked.count, table))
      : Choice(best.0, String(format: "the largest weight decay whose early validation loss is within %.0f%% of the lowest (%@): a difference that small is noise in a %d-step run, and the final run is longer, where regularization pays off", 100 * settings.weightDecayTolerance, table, steps))
    let wdSteps = rangeTestSteps(batchSize: batch)
    let values = [best.0] + (second.map { [$0.0] } ?? [])
    let wdRange = try rangeTest(
      key: "weight-decay/range-test/\(batch)", phase: .weightDecay, label: "LR range tests at weight decay \(values.map(plainNumber).joined(separator: ", "))",
      conditions: values.map { RangeTestCondition(name: "wd \(Self.format($0))", weightDecay: $0, batchSize: batch, steps: wdSteps) },
      base: rangeSettings(steps: wdSteps, weightDecay: best.0, momentum: momentum.max, validate: true), batchSize: { $0.batchSize! })
    // Every reading at the chosen batch size counts: the batch-size study's and the one at the
    // best weight decay; their geometric mean evens out the noise of a single curve.
    var readings = [lr]
    if let bestCondition = wdRange.conditions.first(where: { $0.condition.weightDecay == best.0 }), let readLR = bestCondition.maximumLearningRate {
      readings.append(readLR)
    }
    let meanLR = exp(readings.map(log).reduce(0, +) / Double(readings.count))
    let maxLR = readings.count > 1
      ? Choice(meanLR, "geometric mean of the LR range tests at batch \(batch): \(Self.formatLR(readings[0])) (prior weight decay) and \(Self.formatLR(readings[1])) (weight decay \(Self.format(best.0))); each reads Smith's way, a tenth of the largest rate at which the network still trains")
      : Choice(lr, "LR range test at batch \(batch): a tenth of the largest rate at which the network still trains")
    if let lowest = wdRange.lowestLossCondition { wdChoice.reason += "; in the LR range tests \(lowest) reached the lowest validation loss" }
    return WeightDecayDecision(weightDecay: wdChoice, maxLearningRate: maxLR)
  }
}
