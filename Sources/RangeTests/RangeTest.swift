import Foundation
import Runners
import Sessions
import TrialProtocol

/// How the learning rate rises during a range test.
public enum SweepMode: String, Codable, Sendable, CaseIterable {
  /// Geometric steps (fastai, pytorch-lr-finder): read on a log axis.
  case exponential = "exp"
  /// Equal steps (Smith): read on a linear axis.
  case linear
}

/// What an LR range test does: the sweep, the momentum and weight decay held during it, the
/// smoothing and the divergence rule, and how often to measure the validation loss.
public struct RangeTestSettings: Codable, Sendable, Equatable {
  public var startLearningRate: Double = 1e-7
  public var endLearningRate: Double = 10
  /// Steps of the sweep; the learning rate reaches `endLearningRate` at the last one.
  public var steps: Int = 100
  public var mode: SweepMode = .exponential
  /// Momentum at the start of the sweep; it falls linearly to `minimumMomentum` as the learning
  /// rate rises (Smith's cyclical momentum), or stays constant when the two are equal.
  public var momentum: Double = 0.9
  public var minimumMomentum: Double = 0.9
  public var weightDecay: Double = 0
  /// β of the bias-corrected exponential moving average of the training loss.
  public var smoothing: Double = 0.98
  /// Stop once the smoothed loss exceeds this multiple of the best smoothed loss.
  public var divergenceFactor: Double = 4
  /// Measure the validation loss every this many steps (and at the last one); nil: never.
  public var validateEvery: Int?
  /// Batches of the validation split each measurement reads (nil: all of it).
  public var validationBatches: Int? = 4

  public init() {}

  /// The learning rate of step `i` (0-based): pytorch-lr-finder's convention, which starts at
  /// `startLearningRate` and reaches `endLearningRate` at step `steps - 1`.
  public func learningRate(at i: Int) -> Double {
    let r = steps > 1 ? Double(i) / Double(steps - 1) : 1
    switch mode {
    case .exponential: return startLearningRate * pow(endLearningRate / startLearningRate, r)
    case .linear: return startLearningRate + r * (endLearningRate - startLearningRate)
    }
  }

  public func momentum(at i: Int) -> Double {
    let r = steps > 1 ? Double(i) / Double(steps - 1) : 1
    return momentum + r * (minimumMomentum - momentum)
  }

  /// Why these settings cannot run, or nil.
  public var problem: String? {
    if !(startLearningRate > 0) || !startLearningRate.isFinite {
      return "the start learning rate must be positive, got \(startLearningRate)"
    }
    if !(endLearningRate > startLearningRate) || !endLearningRate.isFinite {
      return
        "the end learning rate (\(endLearningRate)) must be larger than the start (\(startLearningRate))"
    }
    if steps < 2 { return "a range test needs at least 2 steps, got \(steps)" }
    if !(0..<1).contains(momentum) || !(0..<1).contains(minimumMomentum) {
      return "momentum must be in [0, 1)"
    }
    if !(weightDecay >= 0) || !weightDecay.isFinite {
      return "weight decay must be a non-negative number, got \(weightDecay)"
    }
    if !(0..<1).contains(smoothing) { return "smoothing must be in [0, 1), got \(smoothing)" }
    if !(divergenceFactor > 1) {
      return "the divergence factor must be larger than 1, got \(divergenceFactor)"
    }
    if let k = validateEvery, k < 1 { return "validation every \(k) steps: it must be positive" }
    if let b = validationBatches, b < 1 { return "validation batches must be positive, got \(b)" }
    return nil
  }
}

/// One step of a range test.
public struct RangeTestPoint: Codable, Sendable, Equatable {
  public var step: Int
  public var learningRate: Double
  public var momentum: Double
  public var loss: Double
  /// Bias-corrected exponential moving average of `loss` up to this step.
  public var smoothedLoss: Double
  /// Validation loss after this step, where measured.
  public var validationLoss: Double?
}

/// Why a range test ended.
public enum RangeTestEnd: Codable, Sendable, Equatable {
  /// It reached the end learning rate.
  case completed
  /// The smoothed loss passed `divergenceFactor` × its best, or became NaN or infinite, at this learning rate.
  case diverged(learningRate: Double)
  /// Stopped on request after this many steps.
  case interrupted(afterSteps: Int)
}

/// The curve of one range test and what it suggests.
public struct RangeTestResult: Codable, Sendable, Equatable {
  public var settings: RangeTestSettings
  public var points: [RangeTestPoint]
  public var end: RangeTestEnd
  public var seconds: Double
  /// Of `seconds`, the time spent measuring the validation loss.
  public var evaluationSeconds: Double = 0
  /// Of `seconds`, the time before the first step (a program starting; nil in-process).
  public var startupSeconds: Double?
  public var reading: CurveReading

  public var divergedAtLearningRate: Double? {
    if case .diverged(let lr) = end { return lr }
    return nil
  }
  public var learningRates: [Double] { points.map(\.learningRate) }
  public var smoothedLosses: [Double] { points.map(\.smoothedLoss) }
  /// The zero-lag smoothing of the raw loss that Smith's reading uses (the moving average lags).
  public var zeroLagLosses: [Double] {
    guard !points.isEmpty else { return [] }
    return CurveReading.zeroLagSmoothing(
      points.map(\.loss), cap: 4 * abs(points[points.count / 10].smoothedLoss))
  }
  /// The lowest validation loss measured and the learning rate it was measured at.
  public var bestValidation: (loss: Double, learningRate: Double)? {
    points.compactMap { p in p.validationLoss.flatMap { $0.isFinite ? ($0, p.learningRate) : nil } }
      .min { $0.0 < $1.0 }
  }
}

/// Settings that cannot make an LR range test, in words.
public struct RangeTestError: Error, CustomStringConvertible, Equatable {
  public var description: String
}

extension RangeTestSettings {
  /// The sweep as a spec's schedule: the learning rate and momentum of every step.
  public var schedule: [TrialSpec.Row] {
    (0..<steps).map {
      TrialSpec.Row(learningRate: learningRate(at: $0), momentum: momentum(at: $0))
    }
  }

  /// Steps after which the validation loss is measured: every `validateEvery` and the last.
  public var validateAt: [Int] {
    guard let k = validateEvery else { return [] }
    var at = Array(stride(from: k, through: steps, by: k))
    if at.last != steps { at.append(steps) }
    return at
  }

  /// The range test as a spec for a runner: its sweep, validation and weight decay, at a batch
  /// size, seed and regularization.
  public func spec(
    key: String, batchSize: Int, seed: UInt64, dropout: Double = 0, augmentation: String = "none"
  ) -> TrialSpec {
    var spec = TrialSpec(
      kind: .rangeTest, key: key, batchSize: batchSize, seed: seed, weightDecay: weightDecay,
      dropout: dropout,
      augmentation: augmentation, schedule: schedule, validateAt: validateAt,
      validationBatches: validationBatches)
    spec.stopRule = TrialSpec.StopRule(smoothing: smoothing, divergenceFactor: divergenceFactor)
    return spec
  }
}

/// The range test's divergence rule over a stream of losses: the bias-corrected exponential
/// moving average (β `smoothing`) against `factor` × its best so far.
public struct DivergenceStop: Sendable {
  public let smoothing: Double
  public let factor: Double
  private var average = 0.0, best = Double.infinity, count = 0
  /// The smoothed loss after the last `observe`.
  public private(set) var smoothed = 0.0

  public init(smoothing: Double, factor: Double) {
    self.smoothing = smoothing
    self.factor = factor
  }

  /// Adds a step's loss; true when the curve has diverged (the smoothed loss is not finite,
  /// or above `factor` × the best before it).
  public mutating func observe(_ loss: Double) -> Bool {
    count += 1
    average = smoothing * average + (1 - smoothing) * loss
    smoothed = average / (1 - pow(smoothing, Double(count)))
    let diverged = !smoothed.isFinite || smoothed > factor * best
    best = min(best, smoothed)
    return diverged
  }
}

/// Reads a range test from a run's events as they come: the smoothing, the divergence stop
/// (the smoothed loss past `divergenceFactor` × its best), the validation losses.
struct RangeTestReader {
  let settings: RangeTestSettings
  let onPoint: ((RangeTestPoint) -> Void)?
  private(set) var points: [RangeTestPoint] = []
  private(set) var end = RangeTestEnd.completed
  private var divergence: DivergenceStop

  init(settings: RangeTestSettings, onPoint: ((RangeTestPoint) -> Void)?) {
    self.settings = settings
    self.onPoint = onPoint
    divergence = DivergenceStop(smoothing: settings.smoothing, factor: settings.divergenceFactor)
    points.reserveCapacity(settings.steps)
  }

  mutating func observe(_ event: TrialEvent) -> TrialDecision {
    switch event {
    case .train(_, let loss, _, _):
      let i = points.count
      let diverged = divergence.observe(loss)
      let point = RangeTestPoint(
        step: i, learningRate: settings.learningRate(at: i), momentum: settings.momentum(at: i),
        loss: loss, smoothedLoss: divergence.smoothed)
      points.append(point)
      onPoint?(point)
      if diverged {
        end = .diverged(learningRate: point.learningRate)
        return .stop
      }
    case .validation(let m, _):
      if m.step == points.count, m.step > 0 { points[m.step - 1].validationLoss = m.loss }
    default: break
    }
    return .proceed
  }

  /// The result once the run is over.
  func result(_ run: TrialRunResult) -> RangeTestResult {
    var end = end
    if case .completed = end, run.status == .interrupted {
      end = .interrupted(afterSteps: points.count)
    }
    let reading = CurveReading(
      learningRates: points.map(\.learningRate), losses: points.map(\.loss),
      smoothedLosses: points.map(\.smoothedLoss), mode: settings.mode,
      diverged: { if case .diverged = end { return true } else { return false } }())
    return RangeTestResult(
      settings: settings, points: points, end: end, seconds: run.seconds,
      evaluationSeconds: run.evaluationSeconds,
      startupSeconds: run.startupSeconds > 0 ? run.startupSeconds : nil, reading: reading)
  }
}

/// Runs LR range tests on any training session, or through any runner.
public enum RangeTest {
  /// Runs the sweep on `session` and restores the session's state afterwards (weights,
  /// buffers, optimizer state, data position): the test leaves no trace.
  ///
  /// - Parameters:
  ///   - onPoint: called after every step (progress displays).
  ///   - shouldStop: checked before every step; a stopped test still restores the session.
  /// - Throws: `RangeTestError` when the settings cannot make a sweep (see
  ///   `RangeTestSettings.problem`), before touching the session.
  public static func run<Session: TrainingSession>(
    on session: Session, settings: RangeTestSettings, onPoint: ((RangeTestPoint) -> Void)? = nil,
    shouldStop: @escaping () -> Bool = { false },
    clock: @escaping () -> Double = { Date().timeIntervalSinceReferenceDate }
  ) throws(RangeTestError) -> RangeTestResult {
    if let problem = settings.problem { throw RangeTestError(description: problem) }
    let saved = session.snapshot()
    defer { session.restore(saved) }
    let runner = SessionRunner(session: session, clock: clock)
    do {
      return try run(
        with: runner, spec: settings.spec(key: "range-test", batchSize: 0, seed: 0), directory: nil,
        settings: settings, onPoint: onPoint, shouldStop: shouldStop)
    } catch let error as RangeTestError {
      throw error
    } catch {
      throw RangeTestError(description: "\(error)")
    }
  }

  /// Runs the sweep of `settings` as `spec` through any runner (the user's program, a cluster
  /// job), reading its events as they come and stopping it once the loss diverges.
  public static func run(
    with runner: some TrialRunner, spec: TrialSpec, directory: URL?, settings: RangeTestSettings,
    onPoint: ((RangeTestPoint) -> Void)? = nil, shouldStop: @escaping () -> Bool = { false }
  ) throws -> RangeTestResult {
    let job = try RangeTestJob(
      settings: settings, spec: spec, directory: directory, onPoint: onPoint)
    return try job.result(
      runner.run(spec, directory: directory, shouldStop: shouldStop, observe: job.observe))
  }
}

/// A range test as a job for a runner: its spec, read by a `RangeTestReader` as it runs, so
/// several can run side by side and be read each on its own.
public final class RangeTestJob {
  public let spec: TrialSpec
  public let directory: URL?
  private var reader: RangeTestReader

  /// Throws `RangeTestError` when the settings cannot make a sweep.
  public init(
    settings: RangeTestSettings, spec: TrialSpec, directory: URL?,
    onPoint: ((RangeTestPoint) -> Void)? = nil
  ) throws(RangeTestError) {
    if let problem = settings.problem { throw RangeTestError(description: problem) }
    self.spec = spec
    self.directory = directory
    reader = RangeTestReader(settings: settings, onPoint: onPoint)
  }

  func observe(_ event: TrialEvent) -> TrialDecision { reader.observe(event) }

  public var job: TrialJob {
    TrialJob(spec: spec, directory: directory) { [self] in reader.observe($0) }
  }

  /// The curve once its run is over; a failed run throws `RangeTestError` with its reason.
  public func result(_ run: TrialRunResult) throws(RangeTestError) -> RangeTestResult {
    if run.status == .failed {
      throw RangeTestError(
        description: "the range test \(spec.key) failed: \(run.message ?? "no reason given")")
    }
    return reader.result(run)
  }
}
