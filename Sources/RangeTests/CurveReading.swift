import Foundation

/// The ways of reading a maximum learning rate off a range test's smoothed loss.
public enum SuggestionMethod: String, Codable, Sendable, CaseIterable {
  /// Most negative slope of the smoothed loss (against log LR for exponential sweeps, LR for
  /// linear ones), as pytorch-lr-finder and Lightning suggest.
  case steepest
  /// The LR of the lowest smoothed loss, divided by 10.
  case minimum
  /// fastai's valley: two thirds along the longest decreasing stretch of the curve.
  case valley
  /// Smith's reading: a tenth of the largest LR at which the network still trains (the loss,
  /// smoothed without lag, stays below where it started) — the far end of the usable range,
  /// which a one-cycle warm-up reaches, with an order of magnitude of margin.
  case smith
}

/// Every suggestion a curve supports; nil where the curve does not support one.
public struct Suggestions: Codable, Sendable, Equatable {
  public var steepest: Double?
  public var minimum: Double?
  public var valley: Double?
  public var smith: Double?

  public init(
    steepest: Double? = nil, minimum: Double? = nil, valley: Double? = nil, smith: Double? = nil
  ) {
    self.steepest = steepest
    self.minimum = minimum
    self.valley = valley
    self.smith = smith
  }

  public subscript(method: SuggestionMethod) -> Double? {
    get {
      switch method {
      case .steepest: steepest
      case .minimum: minimum
      case .valley: valley
      case .smith: smith
      }
    }
    set {
      switch method {
      case .steepest: steepest = newValue
      case .minimum: minimum = newValue
      case .valley: valley = newValue
      case .smith: smith = newValue
      }
    }
  }
}

/// What a range test's curve says: the suggestions, the one chosen as the maximum learning rate
/// and why, or why the curve supports no number.
public struct CurveReading: Codable, Sendable, Equatable {
  public var suggestions: Suggestions
  /// The method whose suggestion became `maximumLearningRate`.
  public var chosen: SuggestionMethod?
  public var maximumLearningRate: Double?
  /// One sentence: why this value, or why none.
  public var reason: String
  /// Set when the curve cannot be read (too few points, no decrease).
  public var problem: String?
  /// The lowest smoothed loss (after trimming the noisy start) and its learning rate.
  public var lowestLoss: Double?
  public var learningRateAtLowestLoss: Double?
  /// The largest learning rate at which the network still trains (Smith's reading ×10).
  public var trainsUpTo: Double?

  /// Fewest points a curve needs to be read (after trimming).
  public static let minimumPoints = 12

  /// Reads a curve. The first tenth of the points is trimmed (the moving average's start is
  /// noisy, as in fastai and pytorch-lr-finder), and so is everything after the loss has risen
  /// back above its value at the start of the trimmed curve.
  ///
  /// `steepest`, `minimum` and `valley` read the smoothed loss as the tools that introduced them
  /// do. The moving average lags the loss by about 1/(1−β) steps (50 at β = 0.98, a whole decade
  /// of learning rate in a 100-step sweep), which places its minimum after the loss has already
  /// turned up; `smith` therefore reads a zero-lag (forward-backward) smoothing of the raw loss.
  public init(
    learningRates: [Double], losses rawLosses: [Double], smoothedLosses: [Double], mode: SweepMode,
    diverged: Bool = false
  ) {
    suggestions = Suggestions()
    let n = min(learningRates.count, smoothedLosses.count, rawLosses.count)
    let start = n / 10
    // Up to the last finite point.
    var end = start
    while end < n && smoothedLosses[end].isFinite { end += 1 }
    let lrs = Array(learningRates[start..<end])
    let losses = Array(smoothedLosses[start..<end])
    guard lrs.count >= Self.minimumPoints else {
      problem =
        "too few points to read: \(lrs.count) usable after trimming the first tenth (at least \(Self.minimumPoints) needed); run more steps (--num-iter) or start at a smaller learning rate"
      reason = "no suggestion: " + problem!
      return
    }
    let lowest = losses.indices.min { losses[$0] < losses[$1] }!
    lowestLoss = losses[lowest]
    learningRateAtLowestLoss = lrs[lowest]
    let first = losses[0]
    let drop = (first - losses[lowest]) / abs(first)
    guard lowest > 0, drop > 0.01 else {
      problem = String(
        format:
          "the loss does not decrease (its lowest, %.4g, is within 1%% of its start, %.4g): the start learning rate may already be too large, or the sweep too short",
        losses[lowest], first)
      reason = "no suggestion: " + problem!
      return
    }
    let xs = lrs.map { mode == .exponential ? log10($0) : $0 }
    // Slopes on a window that grows with the curve, so per-step noise does not decide.
    let half = max(1, lrs.count / 40)
    let slopes = Self.slopes(xs, losses, halfWindow: half)
    // Read up to where the loss has risen back above its start (the blow-up).
    var usable = lrs.count
    if let back = losses.indices.first(where: { $0 > lowest && losses[$0] > first }) {
      usable = back
    }

    // steepest: over the falling part, trimming the last 5 points as pytorch-lr-finder does.
    let steepestRange = 0..<max(1, min(usable - 5, lowest + 1))
    let steepest = steepestRange.min { slopes[$0] < slopes[$1] }!
    if slopes[steepest] < 0 { suggestions.steepest = lrs[steepest] }
    suggestions.minimum = lrs[lowest] / 10
    suggestions.valley = Self.valley(lrs: Array(lrs[..<usable]), losses: Array(losses[..<usable]))
    // smith: the largest learning rate at which the network still trains — the last point at
    // which a zero-lag smoothing of the raw loss is below its starting level — divided by ten
    // for the margin a one-cycle peak needs. Raw losses above four times the smoothed loss at
    // the start are clipped first, so the blow-up does not reach back over the whole curve.
    let centered = Self.zeroLagSmoothing(
      Array(rawLosses[0..<n]), cap: 4 * abs(smoothedLosses[start]))
    let level = Array(centered[start..<end])
    let levelLowest = level.indices.min { level[$0] < level[$1] }!
    if levelLowest > 0 && level[levelLowest] < level[0] {
      // The last point still below the start: a brief spike above it that the network
      // recovers from (common around the first trough with batch norm) does not end the range.
      let limit = (levelLowest..<level.count).last { level[$0] < level[0] } ?? levelLowest
      trainsUpTo = lrs[limit]
      suggestions.smith = lrs[limit] / 10
    }

    // The choice: Smith's reading when the curve supports it; it is the one that accounts for
    // how far the network keeps training, where the others read only the first trough, which a
    // one-cycle warm-up passes easily. Otherwise the largest suggestion ten times below the end.
    let ceiling = learningRates[n - 1]
    let found = suggestions
    let all = SuggestionMethod.allCases.compactMap { m in found[m].map { (m, $0) } }
    if let smith = suggestions.smith, let limit = trainsUpTo {
      chosen = .smith
      maximumLearningRate = smith
      reason =
        "Smith's reading: the network still trains up to \(Self.format(limit)) (the loss, smoothed without lag, stays below where it started), and a tenth of that, \(Self.format(smith)), leaves the margin a one-cycle peak needs."
    } else if let (method, value) = all.filter({ $0.1 <= ceiling / 10 * (1 + 1e-9) }).max(by: {
      $0.1 < $1.1
    }) {
      chosen = method
      maximumLearningRate = value
      reason =
        "\(method.rawValue) (\(Self.format(value))) is the largest suggestion at least ten times below where \(diverged ? "the loss blew up" : "the sweep ended") (\(Self.format(ceiling)))."
    } else {
      let smallest = all.min { $0.1 < $1.1 }!
      chosen = smallest.0
      maximumLearningRate = smallest.1
      reason =
        "\(smallest.0.rawValue) (\(Self.format(smallest.1))) is the smallest suggestion; none is ten times below where \(diverged ? "the loss blew up" : "the sweep ended") (\(Self.format(ceiling))), so the curve leaves little room: consider a smaller start learning rate or a longer sweep."
    }
  }

  /// An exponential moving average run forwards and then backwards (zero phase shift), over a
  /// window of about a 25th of the curve; values above `cap` (and non-finite ones) count as `cap`.
  public static func zeroLagSmoothing(_ values: [Double], cap: Double) -> [Double] {
    let window = max(3, Double(values.count) / 25)
    let beta = 1 - 1 / window
    let clipped = values.map { $0.isFinite ? min($0, cap) : cap }
    func ema(_ v: [Double]) -> [Double] {
      var out: [Double] = []
      out.reserveCapacity(v.count)
      var average = 0.0
      for (i, x) in v.enumerated() {
        average = beta * average + (1 - beta) * x
        out.append(average / (1 - pow(beta, Double(i + 1))))
      }
      return out
    }
    return ema(ema(clipped).reversed()).reversed()
  }

  /// Least-squares slope of y against x over a window of `halfWindow` points on each side.
  static func slopes(_ x: [Double], _ y: [Double], halfWindow: Int) -> [Double] {
    x.indices.map { i in
      let lo = max(0, i - halfWindow)
      let hi = min(x.count - 1, i + halfWindow)
      guard hi > lo else { return 0 }
      let k = Double(hi - lo + 1)
      let mx = x[lo...hi].reduce(0, +) / k
      let my = y[lo...hi].reduce(0, +) / k
      var sxy = 0.0
      var sxx = 0.0
      for j in lo...hi {
        sxy += (x[j] - mx) * (y[j] - my)
        sxx += (x[j] - mx) * (x[j] - mx)
      }
      return sxx > 0 ? sxy / sxx : 0
    }
  }

  /// fastai's `valley`: the longest run of decreasing losses (longest decreasing subsequence
  /// ending at each point), then the point two thirds of the way along it.
  static func valley(lrs: [Double], losses: [Double]) -> Double? {
    let n = losses.count
    guard n > 1 else { return nil }
    var lengths = [Int](repeating: 1, count: n)
    var maxStart = 0
    var maxEnd = 0
    for i in 1..<n {
      for j in 0..<i where losses[i] < losses[j] && lengths[i] < lengths[j] + 1 {
        lengths[i] = lengths[j] + 1
      }
      if lengths[maxEnd] < lengths[i] {
        maxEnd = i
        maxStart = maxEnd - lengths[maxEnd]
      }
    }
    guard maxEnd > maxStart else { return nil }
    let sections = Double(maxEnd - maxStart) / 3
    let index = maxStart + Int(sections) + Int(sections / 2)
    return lrs[min(max(index, 0), n - 1)]
  }

  static func format(_ value: Double) -> String { String(format: "%.3g", value) }
}
