/// Cyclical learning rates (Smith, arXiv:1506.01186) as PyTorch's `CyclicLR` computes them.
///
/// The learning rate climbs linearly from `baseLearningRate` to `maxLearningRate` over
/// `stepSizeUp` steps and falls back over `stepSizeDown`, again and again; the amplitude
/// `max − base` is scaled by the mode:
///
/// | mode | scale | evaluated on (default `scaleMode`) |
/// | --- | --- | --- |
/// | `triangular` | 1 | cycle |
/// | `triangular2` | 1 / 2^(x − 1) | cycle number x = 1, 2, … |
/// | `expRange` | gamma^x | iteration x = k |
///
/// Momentum, when cycled, moves inversely between `maxMomentum` (at the base rate) and
/// `baseMomentum` (at the peak), scaled the same way.
///
/// PyTorch applies `scale_mode` only to a custom `scale_fn` and always evaluates the built-in
/// modes as in the table; here an explicit ``scaleMode`` is honoured, so leave it at the mode's
/// default to match PyTorch.
public struct CyclicRate: SchedulePolicy {
  public static let name = "cyclic"

  /// How the amplitude shrinks from cycle to cycle.
  public enum Mode: String, Sendable, Hashable, Codable, CaseIterable {
    /// No scaling.
    case triangular
    /// Halve the amplitude every cycle.
    case triangular2
    /// Multiply the amplitude by gamma every iteration.
    case expRange = "exp_range"

    /// What the mode's scale function is evaluated on in PyTorch.
    public var defaultScaleMode: ScaleMode { self == .expRange ? .iterations : .cycle }
  }

  /// What the mode's scale function is evaluated on.
  public enum ScaleMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// The cycle number, 1 for the first cycle.
    case cycle
    /// The iteration (step) number, 0 for the first step.
    case iterations
  }

  /// The lower bound of the cycle.
  public var baseLearningRate: Double
  /// The upper bound of the cycle (reached unscaled in the first cycle only).
  public var maxLearningRate: Double
  /// Steps in the rising half of a cycle.
  public var stepSizeUp: Int
  /// Steps in the falling half of a cycle.
  public var stepSizeDown: Int
  /// The amplitude scaling policy.
  public var mode: Mode
  /// The constant of `expRange`.
  public var gamma: Double
  /// What the scale function is evaluated on.
  public var scaleMode: ScaleMode
  /// Whether momentum cycles inversely to the learning rate.
  public var cycleMomentum: Bool
  /// The momentum at the peak learning rate.
  public var baseMomentum: Double
  /// The momentum at the base learning rate.
  public var maxMomentum: Double

  /// A cyclical policy with PyTorch's defaults: `stepSizeDown` equal to `stepSizeUp`,
  /// `triangular`, gamma 1, the mode's scale mode, momentum cycled between 0.8 and 0.9.
  public init(
    baseLearningRate: Double,
    maxLearningRate: Double,
    stepSizeUp: Int = 2000,
    stepSizeDown: Int? = nil,
    mode: Mode = .triangular,
    gamma: Double = 1,
    scaleMode: ScaleMode? = nil,
    cycleMomentum: Bool = true,
    baseMomentum: Double = 0.8,
    maxMomentum: Double = 0.9
  ) {
    self.baseLearningRate = baseLearningRate
    self.maxLearningRate = maxLearningRate
    self.stepSizeUp = stepSizeUp
    self.stepSizeDown = stepSizeDown ?? stepSizeUp
    self.mode = mode
    self.gamma = gamma
    self.scaleMode = scaleMode ?? mode.defaultScaleMode
    self.cycleMomentum = cycleMomentum
    self.baseMomentum = baseMomentum
    self.maxMomentum = maxMomentum
  }

  /// Steps in one whole cycle.
  public var cycleLength: Int { stepSizeUp + stepSizeDown }

  public func validate(totalSteps: Int) throws(ScheduleError) {
    try Check.steps(totalSteps)
    try Check.positive(baseLearningRate, "baseLearningRate")
    try Check.positive(maxLearningRate, "maxLearningRate")
    try Check.ordered(baseLearningRate, "baseLearningRate", maxLearningRate, "maxLearningRate")
    try Check.atLeast(stepSizeUp, 1, "stepSizeUp")
    try Check.atLeast(stepSizeDown, 0, "stepSizeDown")
    try Check.positive(gamma, "gamma")
    if cycleMomentum {
      try Check.momentum(baseMomentum, "baseMomentum")
      try Check.momentum(maxMomentum, "maxMomentum")
      try Check.ordered(baseMomentum, "baseMomentum", maxMomentum, "maxMomentum")
    }
  }

  public func curves(totalSteps: Int) -> ScheduleCurves {
    let up = Double(stepSizeUp)
    let down = Double(stepSizeDown)
    let period = up + down
    // 0 → 1 → 0 over one cycle, repeated.
    let triangle = Curve.repeating(
      .sequence([
        Curve.Phase(length: up, curve: .anneal(shape: .linear, from: 0, to: 1, length: up)),
        Curve.Phase(length: down, curve: .anneal(shape: .linear, from: 1, to: 0, length: down)),
      ]), period: period)
    // PyTorch: cycle = ⌊1 + k / (up + down)⌋, so the cycle number x is 1 + ⌊k / period⌋.
    let scale: Curve
    switch (mode, scaleMode) {
    case (.triangular, _):
      scale = .constant(1)
    case (.triangular2, .cycle):  // 1 / 2^(x − 1) = 0.5^⌊k / period⌋
      scale = .geometric(start: 1, factor: 0.5, interval: period)
    case (.triangular2, .iterations):  // 1 / 2^(k − 1) = 2 · 0.5^k
      scale = .geometric(start: 2, factor: 0.5, interval: 1)
    case (.expRange, .cycle):  // gamma^x = gamma · gamma^⌊k / period⌋
      scale = .geometric(start: gamma, factor: gamma, interval: period)
    case (.expRange, .iterations):  // gamma^k
      scale = .geometric(start: 1, factor: gamma, interval: 1)
    }
    func oscillation(from start: Double, amplitude: Double) -> Curve {
      .sum([.constant(start), .product([.constant(amplitude), scale, triangle])])
    }
    return ScheduleCurves(
      learningRate: oscillation(
        from: baseLearningRate, amplitude: maxLearningRate - baseLearningRate),
      momentum: cycleMomentum
        ? oscillation(from: maxMomentum, amplitude: baseMomentum - maxMomentum) : nil)
  }
}
