/// PyTorch's `CosineAnnealingLR`:
/// `etaMin + (learningRate − etaMin)(1 + cos(π k / tMax)) / 2`.
///
/// This is the closed form, which PyTorch's recursive (chainable) update equals; past `tMax`
/// it keeps following the cosine, back up to `learningRate` at `2 tMax`, as PyTorch does.
public struct CosineAnnealing: SchedulePolicy {
  public static let name = "cosine"

  /// The learning rate at step 0.
  public var learningRate: Double
  /// Steps in the half cosine; `nil` means the whole run.
  public var tMax: Int?
  /// The learning rate at step `tMax`.
  public var etaMin: Double

  /// Cosine annealing from `learningRate` to `etaMin` (default 0, as PyTorch) over `tMax`
  /// steps (default: the whole run).
  public init(learningRate: Double, tMax: Int? = nil, etaMin: Double = 0) {
    self.learningRate = learningRate
    self.tMax = tMax
    self.etaMin = etaMin
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    if let tMax { try Check.atLeast(tMax, 1, "tMax") }
    try Check.nonNegative(etaMin, "etaMin")
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    let half = Double(tMax ?? totalSteps)
    let wave = Curve.sequence([
      Curve.Phase(
        length: half, curve: .anneal(shape: .cosine, from: learningRate, to: etaMin, length: half)),
      Curve.Phase(
        length: half, curve: .anneal(shape: .cosine, from: etaMin, to: learningRate, length: half)),
    ])
    return ScheduleCurves(learningRate: .repeating(wave, period: 2 * half))
  }
}

/// PyTorch's `CosineAnnealingWarmRestarts` (SGDR, arXiv:1608.03983): cosine annealing from
/// `learningRate` towards `etaMin` over `t0` steps, then a restart; each period is `tMult`
/// times the one before.
public struct CosineWarmRestarts: SchedulePolicy {
  public static let name = "warm-restarts"

  /// The learning rate at every restart.
  public var learningRate: Double
  /// Steps until the first restart (PyTorch's `T_0`).
  public var t0: Int
  /// The factor by which each period grows (PyTorch's `T_mult`).
  public var tMult: Int
  /// The floor of the cosine.
  public var etaMin: Double

  /// Warm restarts with PyTorch's defaults `tMult` 1 and `etaMin` 0.
  public init(learningRate: Double, t0: Int, tMult: Int = 1, etaMin: Double = 0) {
    self.learningRate = learningRate
    self.t0 = t0
    self.tMult = tMult
    self.etaMin = etaMin
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    try Check.atLeast(t0, 1, "t0")
    try Check.atLeast(tMult, 1, "tMult")
    try Check.nonNegative(etaMin, "etaMin")
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    func cycle(_ length: Double) -> Curve {
      .anneal(shape: .cosine, from: learningRate, to: etaMin, length: length)
    }
    if tMult == 1 {
      return ScheduleCurves(
        learningRate: .repeating(cycle(Double(t0)), period: Double(t0)))
    }
    // Growing periods: as many as the run needs.
    var phases: [Curve.Phase] = []
    var covered = 0
    var length = t0
    repeat {
      phases.append(Curve.Phase(length: Double(length), curve: cycle(Double(length))))
      covered += length
      let (next, overflow) = length.multipliedReportingOverflow(by: tMult)
      if overflow { break }
      length = next
    } while covered < totalSteps
    return ScheduleCurves(learningRate: .sequence(phases))
  }
}

/// fastai's `fit_sgdr`: `cycles` cosine cycles from `maxLearningRate` to 0, each
/// `cycleMult` times as long as the one before, joined with `combine_scheds`.
///
/// fastai runs `cycleLength · (cycleMult^cycles − 1) / (cycleMult − 1)` epochs (see
/// ``epochs``); the cycles take the fractions `cycleLength · cycleMult^i / epochs` of the run,
/// so only `cycles` and `cycleMult` shape the curve. fastai divides by `cycleMult − 1`; a
/// `cycleMult` of 1 is accepted here and gives equal cycles.
public struct SGDR: SchedulePolicy {
  public static let name = "sgdr"

  /// The learning rate at every restart.
  public var maxLearningRate: Double
  /// The number of cycles (fastai's `n_cycles`).
  public var cycles: Int
  /// The length of the first cycle in epochs (fastai's `cycle_len`).
  public var cycleLength: Int
  /// The factor by which each cycle grows (fastai's `cycle_mult`).
  public var cycleMult: Int

  /// SGDR with fastai's defaults: `cycleLength` 1, `cycleMult` 2.
  public init(maxLearningRate: Double, cycles: Int, cycleLength: Int = 1, cycleMult: Int = 2) {
    self.maxLearningRate = maxLearningRate
    self.cycles = cycles
    self.cycleLength = cycleLength
    self.cycleMult = cycleMult
  }

  /// fastai's `n_epoch`, the run length in epochs: multiply by the batches per epoch for the
  /// total steps.
  public var epochs: Int {
    if cycleMult == 1 { return cycleLength * cycles }
    var power = 1
    for _ in 0..<cycles { power *= cycleMult }
    return cycleLength * (power - 1) / (cycleMult - 1)
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(maxLearningRate, "maxLearningRate")
    try Check.atLeast(cycles, 1, "cycles")
    try Check.atLeast(cycleLength, 1, "cycleLength")
    try Check.atLeast(cycleMult, 1, "cycleMult")
    // Keep cycleMult^cycles representable.
    var power = 1.0
    for _ in 0..<cycles { power *= Double(cycleMult) }
    guard power * Double(cycleLength) < 1e15 else {
      throw .inconsistent(
        "cycleLength × cycleMult^cycles is too large (\(cycleLength) × \(cycleMult)^\(cycles)).")
    }
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    let epochs = Double(self.epochs)
    var length = cycleLength
    var phases: [Curve.Phase] = []
    for _ in 0..<cycles {
      phases.append(
        Curve.Phase(
          length: Double(length) / epochs,
          curve: .anneal(shape: .cosine, from: maxLearningRate, to: 0, length: 1)))
      length *= cycleMult
    }
    return ScheduleCurves(learningRate: .fractions(phases, totalSteps: totalSteps))
  }
}

/// fastai's `fit_flat_cos`: the learning rate stays flat for the first `pctStart` of the run,
/// then anneals by cosine to `learningRate / finalDivFactor` (fastai's `div_final`).
public struct FlatCosine: SchedulePolicy {
  public static let name = "flat-cos"

  /// The flat learning rate.
  public var learningRate: Double
  /// The fraction of the run at the flat rate.
  public var pctStart: Double
  /// The run ends at `learningRate / finalDivFactor`.
  public var finalDivFactor: Double

  /// Flat then cosine, with fastai's defaults `pctStart` 0.75 and `div_final` 1e5.
  public init(learningRate: Double, pctStart: Double = 0.75, finalDivFactor: Double = 1e5) {
    self.learningRate = learningRate
    self.pctStart = pctStart
    self.finalDivFactor = finalDivFactor
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(learningRate, "learningRate")
    try Check.open(pctStart, 0, 1, "pctStart")
    try Check.positive(finalDivFactor, "finalDivFactor")
  }

  /// fastai: `combined_cos(pct_start, lr, lr, lr / div_final)`; a cosine from `lr` to `lr` is
  /// `lr` exactly.
  public func curves(totalSteps: Int) -> ScheduleCurves {
    ScheduleCurves(
      learningRate: .fractions(
        [
          Curve.Phase(length: pctStart, curve: .constant(learningRate)),
          Curve.Phase(
            length: 1 - pctStart,
            curve: .anneal(
              shape: .cosine, from: learningRate, to: learningRate / finalDivFactor, length: 1)),
        ], totalSteps: totalSteps))
  }
}
