import Datasets
import Foundation
import NeuralNetworks
import Reports
import Schedules
import TrialProtocol
import Training
import Tuning

/// What `tune` writes: hyperparameters.json, the final metrics and checkpoint, report.html.
package struct TuneFiles {
  let directory: URL
  let outcome: TuneOutcome
  let journal: Journal
  let title: String
  let normalization: Normalization?
  let budget: Double
  /// The final model's file, relative to `directory` (a program's is its own).
  package var modelFile = "model.safetensors"
  /// The recipe's steps, in the order the report gives their sections.
  package var steps: [any RecipeStep] = recipeSteps
  /// The rate of `--virtual-clock`, when the budget was counted in work rather than wall time.
  package var virtualClock: Double?

  package init(
    directory: URL, outcome: TuneOutcome, journal: Journal, title: String,
    normalization: Normalization?, budget: Double
  ) {
    self.directory = directory
    self.outcome = outcome
    self.journal = journal
    self.title = title
    self.normalization = normalization
    self.budget = budget
  }

  func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  /// hyperparameters.json: the `TunedHyperParameters` in the file's schema (snake_case keys,
  /// values and reasons apart, the policy, the margins and the noise).
  struct Parameters: Encodable {
    struct Reasoned<T: Encodable>: Encodable {
      var value: T
      var reason: String
    }
    var max_lr: Double
    var min_lr: Double
    var policy: Policy
    var momentum: [Double]
    var weight_decay: Double
    var dropout: Double
    var augmentation: String
    var batch_size: Int
    var epochs: Int
    var reasons: [String: String]
    /// Each compared choice against the others and the noise.
    var margins: [String: MarginRecord]
    var noise: NoiseRecord
    /// Hyper-parameters beyond the recipe's own (steps added to it), each under its name
    /// beside the others; their reasons and margins in `reasons` and `margins`.
    var others: [String: HyperValue] = [:]

    struct Key: CodingKey {
      var stringValue: String
      var intValue: Int? { nil }
      init(_ s: String) { stringValue = s }
      init?(stringValue: String) { self.init(stringValue) }
      init?(intValue: Int) { nil }
    }
    func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: Key.self)
      try c.encode(max_lr, forKey: Key("max_lr"))
      try c.encode(min_lr, forKey: Key("min_lr"))
      try c.encode(policy, forKey: Key("policy"))
      try c.encode(momentum, forKey: Key("momentum"))
      try c.encode(weight_decay, forKey: Key("weight_decay"))
      try c.encode(dropout, forKey: Key("dropout"))
      try c.encode(augmentation, forKey: Key("augmentation"))
      try c.encode(batch_size, forKey: Key("batch_size"))
      try c.encode(epochs, forKey: Key("epochs"))
      try c.encode(reasons, forKey: Key("reasons"))
      try c.encode(margins, forKey: Key("margins"))
      try c.encode(noise, forKey: Key("noise"))
      for (name, value) in others { try c.encode(value, forKey: Key(name)) }
    }
  }

  /// A `Margin` as hyperparameters.json gives it (snake_case; a diverged candidate's loss null).
  struct MarginRecord: Encodable {
    struct Candidate: Encodable {
      var value: String
      var loss: Double?
    }
    var measure: String
    var candidates: [Candidate]
    var chosen: String
    var margin: Double?
    var band: Double
    var band_is_measured_noise: Bool
    /// Where the band is a tolerance: the range tests' noise, measured (null: not measured).
    var measured_noise: Double?
    var indistinguishable: [String]
    /// How a tie was settled (a stated default, or the balance of regularization); null when
    /// the evidence decided.
    var settlement: String?
    var verdict: String
    init(_ m: Margin) {
      measure = m.measure
      candidates = m.candidates.map {
        Candidate(value: $0.name, loss: $0.loss.isFinite ? $0.loss : nil)
      }
      chosen = m.chosen
      margin = m.margin.isFinite ? m.margin : nil
      band = m.band
      band_is_measured_noise = m.measured
      measured_noise = m.measuredNoise
      indistinguishable = m.indistinguishable
      settlement = m.settlement
      verdict = m.verdict
    }
  }

  /// The trials' noise: each repeat under another seed, and what they give.
  struct NoiseRecord: Encodable {
    struct Repeat: Encodable {
      var trial: String
      var losses: [Double?]
    }
    var relative_sd: Double?
    var band: Double?
    var repeats: [Repeat]
    var description: String
    /// The range tests' noise: one condition swept twice (null: not measured).
    var range_tests: RangeTestRecord?
    struct RangeTestRecord: Encodable {
      var condition: String
      var lowest_validation_losses: [Double]
      var max_lrs: [Double]
      var usable_up_to: [Double]
      var band: Double?
      var max_lr_ratio: Double?
      var description: String
    }
    init(_ n: NoiseEstimate, rangeTests r: RangeTestNoise?) {
      range_tests = r.map {
        RangeTestRecord(
          condition: $0.label, lowest_validation_losses: $0.lowestValidationLosses,
          max_lrs: $0.maximumLearningRates, usable_up_to: $0.usableUpTo, band: $0.band,
          max_lr_ratio: $0.learningRateRatio, description: $0.description)
      }
      relative_sd = n.relative
      band = n.band
      repeats = n.pairs.map {
        Repeat(trial: $0.label, losses: $0.losses.map { $0.isFinite ? $0 : nil })
      }
      description = n.description
    }
  }

  var parameters: Parameters {
    let c = outcome.chosen
    var parameters = Parameters(
      max_lr: c.maxLearningRate.value, min_lr: c.minLearningRate.value,
      policy: outcome.policy,
      momentum: [c.maxMomentum.value, c.minMomentum.value],
      weight_decay: c.weightDecay.value,
      dropout: c.dropout.value, augmentation: c.augmentation.value,
      batch_size: c.batchSize.value, epochs: outcome.epochs.value,
      reasons: [
        "max_lr": c.maxLearningRate.reason, "min_lr": c.minLearningRate.reason,
        "momentum": "max: \(c.maxMomentum.reason); min: \(c.minMomentum.reason)",
        "weight_decay": c.weightDecay.reason, "dropout": c.dropout.reason,
        "augmentation": c.augmentation.reason, "batch_size": c.batchSize.reason,
        "epochs": outcome.epochs.reason,
        "policy":
          "one-cycle (PyTorch's OneCycleLR) from max/\(formatValue(c.maxLearningRate.value / c.minLearningRate.value)) with cyclical momentum, as Smith's recipe prescribes",
      ],
      margins: [
        "batch_size": c.batchSize.margin, "max_momentum": c.maxMomentum.margin,
        "min_momentum": c.minMomentum.margin,
        "weight_decay": c.weightDecay.margin, "dropout": c.dropout.margin,
        "augmentation": c.augmentation.margin,
      ].compactMapValues { $0.map(MarginRecord.init) },
      noise: NoiseRecord(outcome.noise, rangeTests: outcome.rangeTestNoise))
    for other in c.others {
      parameters.others[other.name] = other.choice.value
      parameters.reasons[other.name] = other.choice.reason
      parameters.margins[other.name] = other.choice.margin.map(MarginRecord.init)
    }
    return parameters
  }

  /// `tune --json`: the final run's summary as `fit --json` gives it (its keys at the top
  /// level), with the choices and the diagnosis.
  struct Summary: Encodable {
    var run: FitSummary
    var hyperparameters: Parameters
    var diagnosis: Diagnosis
    enum CodingKeys: String, CodingKey { case hyperparameters, diagnosis }
    func encode(to encoder: Encoder) throws {
      try run.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(hyperparameters, forKey: .hyperparameters)
      try c.encode(diagnosis, forKey: .diagnosis)
    }
  }

  package func jsonLine() -> String {
    let run = FitSummary(
      test: outcome.test, history: outcome.history, stepsPerEpoch: outcome.stepsPerEpoch,
      seconds: outcome.seconds)
    return JSONEncoder.line(
      Summary(run: run, hyperparameters: parameters, diagnosis: outcome.diagnosis))
  }

  /// Takes the checkpoint the engine's final run saved in its folder (`saved`, relative to
  /// `directory`: a final spec run by `discipline trial`) as the run's model beside the report.
  package mutating func adoptModel(savedAt saved: String) throws {
    let source = url(saved)
    let target = url("model.safetensors")
    try? FileManager.default.removeItem(at: target)
    do { try FileManager.default.copyItem(at: source, to: target) } catch {
      throw RunFolderError(
        "the final run saved no model at \(source.path): \(error.localizedDescription)",
        exitCode: 1)
    }
    modelFile = "model.safetensors"
  }

  /// Writes everything; the checkpoint when the model is the built-in engine's (a program
  /// saves its own, named by `modelFile`).
  package func write(model: (Module, ModelSpecification)?) throws {
    try writeJSON(parameters, to: url("hyperparameters.json"))
    var run = RunFiles(directory: directory)
    run.evaluationName = "test"
    try run.writeMetrics(outcome.history)
    if let (module, specification) = model {
      try Checkpoint(specification, normalization: normalization).save(
        module, to: url(modelFile))
    }
    do { try report().write(to: url("report.html")) } catch {
      throw RunFolderError(
        "cannot write \(url("report.html").path): \(error.localizedDescription)", exitCode: 73)
    }
  }

  package func summary() -> String {
    let o = outcome
    return [
      String(
        format: "%@ after %@; %@ in all (budget %@%@)",
        describeMeasurement(
          split: "test", loss: o.test.loss, accuracy: o.test.accuracy, metrics: o.test.metrics),
        o.trainedLength, formatDuration(o.seconds),
        formatDuration(budget),
        virtualClock.map { ", counted as work at \(formatValue($0)) samples/s" } ?? ""),
      "  max LR \(formatLR(o.maxLearningRate.value)), min LR \(formatLR(o.minLearningRate.value)); batch \(o.batchSize.value); momentum \(o.maxMomentum.value) → \(o.minMomentum.value); weight decay \(formatValue(o.weightDecay.value)); dropout \(formatValue(o.dropout.value)); augmentation \(o.augmentation.value)\(o.others.map { "; \($0.name) \($0.choice.value)" }.joined())",
      "  diagnosis: \(o.diagnosis.verdict.rawValue) — \(o.diagnosis.explanation); \(o.diagnosis.suggestion)",
      "wrote hyperparameters.json, report.html, journal.jsonl, metrics.csv and \(modelFile) into \(directory.path)",
    ].joined(separator: "\n")
  }
}
