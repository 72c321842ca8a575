import Foundation
import Randomness
import Sessions

/// A cheap, exactly analysable training session for tuning tests: linear least squares,
/// loss ½·mean((x·w − y)²), trained by SGD with momentum and L2 weight decay as PyTorch does it,
/// on seeded mini-batches. Diverges when the learning rate passes 2(1+β)/λ_max of the data's
/// covariance, so the right range-test reading is known in advance.
final class AnalyticSession: TrainingSession {
  let features: Int
  let trainX: [[Double]], trainY: [Double]
  let validationX: [[Double]], validationY: [Double]
  let batchSize: Int
  let seed: UInt64
  /// Simulated seconds each step costs (for time-equalized comparisons); advances `clock`.
  let secondsPerStep: Double
  let clock: VirtualClock?
  private(set) var weights: [Double]
  private var velocity: [Double]?
  private(set) var stepsTaken = 0

  /// `scale` stretches the inputs (curvature grows with its square); feature j is scaled down
  /// further by 10^(−spread·j/(features−1)), so curvatures span 2·spread decades and the loss
  /// falls gradually over a range of learning rates, as a network's does. `noise` is the label noise.
  init(
    features: Int = 8, samples: Int = 512, validationSamples: Int = 256, scale: Double = 1,
    spread: Double = 1.5, noise: Double = 0.1,
    batchSize: Int = 32, seed: UInt64 = 1, secondsPerStep: Double = 0, clock: VirtualClock? = nil
  ) {
    var g = SeededGenerator(seed: 42)
    let truth = (0..<features).map { _ in Double(g.nextNormal()) }
    func sample() -> ([Double], Double) {
      let x = (0..<features).map { j in
        scale * pow(10, -spread * Double(j) / Double(max(1, features - 1))) * Double(g.nextNormal())
      }
      return (x, zip(x, truth).map(*).reduce(0, +) + noise * Double(g.nextNormal()))
    }
    let train = (0..<samples).map { _ in sample() }
    let validation = (0..<validationSamples).map { _ in sample() }
    self.features = features
    trainX = train.map(\.0)
    trainY = train.map(\.1)
    validationX = validation.map(\.0)
    validationY = validation.map(\.1)
    self.batchSize = batchSize
    self.seed = seed
    self.secondsPerStep = secondsPerStep
    self.clock = clock
    var w = SeededGenerator(seed: seed)
    weights = (0..<features).map { _ in 0.1 * Double(w.nextNormal()) }
  }

  var stepsPerEpoch: Int { trainX.count / batchSize }

  private func order(epoch: Int) -> [Int] {
    var g = SeededGenerator(seed: seed &+ UInt64(epoch) &* 7919)
    return Array(trainX.indices).shuffled(using: &g)
  }

  func step(_ h: HyperParameters) -> Double {
    let epoch = stepsTaken / stepsPerEpoch
    let index = stepsTaken % stepsPerEpoch
    let rows = order(epoch: epoch)[index * batchSize..<(index + 1) * batchSize]
    stepsTaken += 1
    clock?.advance(secondsPerStep)
    var gradient = [Double](repeating: 0, count: features)
    var loss = 0.0
    for r in rows {
      let error = zip(trainX[r], weights).map(*).reduce(0, +) - trainY[r]
      loss += 0.5 * error * error
      for j in 0..<features { gradient[j] += error * trainX[r][j] }
    }
    loss /= Double(batchSize)
    guard loss.isFinite else { return loss }
    for j in 0..<features {
      gradient[j] = gradient[j] / Double(batchSize) + h.weightDecay * weights[j]
    }
    if h.momentum > 0 {
      if var v = velocity {
        for j in 0..<features { v[j] = h.momentum * v[j] + gradient[j] }
        velocity = v
      } else {
        velocity = gradient
      }
      gradient = velocity!
    }
    for j in 0..<features { weights[j] -= h.learningRate * gradient[j] }
    return loss
  }

  func evaluate(_ split: DataSplit, maxBatches: Int?) -> Evaluation {
    let (x, y) = split == .train ? (trainX, trainY) : (validationX, validationY)
    let count = min(x.count, (maxBatches ?? Int.max / batchSize) * batchSize)
    var loss = 0.0
    var close = 0
    for i in 0..<count {
      let error = zip(x[i], weights).map(*).reduce(0, +) - y[i]
      loss += 0.5 * error * error
      if abs(error) < 0.5 { close += 1 }
    }
    return Evaluation(
      loss: loss / Double(count), accuracy: Double(close) / Double(count), samples: count)
  }

  struct State {
    var weights: [Double]
    var velocity: [Double]?
    var stepsTaken: Int
  }
  func snapshot() -> State { State(weights: weights, velocity: velocity, stepsTaken: stepsTaken) }
  func restore(_ state: State) {
    weights = state.weights
    velocity = state.velocity
    stepsTaken = state.stepsTaken
  }

  /// The largest eigenvalue of the training inputs' second-moment matrix (power iteration).
  var largestCurvature: Double {
    var v = [Double](repeating: 1, count: features)
    var lambda = 0.0
    for _ in 0..<200 {
      var next = [Double](repeating: 0, count: features)
      for x in trainX {
        let d = zip(x, v).map(*).reduce(0, +)
        for j in 0..<features { next[j] += d * x[j] / Double(trainX.count) }
      }
      lambda = sqrt(next.map { $0 * $0 }.reduce(0, +))
      v = next.map { $0 / lambda }
    }
    return lambda
  }
}

/// Simulated wall time for tests of time-equalized comparisons.
final class VirtualClock: @unchecked Sendable {
  private(set) var now = 0.0
  func advance(_ seconds: Double) { now += seconds }
  /// Back to an earlier time: the next of several runs side by side starts when the first did.
  func set(_ time: Double) { now = time }
}
