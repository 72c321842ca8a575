import Foundation
import RangeTests
import Schedules
import Sessions

extension Phase {
  public static let dropout = Phase(studying: .dropout)
  public static let augmentation = Phase(studying: .augmentation)
}

/// What the regularization phase decided.
public struct RegularizationDecision: Sendable {
  public var dropout: Choice<Double>
  public var augmentation: Choice<String>
}

/// Phase 5: dropout, then augmentation, at the chosen batch size, momentum and weight decay. It
/// always runs: without candidates (or room in the budget) it passes the given values on.
public struct RegularizationStep: RecipeStep {
  public init() {}
  public var title: String { "regularization" }
  public var phases: [Phase] { [.dropout, .augmentation] }
  public func counts<B: TuningBackend>(in recipe: Recipe<B>) -> Bool {
    recipe.studiesRegularization
  }
  public func run<B: TuningBackend>(_ recipe: Recipe<B>, _ findings: inout Findings) throws {
    let batch = try findings.required(\.batch, by: title, from: "batch size")
    let momentum = try findings.required(\.momentum, by: title, from: "momentum")
    let wd = try findings.required(\.weightDecay, by: title, from: "weight decay")
    findings.regularization = try recipe.regularizationPhase(
      batchSize: batch.batchSize.value, weightDecay: wd.weightDecay.value,
      momentum: momentum.max.value, sweepFrom: findings.rangeTestStart,
      rangeTestNoise: batch.rangeTestNoise)
  }
}

extension Recipe {
  /// Phase 5: LR range tests at each dropout rate, then at each augmentation with the chosen
  /// rate, at the chosen batch size, momentum and weight decay (Docs/METHOD.md §5: compare the curves
  /// under several regularization settings). Of the settings whose validation loss the short
  /// test cannot tell from the lowest, the strongest: the final run is many times longer than
  /// the test, and its overfitting is what the regularization is for (measured on the cnn:
  /// 20-epoch runs gain 0.1–0.25 points with dropout or flips that cost 2–5% of validation loss
  /// in the range test). Sessions made afterwards use the choice.
  public func regularizationPhase(
    batchSize batch: Int, weightDecay wd: Double, momentum: Double, sweepFrom start: Double?,
    rangeTestNoise: RangeTestNoise?
  ) throws -> RegularizationDecision {
    let steps = rangeTestSteps(batchSize: batch)
    // The balance of regularization as a whole (Docs/METHOD.md §5): dropout and augmentation may take
    // the stronger of settings a short test cannot tell apart only while the weight decay is at
    // or below its prior; a weight decay the trials chose above it already regularizes more than
    // the default, and ties stacked on it would leave the final run underfitting.
    let balance = Self.regularizationBalance(weightDecay: wd, prior: priorWeightDecay)
    var base = rangeSettings(
      steps: steps, weightDecay: wd, momentum: momentum, validate: true, start: start)
    base.validationBatches = settings.validationBatches
    /// One study: a range test per candidate (weakest first), read by `chooseRegularization`.
    func study<Value: Codable & Sendable & Equatable>(
      _ candidates: [Value], current: Value, kind: String, key: String, phase: Phase,
      tolerance: Double, why: String,
      name: (Value) -> String, condition: (Value) -> RangeTestCondition
    ) throws -> Choice<Value> {
      if candidates.count >= 2, let why = notApplied(phase) {
        return Choice(current, "as given: \(why)")
      }
      guard studiesRegularization else {
        return Choice(
          current,
          candidates.count >= 2
            ? "as given: the budget had no room for the \(phase.rawValue) study's range tests"
            : "as given (no \(phase.rawValue) study)")
      }
      guard candidates.count >= 2 else {
        return Choice(
          current,
          candidates.isEmpty ? "as given (no \(phase.rawValue) study)" : "the only candidate")
      }
      let overlay = try rangeTest(
        key: key, phase: phase,
        label:
          "LR range tests with \(phase.rawValue) \(candidates.map(name).joined(separator: ", "))",
        conditions: candidates.map(condition), base: base, batchSize: { $0.batchSize! })
      // The overlay keeps the candidates' order.
      let rows = zip(candidates, overlay.conditions).map {
        (value: $0, name: name($0), validation: $1.lowestValidationLoss, stableUpTo: $1.stableUpTo)
      }
      return Self.chooseRegularization(
        rows, kind: kind, tolerance: tolerance, why: why, noise: rangeTestNoise?.band,
        balance: balance)
    }
    let dropoutChoice = try study(
      settings.dropouts, current: regularization.dropout, kind: "rates",
      key: "dropout/range-test/\(batch)", phase: .dropout,
      tolerance: settings.regularizationTolerance,
      why:
        "a difference that small is noise in a short test, and the final run is far longer, where regularization pays off",
      name: plainNumber
    ) {
      RangeTestCondition(
        name: "dropout \(plainNumber($0))", weightDecay: wd, batchSize: batch, dropout: $0,
        steps: steps)
    }
    regularization.dropout = dropoutChoice.value
    let augmentationChoice = try study(
      settings.augmentations, current: regularization.augmentation, kind: "augmentations",
      key: "augmentation/range-test/\(batch)/\(plainNumber(regularization.dropout))",
      phase: .augmentation,
      tolerance: settings.augmentationTolerance,
      why:
        "augmentation slows early learning by design, so a short test overstates its cost; it pays off in the far longer final run",
      name: { $0 },
      condition: {
        RangeTestCondition(
          name: "augmentation \($0)", weightDecay: wd, batchSize: batch,
          dropout: regularization.dropout, augmentation: $0, steps: steps)
      })
    regularization.augmentation = augmentationChoice.value
    return RegularizationDecision(dropout: dropoutChoice, augmentation: augmentationChoice)
  }

  /// Whether ties in dropout and augmentation may lean to the stronger setting, and why: only
  /// while the weight decay is at or below its prior (the weight-decay phase settles its own
  /// ties there, so only a weight decay the evidence chose above it turns the lean around).
  static func regularizationBalance(weightDecay wd: Double, prior: Double) -> RegularizationBalance
  {
    wd <= prior * (1 + 1e-9)
      ? RegularizationBalance(
        leansStronger: true,
        note:
          "balance: weight decay \(plainNumber(wd)) is at or below its prior \(plainNumber(prior)), so a tie may take the stronger setting"
      )
      : RegularizationBalance(
        leansStronger: false,
        note:
          "balance: weight decay \(plainNumber(wd)), above its prior \(plainNumber(prior)), already regularizes more than the default, so a tie takes the weaker setting instead of stacking regularization"
      )
  }

  /// Of the settings (weakest first) whose lowest validation loss is within `tolerance` of the
  /// lowest, the strongest — or, where `balance` says the regularization is already above its
  /// default, the weakest of them. `noise` (the range tests' own, where measured) is reported
  /// beside the tolerance; it does not move the choice.
  static func chooseRegularization<Value: Codable & Sendable & Equatable>(
    _ rows: [(value: Value, name: String, validation: Double?, stableUpTo: Double?)], kind: String,
    tolerance: Double, why: String, noise: Double? = nil,
    balance: RegularizationBalance = .init(leansStronger: true, note: nil)
  ) -> Choice<Value> {
    let strongest = strongestClose(rows.map(\.validation), tolerance: tolerance)
    let weakest = Margin.within(tolerance, of: rows.map { $0.validation ?? .infinity }).first
    guard let strongest, let weakest else {
      return Choice(
        rows[0].value,
        "no validation loss could be measured in the range tests; the weakest of the \(kind) is the safest"
      )
    }
    let table = rows.map { r in
      "\(r.name): " + (r.validation.map { String(format: "%.4f", $0) } ?? "—")
        + (r.stableUpTo.map { " to LR " + Self.formatLR($0) } ?? "")
    }.joined(separator: ", ")
    let chosen = balance.leansStronger ? strongest : weakest
    var margin = Margin(
      measure: "lowest validation loss in the LR range test",
      candidates: rows.map { .init(name: $0.name, loss: $0.validation ?? .infinity) },
      chosen: rows[chosen].name, band: tolerance, measured: false, measuredNoise: noise)
    let tied = strongest != weakest
    if tied { margin.settlement = balance.note }
    let rule =
      balance.leansStronger
      ? String(
        format:
          "the strongest of the %@ whose lowest validation loss in the LR range test is within %.0f%% of the lowest: %@",
        kind, 100 * tolerance, why)
      : String(
        format:
          "the weakest of the %@ whose lowest validation loss in the LR range test is within %.0f%% of the lowest",
        kind, 100 * tolerance)
    return Choice(
      rows[chosen].value,
      "\(rule) (validation loss, usable range: \(table))"
        + (tied ? balance.note.map { "; \($0)" } ?? "" : "") + "; \(margin.verdict)",
      margin: margin)
  }
}

/// Whether the regularization studies' ties may lean to the stronger setting, and the words that
/// say why (nil where nothing was weighed).
public struct RegularizationBalance: Sendable, Equatable {
  public var leansStronger: Bool
  public var note: String?
}
