/// Which library's 1cycle to reproduce.
public enum OneCycleVariant: String, Sendable, Hashable, Codable, CaseIterable {
  /// PyTorch's `torch.optim.lr_scheduler.OneCycleLR`.
  case pytorch
  /// fastai's `Learner.fit_one_cycle`.
  case fastai
  /// Leslie Smith's own: linear up, linear down, then an annihilation phase.
  case smith
}

/// The 1cycle policy: the learning rate rises from a minimum to `maxLearningRate`, falls again,
/// and ends orders of magnitude lower, while the momentum moves the opposite way.
///
/// Three variants, each equal to its library:
///
/// - `pytorch`, PyTorch's `OneCycleLR`: starts at `max / divFactor` and, over the first
///   `pctStart × T − 1` steps, anneals (cosine by default) to the maximum, then anneals to
///   `max / divFactor / finalDivFactor` at step `T − 1`. With `threePhase` it comes back to
///   `max / divFactor` at step `2 pctStart T − 2` and only then falls to the minimum. Momentum
///   anneals `maxMomentum → baseMomentum → maxMomentum` with the same phases (held at the
///   maximum in the third). Defaults: `pctStart` 0.3, cosine, `divFactor` 25,
///   `finalDivFactor` 1e4, momentum 0.85–0.95.
/// - `fastai`, fastai's `fit_one_cycle`: `combined_cos(pctStart, max/div, max, max/div_final)`
///   at progress `k / T`, with `finalDivFactor` as fastai's `div_final` (the end is
///   `max / finalDivFactor`). Defaults: `pctStart` 0.25, cosine, `divFactor` 25,
///   `finalDivFactor` 1e5, momentum 0.95 → 0.85 → 0.95.
/// - `smith`, Smith's 1cycle (arXiv:1803.09820): over the steps 0 … T − 1, linear from
///   `min = max / divFactor` to the maximum during the first `pctStart` of the run, linear back
///   to `min` until the last `annihilation` fraction, then linear to `min / finalDivFactor` at
///   the last step; momentum linear `max → base → max` over the cycle and held at the maximum
///   while annihilating. Defaults: `annihilation` 0.1, `pctStart` (1 − annihilation)/2,
///   `divFactor` 10, `finalDivFactor` 1000, momentum 0.85–0.95.
public struct OneCycle: SchedulePolicy {
  public static let name = "one-cycle"

  /// Which library's 1cycle this is.
  public var variant: OneCycleVariant
  /// The peak learning rate.
  public var maxLearningRate: Double
  /// The fraction of the run spent raising the learning rate (PyTorch's and fastai's
  /// `pct_start`).
  public var pctStart: Double
  /// The shape of every phase (PyTorch's `anneal_strategy`).
  public var annealing: Annealing
  /// The starting learning rate is `maxLearningRate / divFactor`.
  public var divFactor: Double
  /// How far below the start (pytorch, smith) or the maximum (fastai's `div_final`) the run
  /// ends.
  public var finalDivFactor: Double
  /// PyTorch's `three_phase`: come back to the start before annihilating. PyTorch only.
  public var threePhase: Bool
  /// Whether momentum cycles inversely to the learning rate.
  public var cycleMomentum: Bool
  /// The momentum at the peak learning rate.
  public var baseMomentum: Double
  /// The momentum at the start and end.
  public var maxMomentum: Double
  /// The fraction of the run at its end spent annihilating the learning rate. Smith only.
  public var annihilation: Double

  /// A 1cycle policy; every parameter left `nil` takes the variant's default (see the type's
  /// documentation).
  public init(
    variant: OneCycleVariant = .pytorch,
    maxLearningRate: Double,
    pctStart: Double? = nil,
    annealing: Annealing? = nil,
    divFactor: Double? = nil,
    finalDivFactor: Double? = nil,
    threePhase: Bool = false,
    cycleMomentum: Bool = true,
    baseMomentum: Double? = nil,
    maxMomentum: Double? = nil,
    annihilation: Double? = nil
  ) {
    self.variant = variant
    self.maxLearningRate = maxLearningRate
    let annihilation = annihilation ?? (variant == .smith ? 0.1 : 0)
    self.annihilation = annihilation
    switch variant {
    case .pytorch:
      self.pctStart = pctStart ?? 0.3
      self.annealing = annealing ?? .cosine
      self.divFactor = divFactor ?? 25
      self.finalDivFactor = finalDivFactor ?? 1e4
    case .fastai:
      self.pctStart = pctStart ?? 0.25
      self.annealing = annealing ?? .cosine
      self.divFactor = divFactor ?? 25
      self.finalDivFactor = finalDivFactor ?? 1e5
    case .smith:
      self.pctStart = pctStart ?? (1 - annihilation) / 2
      self.annealing = annealing ?? .linear
      self.divFactor = divFactor ?? 10
      self.finalDivFactor = finalDivFactor ?? 1000
    }
    self.threePhase = threePhase
    self.cycleMomentum = cycleMomentum
    self.baseMomentum = baseMomentum ?? 0.85
    self.maxMomentum = maxMomentum ?? 0.95
  }

  /// The learning rate at step 0: `maxLearningRate / divFactor`.
  public var initialLearningRate: Double { maxLearningRate / divFactor }

  /// The learning rate the run ends at.
  public var finalLearningRate: Double {
    switch variant {
    case .pytorch, .smith: return initialLearningRate / finalDivFactor
    case .fastai: return maxLearningRate / finalDivFactor
    }
  }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(maxLearningRate, "maxLearningRate")
    try Check.positive(divFactor, "divFactor")
    try Check.positive(finalDivFactor, "finalDivFactor")
    if variant == .smith {
      try Check.halfOpen(annihilation, 0, 1, "annihilation")
      try Check.open(pctStart, 0, 1 - annihilation, "pctStart")
    } else {
      try Check.open(pctStart, 0, 1, "pctStart")
      guard annihilation == 0 else {
        throw .onlyFor(parameter: "annihilation", scope: "the smith variant", got: variant.rawValue)
      }
    }
    if threePhase && variant != .pytorch {
      throw .onlyFor(parameter: "threePhase", scope: "the pytorch variant", got: variant.rawValue)
    }
    if case .polynomial(let power) = annealing { try Check.positive(power, "power") }
    if cycleMomentum {
      try Check.momentum(baseMomentum, "baseMomentum")
      try Check.momentum(maxMomentum, "maxMomentum")
      try Check.ordered(baseMomentum, "baseMomentum", maxMomentum, "maxMomentum")
    }
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    switch variant {
    case .pytorch: return pytorchCurves(totalSteps: totalSteps)
    case .fastai: return fastaiCurves(totalSteps: totalSteps)
    case .smith: return smithCurves(totalSteps: totalSteps)
    }
  }

  /// PyTorch's phases end at steps `pct_start·T − 1`, (`2·pct_start·T − 2`,) `T − 1`, and a
  /// step on a boundary lies at the end of one phase and the start of the next, which agree.
  private func pytorchCurves(totalSteps: Int) -> ScheduleCurves {
    let total = Double(totalSteps)
    let peak = pctStart * total - 1
    let initial = initialLearningRate
    let final = finalLearningRate
    let (maxRate, high, low) = (maxLearningRate, maxMomentum, baseMomentum)
    var ends: [Double]
    var rates: [(Double, Double)]
    var momenta: [(Double, Double)]
    if threePhase {
      ends = [peak, 2 * pctStart * total - 2, total - 1]
      rates = [(initial, maxRate), (maxRate, initial), (initial, final)]
      momenta = [(high, low), (low, high), (high, high)]
    } else {
      ends = [peak, total - 1]
      rates = [(initial, maxRate), (maxRate, final)]
      momenta = [(high, low), (low, high)]
    }
    let lengths = zip(ends, [0] + ends.dropLast()).map { $0 - $1 }
    func phases(_ values: [(Double, Double)]) -> Curve {
      .sequence(
        zip(lengths, values).map { length, pair in
          Curve.Phase(
            length: length,
            curve: .anneal(shape: annealing, from: pair.0, to: pair.1, length: length))
        })
    }
    return ScheduleCurves(
      learningRate: phases(rates), momentum: cycleMomentum ? phases(momenta) : nil)
  }

  /// fastai: `combined_cos(pct, start, middle, end)` is
  /// `combine_scheds([pct, 1 - pct], [SchedCos(start, middle), SchedCos(middle, end)])`.
  private func fastaiCurves(totalSteps: Int) -> ScheduleCurves {
    func combined(_ start: Double, _ middle: Double, _ end: Double) -> Curve {
      .fractions(
        [
          Curve.Phase(
            length: pctStart, curve: .anneal(shape: annealing, from: start, to: middle, length: 1)),
          Curve.Phase(
            length: 1 - pctStart,
            curve: .anneal(shape: annealing, from: middle, to: end, length: 1)),
        ], totalSteps: totalSteps)
    }
    return ScheduleCurves(
      learningRate: combined(initialLearningRate, maxLearningRate, finalLearningRate),
      momentum: cycleMomentum ? combined(maxMomentum, baseMomentum, maxMomentum) : nil)
  }

  /// Smith: the phases split the steps 0 … T − 1 by fraction of the run.
  private func smithCurves(totalSteps: Int) -> ScheduleCurves {
    let span = Double(totalSteps - 1)
    let lengths = [pctStart * span, (1 - annihilation - pctStart) * span, annihilation * span]
    let low = initialLearningRate
    let rates = [(low, maxLearningRate), (maxLearningRate, low), (low, finalLearningRate)]
    let momenta = [(maxMomentum, baseMomentum), (baseMomentum, maxMomentum)]
    let rate = Curve.sequence(
      zip(lengths, rates).map { length, pair in
        Curve.Phase(
          length: length,
          curve: .anneal(shape: annealing, from: pair.0, to: pair.1, length: length))
      })
    var momentum = zip(lengths, momenta).map { length, pair in
      Curve.Phase(
        length: length, curve: .anneal(shape: annealing, from: pair.0, to: pair.1, length: length))
    }
    momentum.append(Curve.Phase(length: lengths[2], curve: .constant(maxMomentum)))
    return ScheduleCurves(
      learningRate: rate, momentum: cycleMomentum ? .sequence(momentum) : nil)
  }
}
