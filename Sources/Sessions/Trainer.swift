import Foundation
import Schedules

/// One optimizer step as the history records it.
public struct StepRecord: Codable, Sendable, Equatable {
  public var step: Int
  public var epoch: Int
  public var learningRate: Double
  public var momentum: Double
  public var loss: Double

  public init(step: Int, epoch: Int, learningRate: Double, momentum: Double, loss: Double) {
    self.step = step
    self.epoch = epoch
    self.learningRate = learningRate
    self.momentum = momentum
    self.loss = loss
  }
}

/// One evaluation on the validation split.
public struct EvaluationRecord: Codable, Sendable, Equatable {
  /// Steps taken when it was measured.
  public var step: Int
  /// Fractional epochs completed.
  public var epoch: Double
  public var loss: Double
  /// nil where a program measured none (a regression, a language model).
  public var accuracy: Double?
  /// A program's own metrics, by name, where it reports them.
  public var metrics: [String: Double]?

  public init(
    step: Int, epoch: Double, loss: Double, accuracy: Double?, metrics: [String: Double]? = nil
  ) {
    self.step = step
    self.epoch = epoch
    self.loss = loss
    self.accuracy = accuracy
    self.metrics = metrics
  }
}

/// Everything measured during a run, in order.
public struct TrainingHistory: Codable, Sendable, Equatable {
  public var steps: [StepRecord] = []
  public var evaluations: [EvaluationRecord] = []
  public init() {}
}

/// What a trainer tells its observer (a progress display, a metrics writer).
public enum TrainingEvent {
  case epochStarted(epoch: Int, totalEpochs: Int, stepsPerEpoch: Int)
  case stepFinished(StepRecord)
  case evaluated(EvaluationRecord)
  case epochFinished(epoch: Int)
}

/// How a run ended.
public enum TrainingOutcome: Equatable, Sendable {
  case finished
  /// Stopped early on request (SIGINT/SIGTERM) after this many steps.
  case interrupted(afterStep: Int)
  /// The loss became NaN or infinite at this step.
  case diverged(atStep: Int)
}

/// Trains a session for a number of epochs, setting learning rate and momentum from a schedule
/// before every step and evaluating on the validation split every epoch (or every
/// `evaluationInterval` steps).
public final class Trainer<Session: TrainingSession> {
  public let session: Session
  public let schedule: Schedule
  public let epochs: Int
  /// Momentum where the schedule does not cycle it.
  public let constantMomentum: Double
  public let weightDecay: Double
  public let evaluationInterval: Int?
  public private(set) var history: TrainingHistory
  public var onEvent: ((TrainingEvent) -> Void)?

  public var totalSteps: Int { epochs * session.stepsPerEpoch }

  /// - Precondition: `schedule.totalSteps == epochs * session.stepsPerEpoch`.
  public init(
    session: Session, schedule: Schedule, epochs: Int, constantMomentum: Double,
    weightDecay: Double,
    evaluationInterval: Int? = nil, history: TrainingHistory = TrainingHistory()
  ) {
    precondition(
      schedule.totalSteps == epochs * session.stepsPerEpoch,
      "schedule of \(schedule.totalSteps) steps for \(epochs) epochs of \(session.stepsPerEpoch) steps"
    )
    self.session = session
    self.schedule = schedule
    self.epochs = epochs
    self.constantMomentum = constantMomentum
    self.weightDecay = weightDecay
    self.evaluationInterval = evaluationInterval
    self.history = history
  }

  /// The hyper-parameters in force for step `k`.
  public func hyperParameters(at k: Int) -> HyperParameters {
    HyperParameters(
      learningRate: schedule.learningRate(at: k),
      momentum: schedule.momentum(at: k) ?? constantMomentum,
      weightDecay: weightDecay)
  }

  /// Runs from the session's current position to the end, or until `shouldStop` says so
  /// (checked between steps).
  public func run(shouldStop: () -> Bool = { false }) -> TrainingOutcome {
    let perEpoch = session.stepsPerEpoch
    var announced = false
    while session.stepsTaken < totalSteps {
      let k = session.stepsTaken
      let epoch = k / perEpoch
      // Every epoch's start, and the first step of this call (a run resumed mid-epoch).
      if k % perEpoch == 0 || !announced {
        announced = true
        onEvent?(.epochStarted(epoch: epoch, totalEpochs: epochs, stepsPerEpoch: perEpoch))
      }
      if shouldStop() { return .interrupted(afterStep: k) }
      let h = hyperParameters(at: k)
      let loss = session.step(h)
      let record = StepRecord(
        step: k, epoch: epoch, learningRate: h.learningRate, momentum: h.momentum, loss: loss)
      history.steps.append(record)
      onEvent?(.stepFinished(record))
      if !loss.isFinite { return .diverged(atStep: k) }
      let done = k + 1
      let endOfEpoch = done % perEpoch == 0
      if let interval = evaluationInterval,
        done % interval == 0 || (endOfEpoch && done == totalSteps)
      {
        evaluate(after: done)
      } else if evaluationInterval == nil && endOfEpoch {
        evaluate(after: done)
      }
      if endOfEpoch { onEvent?(.epochFinished(epoch: epoch)) }
    }
    return .finished
  }

  private func evaluate(after steps: Int) {
    let e = session.evaluate(.validation, maxBatches: nil)
    let record = EvaluationRecord(
      step: steps, epoch: Double(steps) / Double(session.stepsPerEpoch), loss: e.loss,
      accuracy: e.accuracy)
    history.evaluations.append(record)
    onEvent?(.evaluated(record))
  }
}
