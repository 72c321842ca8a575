import Foundation
import Schedules
import Sessions

extension Recipe {
  /// Phase 2: for each candidate an LR range test and a one-cycle trial of equal wall time.
  public func batchSizePhase(startLearningRate lr0: Double, trialsLeft: Int) throws -> BatchSizeDecision {
    let b0 = settings.startBatchSize
    let candidates = batchCandidates()
    let trialSeconds = plannedTrialSeconds(trials: candidates.count + noiseRepeats + trialsLeft, rangeTests: max(0, candidates.count - 1) + laterRangeTests)
    var lrForBatch: [Int: Double] = [b0: lr0]
    // A range test per candidate first (side by side where the backend has slots), then the trials.
    let untested = candidates.filter { $0 != b0 }
    let readings = try rangeTests(untested.map { b in
      let steps = rangeTestSteps(batchSize: b)
      return RangeTestWork(key: "batch-size/range-test/\(b)", phase: .batchSize, label: "LR range test, batch \(b)",
        conditions: [RangeTestCondition(name: "batch \(b)", batchSize: b, steps: steps)],
        base: rangeSettings(steps: steps, weightDecay: settings.priorWeightDecay, momentum: settings.momenta.last ?? 0.9, validate: true),
        batchSize: { $0.batchSize! })
    })
    var tried: [Int] = []
    for (b, reading) in zip(untested, readings) {
      switch reading {
      case .success(let c): lrForBatch[b] = c.suggestedMaximumLearningRate ?? lr0 * Double(b) / Double(b0)
      case .failure(let error as RangeTestError):
        // The program failed at this batch size (out of memory, say): the others decide.
        onEvent?(.note("batch \(b) left out: \(error.description)"))
      case .failure(let error): throw error
      }
    }
    for b in candidates where lrForBatch[b] != nil { tried.append(b) }
    let entries = try trials(tried.map { b in
      TrialWork(key: "batch-size/trial/\(b)", phase: .batchSize, label: "batch \(b), \(Int(trialSeconds.rounded())) s",
        settings: TrialSettings(batchSize: b, maxLearningRate: lrForBatch[b]!, divFactor: settings.divFactor, weightDecay: settings.priorWeightDecay,
          steps: trialSteps(seconds: trialSeconds, batchSize: b), evaluations: settings.trialEvaluations, validationBatches: settings.validationBatches, seed: settings.seed))
    })
    let batchTrials = Array(zip(tried, entries))
    guard !batchTrials.isEmpty else {
      throw RecipeError(description: "no batch size could be tried: the range test failed at every candidate (\(candidates.map(String.init).joined(separator: ", ")))")
    }
    _ = try measureNoise(batchTrials.map(\.1))
    let choice = chooseBatch(batchTrials)
    let batch = choice.value
    // The momentum and weight-decay trials share what is left of the tuning time.
    let later = plannedTrialSeconds(trials: trialsLeft, rangeTests: laterRangeTests)
    return BatchSizeDecision(batchSize: choice, learningRate: lrForBatch[batch]!, stepsPerTrial: trialSteps(seconds: later, batchSize: batch))
  }
}
