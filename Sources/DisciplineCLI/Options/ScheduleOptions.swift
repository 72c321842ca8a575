import ArgumentParser
import Foundation
import Schedules

/// The policies `discipline schedule POLICY` and `discipline fit --policy POLICY` accept.
enum PolicyName: String, CaseIterable {
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
  var summary: String {
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
}

/// PyTorch's `anneal_strategy`.
enum AnnealStrategy: String, CaseIterable {
  case cos, linear

  var annealing: Annealing { self == .cos ? .cosine : .linear }
}

/// The parameters of every schedule policy, named after the libraries' own (`--pct-start` is
/// PyTorch's and fastai's `pct_start`). Each policy reads the ones it uses and rejects the rest.
///
/// Defines `--lr`, `--max-lr`, `--base-lr`, the one-cycle, cyclic, decay, restart and warm-up
/// options below; a command that includes this group must not define those names itself.
struct PolicyParameters: ParsableArguments {
  @Option(
    name: .customLong("lr"), parsing: .unconditional,
    help: ArgumentHelp(
      "Learning rate of constant, step, multi-step, exponential, cosine, warm-restarts, "
        + "flat-cos and linear."))
  var learningRate: Double?

  @Option(
    name: .customLong("max-lr"), parsing: .unconditional,
    help: "Peak learning rate of one-cycle, cyclic and sgdr.")
  var maxLearningRate: Double?

  @Option(
    name: .customLong("base-lr"), parsing: .unconditional, help: "Lower learning rate of cyclic.")
  var baseLearningRate: Double?

  // MARK: one-cycle

  @Option(
    help: ArgumentHelp(
      "one-cycle: whose 1cycle to reproduce (default pytorch); unset options take its defaults.",
      valueName: "pytorch|fastai|smith"))
  var variant: ChoiceArgument<OneCycleVariant>?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "one-cycle, flat-cos: fraction of the run rising (one-cycle; pytorch 0.3, fastai 0.25, "
        + "smith (1 − annihilation)/2) or flat (flat-cos, 0.75)."))
  var pctStart: Double?

  @Option(
    help: ArgumentHelp(
      "one-cycle: annealing shape (pytorch and fastai cos, smith linear).", valueName: "cos|linear")
  )
  var anneal: ChoiceArgument<AnnealStrategy>?

  @Option(
    parsing: .unconditional,
    help: "one-cycle: start at max-lr / div-factor (pytorch and fastai 25, smith 10).")
  var divFactor: Double?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "one-cycle, flat-cos: end at start / F (pytorch 1e4, smith 1000), or at max-lr / F "
        + "(fastai's div_final 1e5; flat-cos 1e5)."))
  var finalDivFactor: Double?

  @Flag(help: "one-cycle (pytorch): PyTorch's three_phase, back to the start before annihilating.")
  var threePhase = false

  @Option(
    parsing: .unconditional,
    help: "one-cycle (smith): fraction of the run annihilating the rate (default 0.1).")
  var annihilation: Double?

  // MARK: momentum cycling

  @Option(
    parsing: .unconditional,
    help: "one-cycle, cyclic: momentum at the peak rate (one-cycle 0.85, cyclic 0.8).")
  var baseMomentum: Double?

  @Option(
    parsing: .unconditional,
    help: "one-cycle, cyclic: momentum at the lowest rate (one-cycle 0.95, cyclic 0.9).")
  var maxMomentum: Double?

  @Flag(
    inversion: .prefixedNo,
    help: "one-cycle, cyclic: cycle momentum (beta1 for Adam) inversely to the rate (default on).")
  var cycleMomentum: Bool?

  // MARK: cyclic

  @Option(
    parsing: .unconditional, help: "cyclic: steps rising in each cycle (default 2000, as PyTorch).")
  var stepSizeUp: Int?

  @Option(
    parsing: .unconditional, help: "cyclic: steps falling in each cycle (default step-size-up).")
  var stepSizeDown: Int?

  @Option(
    help: ArgumentHelp(
      "cyclic: amplitude scaling (default triangular).",
      valueName: "triangular|triangular2|exp_range"))
  var mode: ChoiceArgument<CyclicRate.Mode>?

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "cyclic (exp_range): amplitude factor per step (default 1); step, multi-step: decay "
        + "factor (default 0.1); exponential: factor per step (required)."))
  var gamma: Double?

  @Option(
    help: ArgumentHelp(
      "cyclic: what the scale is evaluated on (default: cycle for triangular and triangular2, "
        + "iterations for exp_range, which is what PyTorch always does).",
      valueName: "cycle|iterations"))
  var scaleMode: ChoiceArgument<CyclicRate.ScaleMode>?

  // MARK: decays

  @Option(parsing: .unconditional, help: "step: steps between decays (required).")
  var stepSize: Int?

  @Option(
    parsing: .upToNextOption,
    help: ArgumentHelp("multi-step: steps at which to decay, e.g. 30,80.", valueName: "steps"))
  var milestones: [IntegerList] = []

  @Option(
    parsing: .unconditional,
    help: "cosine: steps of the half cosine (default: the steps after any warm-up).")
  var tMax: Int?

  @Option(parsing: .unconditional, help: "cosine, warm-restarts: floor of the cosine (default 0).")
  var etaMin: Double?

  @Option(
    name: .customLong("t0"), parsing: .unconditional,
    help: "warm-restarts: steps until the first restart (required).")
  var t0: Int?

  @Option(
    parsing: .unconditional, help: "warm-restarts: growth factor of the restart period (default 1)."
  )
  var tMult: Int?

  // MARK: fastai SGDR

  @Option(parsing: .unconditional, help: "sgdr: number of cosine cycles (required).")
  var cycles: Int?

  @Option(
    parsing: .unconditional, help: "sgdr: growth factor of each cycle (default 2, as fastai).")
  var cycleMult: Int?

  // MARK: linear

  @Option(parsing: .unconditional, help: "linear: factor of --lr at step 0 (default 1/3).")
  var startFactor: Double?

  @Option(parsing: .unconditional, help: "linear: factor of --lr from total-iters on (default 1).")
  var endFactor: Double?

  @Option(parsing: .unconditional, help: "linear: steps over which the factor changes (default 5).")
  var totalIters: Int?

  // MARK: warm-up

  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "constant, step, multi-step, exponential, cosine, warm-restarts: a LinearLR warm-up of "
        + "this many steps first (PyTorch SequentialLR); the policy runs over the remaining steps.")
  )
  var warmupSteps: Int?

  @Option(
    parsing: .unconditional,
    help: "Warm-up: factor of the policy's first rate at step 0 (default 1/3, as LinearLR).")
  var warmupStartFactor: Double?

  /// The options given on the command line, by flag, with the policies that use them.
  private var given: [(flag: String, isSet: Bool, users: Set<PolicyName>)] {
    let decays: Set<PolicyName> = [
      .step, .multiStep, .exponential, .cosine, .warmRestarts, .constant,
    ]
    return [
      ("--lr", learningRate != nil, decays.union([.flatCos, .linear])),
      ("--max-lr", maxLearningRate != nil, [.oneCycle, .cyclic, .sgdr]),
      ("--base-lr", baseLearningRate != nil, [.cyclic]),
      ("--variant", variant != nil, [.oneCycle]),
      ("--pct-start", pctStart != nil, [.oneCycle, .flatCos]),
      ("--anneal", anneal != nil, [.oneCycle]),
      ("--div-factor", divFactor != nil, [.oneCycle]),
      ("--final-div-factor", finalDivFactor != nil, [.oneCycle, .flatCos]),
      ("--three-phase", threePhase, [.oneCycle]),
      ("--annihilation", annihilation != nil, [.oneCycle]),
      ("--base-momentum", baseMomentum != nil, [.oneCycle, .cyclic]),
      ("--max-momentum", maxMomentum != nil, [.oneCycle, .cyclic]),
      ("--[no-]cycle-momentum", cycleMomentum != nil, [.oneCycle, .cyclic]),
      ("--step-size-up", stepSizeUp != nil, [.cyclic]),
      ("--step-size-down", stepSizeDown != nil, [.cyclic]),
      ("--mode", mode != nil, [.cyclic]),
      ("--gamma", gamma != nil, [.cyclic, .step, .multiStep, .exponential]),
      ("--scale-mode", scaleMode != nil, [.cyclic]),
      ("--step-size", stepSize != nil, [.step]),
      ("--milestones", !milestones.isEmpty, [.multiStep]),
      ("--t-max", tMax != nil, [.cosine]),
      ("--eta-min", etaMin != nil, [.cosine, .warmRestarts]),
      ("--t0", t0 != nil, [.warmRestarts]),
      ("--t-mult", tMult != nil, [.warmRestarts]),
      ("--cycles", cycles != nil, [.sgdr]),
      ("--cycle-mult", cycleMult != nil, [.sgdr]),
      ("--start-factor", startFactor != nil, [.linear]),
      ("--end-factor", endFactor != nil, [.linear]),
      ("--total-iters", totalIters != nil, [.linear]),
      ("--warmup-steps", warmupSteps != nil, decays),
      ("--warmup-start-factor", warmupStartFactor != nil, decays),
    ]
  }

  /// The schedule `policy` with these parameters makes over `totalSteps` optimizer steps.
  ///
  /// - Throws: `ValidationError` with a one-line message naming the flag at fault.
  func makeSchedule(_ policy: PolicyName, totalSteps: Int) throws -> Schedule {
    for option in given where option.isSet && !option.users.contains(policy) {
      let users = PolicyName.allCases.filter { option.users.contains($0) }.map(\.rawValue)
      throw ValidationError(
        "\(option.flag) does not apply to \(policy.rawValue) (it is for "
          + "\(users.joined(separator: ", "))).")
    }
    if warmupStartFactor != nil && warmupSteps == nil {
      throw ValidationError("--warmup-start-factor needs --warmup-steps.")
    }
    let warmup = warmupSteps ?? 0
    let policyValue = try makePolicy(policy, stepsAfterWarmup: totalSteps - warmup)
    let wrapped: Policy =
      warmupSteps.map { steps in
        .warmup(Warmup(steps: steps, startFactor: warmupStartFactor ?? 1.0 / 3, then: policyValue))
      } ?? policyValue
    do {
      return try Schedule(wrapped, totalSteps: totalSteps)
    } catch {
      throw ValidationError(error.message(naming: Self.flag(for:)))
    }
  }

  private func required<Value>(_ value: Value?, _ flag: String, _ policy: PolicyName) throws
    -> Value
  {
    guard let value else { throw ValidationError("\(policy.rawValue) needs \(flag).") }
    return value
  }

  private func makePolicy(_ policy: PolicyName, stepsAfterWarmup: Int) throws -> Policy {
    switch policy {
    case .oneCycle:
      return .oneCycle(
        OneCycle(
          variant: try variant.value(for: "--variant") ?? .pytorch,
          maxLearningRate: try required(maxLearningRate, "--max-lr", policy),
          pctStart: pctStart, annealing: try anneal.value(for: "--anneal")?.annealing,
          divFactor: divFactor,
          finalDivFactor: finalDivFactor, threePhase: threePhase,
          cycleMomentum: cycleMomentum ?? true, baseMomentum: baseMomentum,
          maxMomentum: maxMomentum, annihilation: annihilation))
    case .cyclic:
      return .cyclic(
        CyclicRate(
          baseLearningRate: try required(baseLearningRate, "--base-lr", policy),
          maxLearningRate: try required(maxLearningRate, "--max-lr", policy),
          stepSizeUp: stepSizeUp ?? 2000, stepSizeDown: stepSizeDown,
          mode: try mode.value(for: "--mode") ?? .triangular,
          gamma: gamma ?? 1, scaleMode: try scaleMode.value(for: "--scale-mode"),
          cycleMomentum: cycleMomentum ?? true,
          baseMomentum: baseMomentum ?? 0.8, maxMomentum: maxMomentum ?? 0.9))
    case .step:
      return .step(
        StepDecay(
          learningRate: try required(learningRate, "--lr", policy),
          stepSize: try required(stepSize, "--step-size", policy), gamma: gamma ?? 0.1))
    case .multiStep:
      guard !milestones.isEmpty else { throw ValidationError("multi-step needs --milestones.") }
      return .multiStep(
        MultiStepDecay(
          learningRate: try required(learningRate, "--lr", policy),
          milestones: try milestones.flatMap { try $0.values(for: "--milestones") },
          gamma: gamma ?? 0.1))
    case .exponential:
      return .exponential(
        ExponentialDecay(
          learningRate: try required(learningRate, "--lr", policy),
          gamma: try required(gamma, "--gamma", policy)))
    case .cosine:
      return .cosine(
        CosineAnnealing(
          learningRate: try required(learningRate, "--lr", policy),
          tMax: tMax ?? stepsAfterWarmup, etaMin: etaMin ?? 0))
    case .warmRestarts:
      return .warmRestarts(
        CosineWarmRestarts(
          learningRate: try required(learningRate, "--lr", policy),
          t0: try required(t0, "--t0", policy), tMult: tMult ?? 1, etaMin: etaMin ?? 0))
    case .sgdr:
      return .sgdr(
        SGDR(
          maxLearningRate: try required(maxLearningRate, "--max-lr", policy),
          cycles: try required(cycles, "--cycles", policy), cycleMult: cycleMult ?? 2))
    case .flatCos:
      return .flatCosine(
        FlatCosine(
          learningRate: try required(learningRate, "--lr", policy), pctStart: pctStart ?? 0.75,
          finalDivFactor: finalDivFactor ?? 1e5))
    case .linear:
      return .linear(
        LinearRamp(
          learningRate: try required(learningRate, "--lr", policy),
          startFactor: startFactor ?? 1.0 / 3, endFactor: endFactor ?? 1,
          totalIters: totalIters ?? 5))
    case .constant:
      return .constant(ConstantRate(learningRate: try required(learningRate, "--lr", policy)))
    }
  }

  /// The flag of a policy parameter named as the Schedules module names it.
  static func flag(for parameter: String) -> String {
    switch parameter {
    case "learningRate": return "--lr"
    case "maxLearningRate": return "--max-lr"
    case "baseLearningRate": return "--base-lr"
    case "annealing": return "--anneal"
    case "t0": return "--t0"
    default:
      var flag = "--"
      for character in parameter {
        if character.isUppercase {
          flag += "-" + character.lowercased()
        } else {
          flag.append(character)
        }
      }
      return flag
    }
  }
}
