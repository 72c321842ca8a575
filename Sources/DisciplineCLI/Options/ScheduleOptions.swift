import ArgumentParser
import Foundation
import Schedules

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

  /// The parameters as the Schedules module takes them.
  func arguments() throws -> PolicyArguments {
    var a = PolicyArguments()
    a.learningRate = learningRate
    a.maxLearningRate = maxLearningRate
    a.baseLearningRate = baseLearningRate
    a.variant = try variant.value(for: "--variant")
    a.pctStart = pctStart
    a.annealing = try anneal.value(for: "--anneal")?.annealing
    a.divFactor = divFactor
    a.finalDivFactor = finalDivFactor
    a.threePhase = threePhase
    a.annihilation = annihilation
    a.baseMomentum = baseMomentum
    a.maxMomentum = maxMomentum
    a.cycleMomentum = cycleMomentum
    a.stepSizeUp = stepSizeUp
    a.stepSizeDown = stepSizeDown
    a.mode = try mode.value(for: "--mode")
    a.gamma = gamma
    a.scaleMode = try scaleMode.value(for: "--scale-mode")
    a.stepSize = stepSize
    a.milestones = try milestones.flatMap { try $0.values(for: "--milestones") }
    a.tMax = tMax
    a.etaMin = etaMin
    a.t0 = t0
    a.tMult = tMult
    a.cycles = cycles
    a.cycleMult = cycleMult
    a.startFactor = startFactor
    a.endFactor = endFactor
    a.totalIters = totalIters
    a.warmupSteps = warmupSteps
    a.warmupStartFactor = warmupStartFactor
    return a
  }

  /// The schedule `policy` with these parameters makes over `totalSteps` optimizer steps.
  ///
  /// - Throws: `ValidationError` with a one-line message naming the flag at fault.
  func makeSchedule(_ policy: PolicyName, totalSteps: Int) throws -> Schedule {
    do { return try arguments().schedule(policy, totalSteps: totalSteps) } catch let error
      as ScheduleError
    {
      throw ValidationError(
        error.message(naming: {
          $0 == "cycleMomentum" ? "--[no-]cycle-momentum" : Self.flag(for: $0)
        }))
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
