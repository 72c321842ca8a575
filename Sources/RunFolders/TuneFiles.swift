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
  /// values and reasons apart, the policy, the margins and the noise), each hyper-parameter
  /// under its entry's name (`TunedHyperParameters.entries`: the momentum's max and min as one
  /// array, a hyper-parameter a step added under its own), its reason under the same name, its
  /// margin under each part's.
  struct Parameters: Encodable {
    /// Each entry's value: the value, or its parts' values (the momentum's `[max, min]`).
    var values: [String: [HyperValue]]
    var policy: Policy
    var epochs: Int
    var reasons: [String: String]
    /// Each compared choice against the others and the noise.
    var margins: [String: MarginRecord]
    var noise: NoiseRecord

    struct Key: CodingKey {
      var stringValue: String
      var intValue: Int? { nil }
      init(_ s: String) { stringValue = s }
      init?(stringValue: String) { self.init(stringValue) }
      init?(intValue: Int) { nil }
    }
    func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: Key.self)
      for (name, value) in values {
        if value.count == 1 {
          try c.encode(value[0], forKey: Key(name))
        } else {
          try c.encode(value, forKey: Key(name))
        }
      }
      try c.encode(policy, forKey: Key("policy"))
      try c.encode(epochs, forKey: Key("epochs"))
      try c.encode(reasons, forKey: Key("reasons"))
      try c.encode(margins, forKey: Key("margins"))
      try c.encode(noise, forKey: Key("noise"))
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
    let entries = outcome.chosen.entries
    var reasons = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.reason) })
    reasons["epochs"] = outcome.epochs.reason
    reasons["policy"] =
      "one-cycle (PyTorch's OneCycleLR) from max/\(formatValue(outcome.maxLearningRate.value / outcome.minLearningRate.value)) with cyclical momentum, as Smith's recipe prescribes"
    return Parameters(
      values: Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.values) }),
      policy: outcome.policy, epochs: outcome.epochs.value, reasons: reasons,
      margins: Dictionary(
        uniqueKeysWithValues: outcome.chosen.named.compactMap { part in
          part.choice.margin.map { (part.parameter.name, MarginRecord($0)) }
        }),
      noise: NoiseRecord(outcome.noise, rangeTests: outcome.rangeTestNoise))
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
      "  " + o.chosen.entries.map { "\($0.title) \($0.text)" }.joined(separator: "; "),
      "  diagnosis: \(o.diagnosis.verdict.rawValue) — \(o.diagnosis.explanation); \(o.diagnosis.suggestion)",
      "wrote hyperparameters.json, report.html, journal.jsonl, metrics.csv and \(modelFile) into \(directory.path)",
    ].joined(separator: "\n")
  }
}
