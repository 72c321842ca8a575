import Foundation

/// The hyper-parameters an optimizer step uses; set before every step by whoever drives the
/// training (a schedule in `fit`, a sweep in the LR range test).
public struct HyperParameters: Codable, Sendable, Equatable {
  public var learningRate: Double
  /// Momentum for SGD, β₁ for AdamW.
  public var momentum: Double
  public var weightDecay: Double

  public init(learningRate: Double, momentum: Double, weightDecay: Double) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.weightDecay = weightDecay
  }
}

/// Mean loss and accuracy over (part of) a split.
public struct Evaluation: Codable, Sendable, Equatable {
  public var loss: Double
  /// nil where a program measured none (a regression, a language model).
  public var accuracy: Double?
  public var samples: Int
  /// A program's own metrics, by name, where it reports them.
  public var metrics: [String: Double]?

  public init(loss: Double, accuracy: Double?, samples: Int, metrics: [String: Double]? = nil) {
    self.loss = loss
    self.accuracy = accuracy
    self.samples = samples
    self.metrics = metrics
  }
}

/// Which part of the data an evaluation reads.
public enum DataSplit: String, Codable, Sendable {
  case train, validation, test
}

/// What the tuning layer needs from a training run, and nothing more: take a step with given
/// hyper-parameters, evaluate, and snapshot or restore the whole state.
///
/// The built-in engine implements it (`EngineSession`); tests implement it with a cheap
/// analytic problem; an external engine could implement it over a line protocol.
public protocol TrainingSession: AnyObject {
  associatedtype State
  /// Optimizer steps in one pass over the training split.
  var stepsPerEpoch: Int { get }
  /// Steps taken so far (the position in the data stream).
  var stepsTaken: Int { get }
  /// Takes one optimizer step on the next training batch; returns that batch's loss (NaN or
  /// infinite when training has diverged).
  func step(_ hyperParameters: HyperParameters) -> Double
  /// Mean loss and accuracy over the first `maxBatches` batches of a split (all when nil), in
  /// evaluation mode, without changing any state.
  func evaluate(_ split: DataSplit, maxBatches: Int?) -> Evaluation
  /// Everything a later `restore` needs to continue bit-identically.
  func snapshot() -> State
  func restore(_ state: State)
}

/// Time counted from the work done instead of read from the wall: training samples at a fixed
/// rate, evaluated samples at a third of their cost (a forward pass). Sessions that carry one
/// advance it on every step and evaluation, so a run timed by it makes the same decisions on
/// any machine, at any load (`tune --virtual-clock`).
public final class WorkClock: @unchecked Sendable {
  /// Training samples per virtual second.
  public let samplesPerSecond: Double
  public private(set) var seconds = 0.0

  public init(samplesPerSecond: Double) {
    precondition(samplesPerSecond > 0, "a work clock needs a positive rate")
    self.samplesPerSecond = samplesPerSecond
  }

  public func trained(samples: Int) { seconds += Double(samples) / samplesPerSecond }
  public func evaluated(samples: Int) { seconds += Double(samples) / (3 * samplesPerSecond) }
}
