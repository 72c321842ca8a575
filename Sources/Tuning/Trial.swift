import Foundation
import Runners
import Schedules
import Sessions
import TrialProtocol

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
  /// Hyper-parameters beyond the fields above, by name (a phase added to the recipe tunes
  /// them; nil: none, as in every journal written before them).
  public var hyperparameters: [String: HyperValue]?

  public init(
    batchSize: Int, maxLearningRate: Double, divFactor: Double = 10, maxMomentum: Double = 0.95,
    minMomentum: Double = 0.85, weightDecay: Double, steps: Int, evaluations: Int = 4,
    validationBatches: Int? = nil, seed: UInt64
  ) {
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
    .oneCycle(
      OneCycle(
        variant: .pytorch, maxLearningRate: maxLearningRate, divFactor: divFactor,
        cycleMomentum: maxMomentum != minMomentum, baseMomentum: minMomentum,
        maxMomentum: maxMomentum))
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
  /// Of `seconds`, the time before the first step (a program starting; nil in-process).
  public var startupSeconds: Double?
  /// Why the program running it failed (exit code, last lines of standard error); a failed
  /// trial counts as diverged, so the recipe goes on with the other candidates.
  public var failure: String?

  /// The last validation loss (the trial's "early validation loss"), infinite if diverged.
  public var finalValidationLoss: Double {
    guard !diverged, let last = evaluations.last, last.loss.isFinite else { return .infinity }
    return last.loss
  }
  /// The last validation accuracy; nil if diverged or where the program measured none.
  public var finalValidationAccuracy: Double? {
    guard !diverged, let last = evaluations.last else { return nil }
    return last.accuracy
  }
  /// Training steps per second (evaluations excluded).
  public var stepsPerSecond: Double {
    let training = seconds - evaluationSeconds - (startupSeconds ?? 0)
    return training > 0 ? Double(losses.count) / training : 0
  }
}

extension TrialSettings {
  /// The trial's one-cycle schedule, one row per step.
  public func schedule() throws(RecipeError) -> [TrialSpec.Row] {
    let schedule: Schedule
    do { schedule = try Schedule(policy, totalSteps: steps) } catch {
      throw RecipeError(
        description:
          "cannot make the trial's one-cycle schedule (max LR \(maxLearningRate), \(steps) steps): \(error)"
      )
    }
    return TrialSpec.Row.rows(of: schedule, momentum: maxMomentum)
  }

  /// Steps after which the validation loss is measured: `evaluations` times, evenly spaced,
  /// the last at the end (none closer to it than half the spacing).
  public var validateAt: [Int] {
    let interval = max(1, steps / max(1, evaluations))
    return (1...max(1, steps)).filter { done in
      done == steps || (done % interval == 0 && steps - done >= interval / 2)
    }
  }

  /// The trial as a spec for a runner, at a regularization.
  public func spec(key: String, regularization: Regularization = Regularization())
    throws(RecipeError) -> TrialSpec
  {
    var spec = TrialSpec(
      kind: .trial, key: key, batchSize: batchSize, seed: seed, weightDecay: weightDecay,
      dropout: regularization.dropout,
      augmentation: regularization.augmentation, schedule: try schedule(), validateAt: validateAt,
      validationBatches: validationBatches)
    spec.hyperparameters = hyperparameters ?? [:]
    return spec
  }

  /// Runs the trial on a fresh session, returning its curves; the session ends in the trained
  /// state. Throws when the settings make no valid schedule (a non-positive learning rate, no steps).
  public func run<Session: TrainingSession>(
    on session: Session, clock: @escaping () -> Double,
    shouldStop: @escaping () -> Bool = { false },
    onStep: ((Int, Double) -> Void)? = nil
  ) throws -> TrialResult {
    try run(
      with: SessionRunner(session: session, clock: clock), spec: spec(key: "trial"),
      directory: nil, shouldStop: shouldStop, onStep: onStep)
  }

  /// Runs the trial as `spec` through any runner, reading its events as they come.
  public func run(
    with runner: some TrialRunner, spec: TrialSpec, directory: URL?,
    shouldStop: @escaping () -> Bool = { false }, onStep: ((Int, Double) -> Void)? = nil
  ) throws -> TrialResult {
    let reading = TrialReading(spec: spec, onStep: onStep)
    return reading.result(
      try runner.run(
        spec, directory: directory, shouldStop: shouldStop, observe: reading.observe))
  }
}

/// Reads a trial's events into its curves as they come (the epoch length from `start`), so
/// several trials can run side by side and be read each on its own.
final class TrialReading {
  let spec: TrialSpec
  let onStep: ((Int, Double) -> Void)?
  private var stepsPerEpoch: Int?

  init(spec: TrialSpec, onStep: ((Int, Double) -> Void)?) {
    self.spec = spec
    self.onStep = onStep
  }

  func observe(_ event: TrialEvent) -> TrialDecision {
    switch event {
    case .start(_, let program, _):
      stepsPerEpoch = program.trainSamples.map { max(1, $0 / max(1, spec.batchSize)) }
    case .train(let k, let loss, _, _): onStep?(k, loss)
    default: break
    }
    return .proceed
  }

  /// What the trial measured once its run is over (a failed run counts as diverged).
  func result(_ run: TrialRunResult) -> TrialResult {
    let n = run.losses.count
    // A trial the consumer never stops: stopped short is its time limit.
    let timedOut = run.status == .stopped && n < spec.steps && spec.maxSeconds != nil
    let records = run.validations.map { v in
      EvaluationRecord(
        step: v.step, epoch: stepsPerEpoch.map { Double(v.step) / Double($0) } ?? 0, loss: v.loss,
        accuracy: v.accuracy, metrics: v.metrics)
    }
    return TrialResult(
      losses: run.losses, learningRates: spec.schedule.prefix(n).map(\.learningRate),
      momenta: spec.schedule.prefix(n).map(\.momentum),
      evaluations: records,
      diverged: run.status == .diverged || run.status == .failed || timedOut,
      seconds: run.seconds,
      evaluationSeconds: run.evaluationSeconds,
      startupSeconds: run.startupSeconds > 0 ? run.startupSeconds : nil,
      failure: run.status == .failed
        ? run.message ?? "the program failed"
        : timedOut
          ? String(
            format:
              "stopped at its time limit of %.0f s after %d of %d steps: the machine ran slower than the plan measured, so it is left out of the comparison",
            spec.maxSeconds ?? 0, n, spec.steps) : nil)
  }
}
