import Foundation
import Schedules
import Training

/// A short training run with fixed hyper-parameters: a value, so it can be journaled, compared
/// and resumed.
public struct TrialSettings: Codable, Sendable, Equatable {
  public var batchSize: Int
  public var maxLearningRate: Double
  /// One-cycle's start and end learning rate is max/`divFactor` (then annealed further).
  public var divFactor: Double
  public var maxMomentum: Double
  public var minMomentum: Double
  public var weightDecay: Double
  public var steps: Int
  /// Evaluate the validation loss this many times, evenly spaced (the last at the end).
  public var evaluations: Int
  /// Batches of the validation split per evaluation (nil: all).
  public var validationBatches: Int?
  public var seed: UInt64

  public init(batchSize: Int, maxLearningRate: Double, divFactor: Double = 10, maxMomentum: Double = 0.95,
              minMomentum: Double = 0.85, weightDecay: Double, steps: Int, evaluations: Int = 4,
              validationBatches: Int? = nil, seed: UInt64) {
    self.batchSize = batchSize
    self.maxLearningRate = maxLearningRate
    self.divFactor = divFactor
    self.maxMomentum = maxMomentum
    self.minMomentum = minMomentum
    self.weightDecay = weightDecay
    self.steps = steps
    self.evaluations = evaluations
    self.validationBatches = validationBatches
    self.seed = seed
  }

  /// The trial's 1cycle policy: PyTorch's `OneCycleLR` with a start at max/`divFactor` and the
  /// momentum cycled from `maxMomentum` down to `minMomentum` and back.
  public var policy: Policy {
    .oneCycle(OneCycle(
      variant: .pytorch, maxLearningRate: maxLearningRate, divFactor: divFactor,
      cycleMomentum: maxMomentum != minMomentum, baseMomentum: minMomentum, maxMomentum: maxMomentum))
  }
}

/// What a trial measured.
public struct TrialResult: Codable, Sendable, Equatable {
  /// Training loss of every step (NaN where it diverged).
  public var losses: [Double]
  public var learningRates: [Double]
  public var momenta: [Double]
  public var evaluations: [EvaluationRecord]
  public var diverged: Bool
  public var seconds: Double
  /// Of `seconds`, the time spent measuring the validation loss.
  public var evaluationSeconds: Double = 0

  /// The last validation loss (the trial's "early validation loss"), infinite if diverged.
  public var finalValidationLoss: Double {
    guard !diverged, let last = evaluations.last, last.loss.isFinite else { return .infinity }
    return last.loss
  }
  public var finalValidationAccuracy: Double {
    guard !diverged, let last = evaluations.last else { return 0 }
    return last.accuracy
  }
  /// Training steps per second (evaluations excluded).
  public var stepsPerSecond: Double { seconds > evaluationSeconds ? Double(losses.count) / (seconds - evaluationSeconds) : 0 }
}

extension TrialSettings {
  /// Runs the trial on a fresh session, returning its curves; the session ends in the trained
  /// state. Throws when the settings make no valid schedule (a non-positive learning rate, no steps).
  public func run<Session: TrainingSession>(on session: Session, clock: () -> Double, shouldStop: () -> Bool = { false },
                                            onStep: ((Int, Double) -> Void)? = nil) throws(RecipeError) -> TrialResult {
    let schedule: Schedule
    do { schedule = try Schedule(policy, totalSteps: steps) } catch {
      throw RecipeError(description: "cannot make the trial's one-cycle schedule (max LR \(maxLearningRate), \(steps) steps): \(error)")
    }
    let started = clock()
    var losses: [Double] = [], lrs: [Double] = [], momenta: [Double] = []
    var records: [EvaluationRecord] = []
    losses.reserveCapacity(steps)
    let interval = max(1, steps / max(1, evaluations))
    var diverged = false
    var evaluationSeconds = 0.0
    for k in 0..<steps {
      if shouldStop() { break }
      let h = HyperParameters(learningRate: schedule.learningRate(at: k), momentum: schedule.momentum(at: k) ?? maxMomentum, weightDecay: weightDecay)
      let loss = session.step(h)
      losses.append(loss)
      lrs.append(h.learningRate)
      momenta.append(h.momentum)
      onStep?(k, loss)
      if !loss.isFinite {
        diverged = true
        break
      }
      let done = k + 1
      if done == steps || (done % interval == 0 && steps - done >= interval / 2) {
        let t = clock()
        let e = session.evaluate(.validation, maxBatches: validationBatches)
        evaluationSeconds += clock() - t
        records.append(EvaluationRecord(step: done, epoch: Double(done) / Double(session.stepsPerEpoch), loss: e.loss, accuracy: e.accuracy))
        if !e.loss.isFinite {
          diverged = true
          break
        }
      }
    }
    return TrialResult(losses: losses, learningRates: lrs, momenta: momenta, evaluations: records, diverged: diverged, seconds: clock() - started, evaluationSeconds: evaluationSeconds)
  }
}
