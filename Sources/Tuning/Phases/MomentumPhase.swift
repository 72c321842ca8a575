import Foundation
import Schedules
import Sessions

extension Phase {
  public static let momentum = Phase(studying: .maxMomentum)
}

/// What the momentum phase decided: the top of the cycle and its bottom.
public struct MomentumDecision: Sendable {
  public var max: Choice<Double>
  public var min: Choice<Double>
}

/// Phase 3: the momentum, at the chosen batch size and its learning rate.
public struct MomentumStep: RecipeStep {
  public init() {}
  public var title: String { Phase.momentum.rawValue }
  public func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let batch = try findings.required(\.batch, by: title, from: "batch size")
    let b = batch.batchSize.value
    let steps = recipe.trialSteps(phase: .momentum, batchSize: b, planned: batch.stepsPerTrial)
    if let why = recipe.reasonToSkip(.momentum, steps: steps) {
      findings.momentum = recipe.defaultMomentum(why)
      return
    }
    findings.momentum = try recipe.momentumPhase(
      batchSize: b, learningRate: batch.learningRate, steps: steps)
  }
}

extension Recipe {
  /// The stated default when the phase does not run: Smith's usual cycle.
  func defaultMomentum(_ why: String) -> MomentumDecision {
    onEvent?(
      .note("momentum \(why); Smith's usual \(plainNumber(settings.defaultMomentum)) is taken"))
    let low = min(settings.defaultMomentum, settings.minMomenta.first ?? 0.85)
    return MomentumDecision(
      max: Choice(
        settings.defaultMomentum,
        "\(why); the stated default, Smith's usual top of the cycle (Docs/METHOD.md §2)"),
      min: Choice(low, "the usual bottom of the cycle"))
  }

  /// Phase 3: short trials at each momentum; the largest stable one, and the bottom of the cycle.
  public func momentumPhase(batchSize batch: Int, learningRate lr: Double, steps: Int) throws
    -> MomentumDecision
  {
    let baseMin = settings.minMomenta.first ?? 0.85
    func momentumSettings(_ m: Double, _ low: Double) -> TrialSettings {
      TrialSettings(
        batchSize: batch, maxLearningRate: lr, divFactor: settings.divFactor, maxMomentum: m,
        minMomentum: low,
        weightDecay: priorWeightDecay, steps: steps,
        evaluations: trialEvaluations(steps: steps, batchSize: batch),
        validationBatches: settings.validationBatches, seed: settings.seed)
    }
    let momentumTrials = Array(
      zip(
        momenta,
        try trials(
          momenta.map { m in
            TrialWork(
              key: "momentum/\(m)", phase: .momentum, label: "momentum \(m) → \(min(m, baseMin))",
              settings: momentumSettings(m, min(m, baseMin)))
          })))
    _ = try measureNoise(momentumTrials.map(\.1))
    var maxMomentum = chooseMomentum(momentumTrials)
    if momenta != settings.momenta {
      maxMomentum.reason +=
        "; β₁ candidates for the Adam family (your program's \(program?.optimizer ?? "optimizer")), without 0.99"
    }
    var minMomentum = Choice(min(maxMomentum.value, baseMin), "the usual bottom of the cycle")
    if let alternative = settings.minMomenta.dropFirst().first, alternative < maxMomentum.value,
      let reference = momentumTrials.first(where: { $0.0 == maxMomentum.value })?.1.result
    {
      let entry = try trial(
        key: "momentum/\(maxMomentum.value)-\(alternative)", phase: .momentum,
        label: "momentum \(maxMomentum.value) → \(alternative)",
        momentumSettings(maxMomentum.value, alternative))
      let a = entry.result!.finalValidationLoss
      let r = reference.finalValidationLoss
      // The alternative only when it is lower by more than the noise: otherwise the usual bottom.
      let (band, measured) = noiseBand(fallback: 0)
      let better = a.isFinite && (!r.isFinite || a * (1 + band) < r)
      let margin = Margin(
        measure: "early validation loss",
        candidates: [
          .init(name: plainNumber(baseMin), loss: r),
          .init(name: plainNumber(alternative), loss: a),
        ],
        chosen: plainNumber(better ? alternative : baseMin), band: band, measured: measured)
      minMomentum =
        better
        ? Choice(
          alternative,
          String(
            format:
              "cycling down to %g gave a lower early validation loss (%.4f) than down to %g (%.4f); %@",
            alternative, a, baseMin, r, margin.verdict), margin: margin)
        : Choice(
          min(maxMomentum.value, baseMin),
          String(
            format: "cycling down to %g (validation loss %.4f) did %@ down to %g (%.4f); %@",
            baseMin, r, r <= a ? "at least as well as" : "as well, within the noise, as",
            alternative, a, margin.verdict), margin: margin)
    }
    return MomentumDecision(max: maxMomentum, min: minMomentum)
  }
}
