/// Any of the module's policies, as a value a report or journal can store.
///
/// Encodes as `{"name": "one-cycle", "parameters": {…}}`, the parameters being those of the
/// wrapped policy type, every default filled in.
public indirect enum Policy: Sendable, Hashable {
  /// A fixed learning rate.
  case constant(ConstantRate)
  /// 1cycle: PyTorch's `OneCycleLR`, fastai's `fit_one_cycle` or Smith's own.
  case oneCycle(OneCycle)
  /// PyTorch's `CyclicLR`.
  case cyclic(CyclicRate)
  /// PyTorch's `StepLR`.
  case step(StepDecay)
  /// PyTorch's `MultiStepLR`.
  case multiStep(MultiStepDecay)
  /// PyTorch's `ExponentialLR`.
  case exponential(ExponentialDecay)
  /// PyTorch's `CosineAnnealingLR`.
  case cosine(CosineAnnealing)
  /// PyTorch's `CosineAnnealingWarmRestarts`.
  case warmRestarts(CosineWarmRestarts)
  /// fastai's `fit_sgdr`.
  case sgdr(SGDR)
  /// fastai's `fit_flat_cos`.
  case flatCosine(FlatCosine)
  /// PyTorch's `LinearLR`.
  case linear(LinearRamp)
  /// A `LinearLR` warm-up followed by another policy, as PyTorch's `SequentialLR` chains them.
  case warmup(Warmup)
  /// Curves built by hand from ``Curve`` primitives.
  case custom(ScheduleCurves)

  /// The names ``name`` takes, in the order of the cases.
  public static let names = [
    ConstantRate.name, OneCycle.name, CyclicRate.name, StepDecay.name, MultiStepDecay.name,
    ExponentialDecay.name, CosineAnnealing.name, CosineWarmRestarts.name, SGDR.name,
    FlatCosine.name, LinearRamp.name, Warmup.name, "custom",
  ]

  /// The policy's name on the command line and in JSON.
  public var name: String {
    switch self {
    case .constant: return ConstantRate.name
    case .oneCycle: return OneCycle.name
    case .cyclic: return CyclicRate.name
    case .step: return StepDecay.name
    case .multiStep: return MultiStepDecay.name
    case .exponential: return ExponentialDecay.name
    case .cosine: return CosineAnnealing.name
    case .warmRestarts: return CosineWarmRestarts.name
    case .sgdr: return SGDR.name
    case .flatCosine: return FlatCosine.name
    case .linear: return LinearRamp.name
    case .warmup: return Warmup.name
    case .custom: return "custom"
    }
  }

  /// Throws if the parameters cannot make a schedule of `totalSteps` steps.
  public func validate(totalSteps: Int) throws(ScheduleError) {
    switch self {
    case .constant(let policy): try policy.validate(totalSteps: totalSteps)
    case .oneCycle(let policy): try policy.validate(totalSteps: totalSteps)
    case .cyclic(let policy): try policy.validate(totalSteps: totalSteps)
    case .step(let policy): try policy.validate(totalSteps: totalSteps)
    case .multiStep(let policy): try policy.validate(totalSteps: totalSteps)
    case .exponential(let policy): try policy.validate(totalSteps: totalSteps)
    case .cosine(let policy): try policy.validate(totalSteps: totalSteps)
    case .warmRestarts(let policy): try policy.validate(totalSteps: totalSteps)
    case .sgdr(let policy): try policy.validate(totalSteps: totalSteps)
    case .flatCosine(let policy): try policy.validate(totalSteps: totalSteps)
    case .linear(let policy): try policy.validate(totalSteps: totalSteps)
    case .warmup(let policy): try policy.validate(totalSteps: totalSteps)
    case .custom: try Check.steps(totalSteps)
    }
  }

  /// The curves of a run of `totalSteps` steps; call after ``validate(totalSteps:)``.
  public func curves(totalSteps: Int) -> ScheduleCurves {
    switch self {
    case .constant(let policy): return policy.curves(totalSteps: totalSteps)
    case .oneCycle(let policy): return policy.curves(totalSteps: totalSteps)
    case .cyclic(let policy): return policy.curves(totalSteps: totalSteps)
    case .step(let policy): return policy.curves(totalSteps: totalSteps)
    case .multiStep(let policy): return policy.curves(totalSteps: totalSteps)
    case .exponential(let policy): return policy.curves(totalSteps: totalSteps)
    case .cosine(let policy): return policy.curves(totalSteps: totalSteps)
    case .warmRestarts(let policy): return policy.curves(totalSteps: totalSteps)
    case .sgdr(let policy): return policy.curves(totalSteps: totalSteps)
    case .flatCosine(let policy): return policy.curves(totalSteps: totalSteps)
    case .linear(let policy): return policy.curves(totalSteps: totalSteps)
    case .warmup(let policy): return policy.curves(totalSteps: totalSteps)
    case .custom(let curves): return curves
    }
  }
}

extension Policy: Codable {
  enum CodingKeys: String, CodingKey {
    case name, parameters
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let name = try container.decode(String.self, forKey: .name)
    func parameters<P: Decodable>(_ type: P.Type) throws -> P {
      try container.decode(type, forKey: .parameters)
    }
    switch name {
    case ConstantRate.name: self = .constant(try parameters(ConstantRate.self))
    case OneCycle.name: self = .oneCycle(try parameters(OneCycle.self))
    case CyclicRate.name: self = .cyclic(try parameters(CyclicRate.self))
    case StepDecay.name: self = .step(try parameters(StepDecay.self))
    case MultiStepDecay.name: self = .multiStep(try parameters(MultiStepDecay.self))
    case ExponentialDecay.name: self = .exponential(try parameters(ExponentialDecay.self))
    case CosineAnnealing.name: self = .cosine(try parameters(CosineAnnealing.self))
    case CosineWarmRestarts.name: self = .warmRestarts(try parameters(CosineWarmRestarts.self))
    case SGDR.name: self = .sgdr(try parameters(SGDR.self))
    case FlatCosine.name: self = .flatCosine(try parameters(FlatCosine.self))
    case LinearRamp.name: self = .linear(try parameters(LinearRamp.self))
    case Warmup.name: self = .warmup(try parameters(Warmup.self))
    case "custom": self = .custom(try parameters(ScheduleCurves.self))
    default:
      throw DecodingError.dataCorruptedError(
        forKey: .name, in: container,
        debugDescription: "unknown schedule policy '\(name)'; expected one of "
          + Policy.names.joined(separator: ", "))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(name, forKey: .name)
    switch self {
    case .constant(let policy): try container.encode(policy, forKey: .parameters)
    case .oneCycle(let policy): try container.encode(policy, forKey: .parameters)
    case .cyclic(let policy): try container.encode(policy, forKey: .parameters)
    case .step(let policy): try container.encode(policy, forKey: .parameters)
    case .multiStep(let policy): try container.encode(policy, forKey: .parameters)
    case .exponential(let policy): try container.encode(policy, forKey: .parameters)
    case .cosine(let policy): try container.encode(policy, forKey: .parameters)
    case .warmRestarts(let policy): try container.encode(policy, forKey: .parameters)
    case .sgdr(let policy): try container.encode(policy, forKey: .parameters)
    case .flatCosine(let policy): try container.encode(policy, forKey: .parameters)
    case .linear(let policy): try container.encode(policy, forKey: .parameters)
    case .warmup(let policy): try container.encode(policy, forKey: .parameters)
    case .custom(let curves): try container.encode(curves, forKey: .parameters)
    }
  }
}
