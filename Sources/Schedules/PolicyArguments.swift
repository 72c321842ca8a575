/// The policies by the names `discipline schedule POLICY` and `fit --policy` take.
public enum PolicyName: String, CaseIterable, Sendable {
  case oneCycle = "one-cycle"
  case cyclic
  case step
  case multiStep = "multi-step"
  case exponential
  case cosine
  case warmRestarts = "warm-restarts"
  case sgdr
  case flatCos = "flat-cos"
  case linear
  case constant

  /// What each policy reproduces, for help text.
  public var summary: String {
    switch self {
    case .oneCycle: return "1cycle: PyTorch OneCycleLR, fastai fit_one_cycle or Smith's own"
    case .cyclic: return "PyTorch CyclicLR (triangular, triangular2, exp_range)"
    case .step: return "PyTorch StepLR"
    case .multiStep: return "PyTorch MultiStepLR"
    case .exponential: return "PyTorch ExponentialLR"
    case .cosine: return "PyTorch CosineAnnealingLR"
    case .warmRestarts: return "PyTorch CosineAnnealingWarmRestarts"
    case .sgdr: return "fastai fit_sgdr"
    case .flatCos: return "fastai fit_flat_cos"
    case .linear: return "PyTorch LinearLR"
    case .constant: return "a fixed learning rate"
    }
  }

  /// The policies with a warm-up of their own (PyTorch's SequentialLR with LinearLR first).
  static let decays: Set<PolicyName> = [
    .step, .multiStep, .exponential, .cosine, .warmRestarts, .constant,
  ]
}

/// The parameters of every policy by name, each optional, named after the policy types' own
/// (`maxLearningRate`, `pctStart`): what a command line gives. `schedule(_:totalSteps:)` makes
/// the named policy's schedule, with each unset parameter at its library's default, and
/// rejects a parameter the policy does not use or one it cannot do without
/// (`ScheduleError.notFor`, `.missing`).
public struct PolicyArguments: Sendable {
  public var learningRate, maxLearningRate, baseLearningRate: Double?
  // one-cycle
  public var variant: OneCycleVariant?
  public var pctStart: Double?
  public var annealing: Annealing?
  public var divFactor, finalDivFactor: Double?
  public var threePhase = false
  public var annihilation: Double?
  // momentum cycling
  public var baseMomentum, maxMomentum: Double?
  public var cycleMomentum: Bool?
  // cyclic
  public var stepSizeUp, stepSizeDown: Int?
  public var mode: CyclicRate.Mode?
  public var gamma: Double?
  public var scaleMode: CyclicRate.ScaleMode?
  // decays and restarts
  public var stepSize: Int?
  public var milestones: [Int] = []
  public var tMax: Int?
  public var etaMin: Double?
  public var t0, tMult: Int?
  // fastai's SGDR
  public var cycles, cycleMult: Int?
  // linear
  public var startFactor, endFactor: Double?
  public var totalIters: Int?
  // warm-up
  public var warmupSteps: Int?
  public var warmupStartFactor: Double?

  public init() {}

  /// Each parameter, whether it is set, and the policies that use it.
  private var given: [(parameter: String, isSet: Bool, users: Set<PolicyName>)] {
    let decays = PolicyName.decays
    return [
      ("learningRate", learningRate != nil, decays.union([.flatCos, .linear])),
      ("maxLearningRate", maxLearningRate != nil, [.oneCycle, .cyclic, .sgdr]),
      ("baseLearningRate", baseLearningRate != nil, [.cyclic]),
      ("variant", variant != nil, [.oneCycle]),
      ("pctStart", pctStart != nil, [.oneCycle, .flatCos]),
      ("annealing", annealing != nil, [.oneCycle]),
      ("divFactor", divFactor != nil, [.oneCycle]),
      ("finalDivFactor", finalDivFactor != nil, [.oneCycle, .flatCos]),
      ("threePhase", threePhase, [.oneCycle]),
      ("annihilation", annihilation != nil, [.oneCycle]),
      ("baseMomentum", baseMomentum != nil, [.oneCycle, .cyclic]),
      ("maxMomentum", maxMomentum != nil, [.oneCycle, .cyclic]),
      ("cycleMomentum", cycleMomentum != nil, [.oneCycle, .cyclic]),
      ("stepSizeUp", stepSizeUp != nil, [.cyclic]),
      ("stepSizeDown", stepSizeDown != nil, [.cyclic]),
      ("mode", mode != nil, [.cyclic]),
      ("gamma", gamma != nil, [.cyclic, .step, .multiStep, .exponential]),
      ("scaleMode", scaleMode != nil, [.cyclic]),
      ("stepSize", stepSize != nil, [.step]),
      ("milestones", !milestones.isEmpty, [.multiStep]),
      ("tMax", tMax != nil, [.cosine]),
      ("etaMin", etaMin != nil, [.cosine, .warmRestarts]),
      ("t0", t0 != nil, [.warmRestarts]),
      ("tMult", tMult != nil, [.warmRestarts]),
      ("cycles", cycles != nil, [.sgdr]),
      ("cycleMult", cycleMult != nil, [.sgdr]),
      ("startFactor", startFactor != nil, [.linear]),
      ("endFactor", endFactor != nil, [.linear]),
      ("totalIters", totalIters != nil, [.linear]),
      ("warmupSteps", warmupSteps != nil, decays),
      ("warmupStartFactor", warmupStartFactor != nil, decays),
    ]
  }

  /// The schedule `policy` makes with these parameters over `totalSteps` optimizer steps.
  public func schedule(_ policy: PolicyName, totalSteps: Int) throws(ScheduleError) -> Schedule {
    for option in given where option.isSet && !option.users.contains(policy) {
      throw .notFor(
        parameter: option.parameter, policy: policy.rawValue,
        users: PolicyName.allCases.filter { option.users.contains($0) }.map(\.rawValue))
    }
    if warmupStartFactor != nil && warmupSteps == nil {
      throw .needs(parameter: "warmupStartFactor", other: "warmupSteps")
    }
    let warmup = warmupSteps ?? 0
    let value = try self.policy(policy, stepsAfterWarmup: totalSteps - warmup)
    let wrapped: Policy =
      warmupSteps.map { steps in
        .warmup(Warmup(steps: steps, startFactor: warmupStartFactor ?? 1.0 / 3, then: value))
      } ?? value
    return try Schedule(wrapped, totalSteps: totalSteps)
  }

  private func required<Value>(_ value: Value?, _ parameter: String, _ policy: PolicyName)
    throws(ScheduleError) -> Value
  {
    guard let value else { throw .missing(parameter: parameter, policy: policy.rawValue) }
    return value
  }

  private func policy(_ policy: PolicyName, stepsAfterWarmup: Int) throws(ScheduleError) -> Policy {
    switch policy {
    case .oneCycle:
      return .oneCycle(
        OneCycle(
          variant: variant ?? .pytorch,
          maxLearningRate: try required(maxLearningRate, "maxLearningRate", policy),
          pctStart: pctStart, annealing: annealing, divFactor: divFactor,
          finalDivFactor: finalDivFactor, threePhase: threePhase,
          cycleMomentum: cycleMomentum ?? true, baseMomentum: baseMomentum,
          maxMomentum: maxMomentum, annihilation: annihilation))
    case .cyclic:
      return .cyclic(
        CyclicRate(
          baseLearningRate: try required(baseLearningRate, "baseLearningRate", policy),
          maxLearningRate: try required(maxLearningRate, "maxLearningRate", policy),
          stepSizeUp: stepSizeUp ?? 2000, stepSizeDown: stepSizeDown, mode: mode ?? .triangular,
          gamma: gamma ?? 1, scaleMode: scaleMode, cycleMomentum: cycleMomentum ?? true,
          baseMomentum: baseMomentum ?? 0.8, maxMomentum: maxMomentum ?? 0.9))
    case .step:
      return .step(
        StepDecay(
          learningRate: try required(learningRate, "learningRate", policy),
          stepSize: try required(stepSize, "stepSize", policy), gamma: gamma ?? 0.1))
    case .multiStep:
      guard !milestones.isEmpty else {
        throw .missing(parameter: "milestones", policy: policy.rawValue)
      }
      return .multiStep(
        MultiStepDecay(
          learningRate: try required(learningRate, "learningRate", policy),
          milestones: milestones, gamma: gamma ?? 0.1))
    case .exponential:
      return .exponential(
        ExponentialDecay(
          learningRate: try required(learningRate, "learningRate", policy),
          gamma: try required(gamma, "gamma", policy)))
    case .cosine:
      return .cosine(
        CosineAnnealing(
          learningRate: try required(learningRate, "learningRate", policy),
          tMax: tMax ?? stepsAfterWarmup, etaMin: etaMin ?? 0))
    case .warmRestarts:
      return .warmRestarts(
        CosineWarmRestarts(
          learningRate: try required(learningRate, "learningRate", policy),
          t0: try required(t0, "t0", policy), tMult: tMult ?? 1, etaMin: etaMin ?? 0))
    case .sgdr:
      return .sgdr(
        SGDR(
          maxLearningRate: try required(maxLearningRate, "maxLearningRate", policy),
          cycles: try required(cycles, "cycles", policy), cycleMult: cycleMult ?? 2))
    case .flatCos:
      return .flatCosine(
        FlatCosine(
          learningRate: try required(learningRate, "learningRate", policy),
          pctStart: pctStart ?? 0.75, finalDivFactor: finalDivFactor ?? 1e5))
    case .linear:
      return .linear(
        LinearRamp(
          learningRate: try required(learningRate, "learningRate", policy),
          startFactor: startFactor ?? 1.0 / 3, endFactor: endFactor ?? 1,
          totalIters: totalIters ?? 5))
    case .constant:
      return .constant(
        ConstantRate(learningRate: try required(learningRate, "learningRate", policy)))
    }
  }
}
