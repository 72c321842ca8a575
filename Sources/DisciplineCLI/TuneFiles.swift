import Datasets
import Foundation
import NeuralNetworks
import Reports
import Schedules
import Training
import Tuning

/// What `tune` writes: hyperparameters.json, the final metrics and checkpoint, report.html.
struct TuneFiles {
  let directory: URL
  let outcome: TuneOutcome
  let journal: Journal
  let title: String
  let normalization: Normalization?
  let budget: Double
  /// The final model's file, relative to `directory` (a program's is its own).
  var modelFile = "model.safetensors"
  /// The rate of `--virtual-clock`, when the budget was counted in work rather than wall time.
  var virtualClock: Double?

  func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

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
    var indistinguishable: [String]
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
      indistinguishable = m.indistinguishable
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
    init(_ n: NoiseEstimate) {
      relative_sd = n.relative
      band = n.band
      repeats = n.pairs.map {
        Repeat(trial: $0.label, losses: $0.losses.map { $0.isFinite ? $0 : nil })
      }
      description = n.description
    }
  }

  var parameters: Parameters {
    Parameters(
      max_lr: outcome.maxLearningRate.value, min_lr: outcome.minLearningRate.value,
      policy: outcome.policy,
      momentum: [outcome.maxMomentum.value, outcome.minMomentum.value],
      weight_decay: outcome.weightDecay.value,
      dropout: outcome.dropout.value, augmentation: outcome.augmentation.value,
      batch_size: outcome.batchSize.value, epochs: outcome.epochs.value,
      reasons: [
        "max_lr": outcome.maxLearningRate.reason, "min_lr": outcome.minLearningRate.reason,
        "momentum": "max: \(outcome.maxMomentum.reason); min: \(outcome.minMomentum.reason)",
        "weight_decay": outcome.weightDecay.reason, "dropout": outcome.dropout.reason,
        "augmentation": outcome.augmentation.reason, "batch_size": outcome.batchSize.reason,
        "epochs": outcome.epochs.reason,
        "policy":
          "one-cycle (PyTorch's OneCycleLR) from max/\(formatValue(outcome.maxLearningRate.value / outcome.minLearningRate.value)) with cyclical momentum, as Smith's recipe prescribes",
      ],
      margins: [
        "batch_size": outcome.batchSize.margin, "max_momentum": outcome.maxMomentum.margin,
        "min_momentum": outcome.minMomentum.margin,
        "weight_decay": outcome.weightDecay.margin, "dropout": outcome.dropout.margin,
        "augmentation": outcome.augmentation.margin,
      ].compactMapValues { $0.map(MarginRecord.init) },
      noise: NoiseRecord(outcome.noise))
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

  func jsonLine() -> String {
    let run = FitSummary(
      test: outcome.test, history: outcome.history, stepsPerEpoch: outcome.stepsPerEpoch,
      seconds: outcome.seconds)
    return JSONEncoder.line(
      Summary(run: run, hyperparameters: parameters, diagnosis: outcome.diagnosis))
  }

  /// Writes everything; the checkpoint when the model is the built-in engine's (a program
  /// saves its own, named by `modelFile`).
  func write(model: (Module, ModelSpecification)?) throws {
    try writeJSON(parameters, to: url("hyperparameters.json"))
    var run = RunFiles(directory: directory)
    run.evaluationName = "test"
    try run.writeMetrics(outcome.history)
    if let (module, specification) = model {
      try TrainingSetup.checkpoint(specification, normalization: normalization).save(
        module, to: url(modelFile))
    }
    do { try report().write(to: url("report.html")) } catch {
      throw CommandError(
        "cannot write \(url("report.html").path): \(error.localizedDescription)", exitCode: 73)
    }
  }

  func summary() -> String {
    let o = outcome
    return [
      String(
        format: "test accuracy %.2f%%, test loss %.4f after %d epochs; %@ in all (budget %@%@)",
        100 * o.test.accuracy, o.test.loss, o.epochs.value, formatDuration(o.seconds),
        formatDuration(budget),
        virtualClock.map { ", counted as work at \(formatValue($0)) samples/s" } ?? ""),
      "  max LR \(formatLR(o.maxLearningRate.value)), min LR \(formatLR(o.minLearningRate.value)); batch \(o.batchSize.value); momentum \(o.maxMomentum.value) → \(o.minMomentum.value); weight decay \(formatValue(o.weightDecay.value)); dropout \(formatValue(o.dropout.value)); augmentation \(o.augmentation.value)",
      "  diagnosis: \(o.diagnosis.verdict.rawValue) — \(o.diagnosis.explanation); \(o.diagnosis.suggestion)",
      "wrote hyperparameters.json, report.html, journal.jsonl, metrics.csv and \(modelFile) into \(directory.path)",
    ].joined(separator: "\n")
  }

  // MARK: - The report

  func entries(_ phase: Phase) -> [JournalEntry] { journal.entries.filter { $0.phase == phase } }

  func report() -> HTMLReport {
    let o = outcome
    var report = HTMLReport(
      title: "discipline tune — \(title)",
      subtitle: "Smith's recipe within a budget of \(formatDuration(budget))",
      summary: String(
        format:
          "Test accuracy %.2f%%, test loss %.4f, after %d epochs of one-cycle training; the whole recipe took %@. Diagnosis: %@ — %@.",
        100 * o.test.accuracy, o.test.loss, o.epochs.value, formatDuration(o.seconds),
        o.diagnosis.verdict.rawValue, o.diagnosis.explanation)
        + (o.noise.relative == nil
          ? ""
          : " The noise of a short trial: \(o.noise.description); a choice is clear only when it leads by more than that.")
    )
    report.addChoice(
      name: "max learning rate", value: formatLR(o.maxLearningRate.value),
      reason: o.maxLearningRate.reason)
    report.addChoice(
      name: "min learning rate", value: formatLR(o.minLearningRate.value),
      reason: o.minLearningRate.reason)
    report.addChoice(
      name: "batch size", value: "\(o.batchSize.value)", reason: o.batchSize.reason,
      confidence: o.batchSize.margin?.summary)
    let momentumMargins = [
      o.maxMomentum.margin.map { "top: " + $0.summary },
      o.minMomentum.margin.map { "bottom: " + $0.summary },
    ].compactMap { $0 }
    report.addChoice(
      name: "momentum", value: "\(o.maxMomentum.value) → \(o.minMomentum.value)",
      reason: "\(o.maxMomentum.reason); bottom: \(o.minMomentum.reason)",
      confidence: momentumMargins.isEmpty ? nil : momentumMargins.joined(separator: "; "))
    report.addChoice(
      name: "weight decay", value: formatValue(o.weightDecay.value), reason: o.weightDecay.reason,
      confidence: o.weightDecay.margin?.summary)
    report.addChoice(
      name: "dropout", value: formatValue(o.dropout.value), reason: o.dropout.reason,
      confidence: o.dropout.margin?.summary)
    report.addChoice(
      name: "augmentation", value: o.augmentation.value, reason: o.augmentation.reason,
      confidence: o.augmentation.margin?.summary)
    report.addChoice(name: "epochs", value: "\(o.epochs.value)", reason: o.epochs.reason)

    // 1. The first range test.
    var lr = HTMLReport.Section(title: "1. Learning rate: the LR range test")
    if let first = entries(.learningRate).first?.rangeTest {
      let files = LRFindFiles(
        directory: directory, comparison: first, mode: .exponential,
        title: "\(title), batch \(first.conditions.first?.condition.batchSize ?? 0)")
      lr.addChart(
        files.chart(),
        caption:
          "Training loss while the learning rate rises every step (faint: raw; bold: moving average; dashed: zero-lag smoothing), validation loss as dots. \(first.reason)"
      )
    }
    report.addSection(lr)

    // 2. Batch size.
    var batch = HTMLReport.Section(title: "2. Batch size at equal wall time")
    let phaseTests = entries(.batchSize).compactMap(\.rangeTest).flatMap(\.conditions)
    // The first range test stands in for its batch size where the phase did not test it again
    // (journals written before it did).
    let firstTests = (entries(.learningRate).first?.rangeTest?.conditions ?? []).filter { c in
      !phaseTests.contains { $0.condition.batchSize == c.condition.batchSize }
    }
    let batchTests = phaseTests + firstTests
    if batchTests.count > 1 {
      let sorted = batchTests.sorted {
        ($0.condition.batchSize ?? 0) < ($1.condition.batchSize ?? 0)
      }
      let files = LRFindFiles(
        directory: directory, comparison: RangeTestComparison(conditions: sorted),
        mode: .exponential, title: "per batch size")
      batch.addChart(
        files.chart(suggesting: false),
        caption:
          "An LR range test per batch size, all with the same sweep: larger batches tolerate larger learning rates. Readings that break that order are pooled with their neighbours before the trials (the trials' max LR in the table below)."
      )
    }
    let batchTrials = entries(.batchSize).filter { $0.result != nil }
    if !batchTrials.isEmpty {
      batch.addChart(
        TrialCharts.curves(batchTrials, title: "Validation loss against wall time", x: .seconds),
        caption:
          "One one-cycle trial per batch size, each given the same wall time. \(sentence(o.batchSize.reason))."
      )
      batch.addTable(
        header: [
          "batch size", "max LR", "steps", "seconds", "validation loss", "validation accuracy",
        ],
        rows: batchTrials.map { e in
          [
            String(e.trial!.batchSize) + seedNote(e), formatLR(e.trial!.maxLearningRate),
            String(e.result!.losses.count), String(format: "%.0f", e.seconds), lossText(e.result!),
            accuracyText(e.result!),
          ]
        })
    }
    report.addSection(batch)

    // 3. Momentum.
    var momentum = HTMLReport.Section(title: "3. Momentum")
    let momentumTrials = entries(.momentum).filter { $0.result != nil }
    if !momentumTrials.isEmpty {
      momentum.addChart(
        TrialCharts.curves(
          momentumTrials, title: "Validation loss of the momentum trials", x: .steps),
        caption:
          "Short one-cycle trials with momentum cycled from each value down. \(sentence(o.maxMomentum.reason)); bottom of the cycle: \(o.minMomentum.reason)."
      )
      momentum.addTable(
        header: ["momentum", "steps", "validation loss", "validation accuracy"],
        rows: momentumTrials.map { e in
          [
            "\(e.trial!.maxMomentum) → \(e.trial!.minMomentum)" + seedNote(e),
            String(e.result!.losses.count), lossText(e.result!), accuracyText(e.result!),
          ]
        })
    }
    report.addSection(momentum)

    // 4. Weight decay.
    var wd = HTMLReport.Section(title: "4. Weight decay")
    let wdTrials = entries(.weightDecay).filter { $0.result != nil }
    if !wdTrials.isEmpty {
      wd.addChart(
        TrialCharts.weightDecay(wdTrials, chosen: o.weightDecay.value),
        caption:
          "Early validation loss (after a short one-cycle run) for each weight decay on a log axis (0 drawn at the left edge). \(sentence(o.weightDecay.reason))."
      )
      wd.addChart(
        TrialCharts.curves(
          wdTrials, title: "Validation loss of the weight-decay trials", x: .steps),
        caption: "The same trials over their steps.")
    }
    if let overlay = entries(.weightDecay).compactMap(\.rangeTest).first {
      let files = LRFindFiles(
        directory: directory, comparison: overlay, mode: .exponential,
        title: "at the best weight decays")
      wd.addChart(
        files.chart(suggesting: false),
        caption:
          "LR range tests at the weight decay with the lowest early validation loss and at the chosen one (or the runner-up), to set learning rate and weight decay together: less weight decay usually allows a larger learning rate, and of the weight decays the trials cannot tell apart the one that stays usable over the wider range of rates is kept."
      )
    }
    report.addSection(wd)

    // 5. Regularization.
    var finalNumber = 5
    let dropoutOverlay = entries(.dropout).compactMap(\.rangeTest).first
    let augmentationOverlay = entries(.augmentation).compactMap(\.rangeTest).first
    if dropoutOverlay != nil || augmentationOverlay != nil {
      var section = HTMLReport.Section(title: "5. Regularization: dropout and augmentation")
      func table(_ conditions: [ConditionSummary], _ name: (ConditionSummary) -> String)
        -> [[String]]
      {
        conditions.map { c in
          [
            name(c), c.lowestValidationLoss.map { String(format: "%.4f", $0) } ?? "—",
            c.stableUpTo.map(formatLR) ?? "—", c.divergedAt.map(formatLR) ?? "did not diverge",
          ]
        }
      }
      if let overlay = dropoutOverlay {
        let files = LRFindFiles(
          directory: directory, comparison: overlay, mode: .exponential, title: "per dropout rate")
        section.addChart(
          files.chart(suggesting: false),
          caption:
            "LR range tests at each dropout rate, at the chosen batch size, momentum and weight decay: the validation loss (dots) against how far each stays usable. \(sentence(o.dropout.reason))."
        )
        section.addTable(
          header: ["dropout", "lowest validation loss", "usable up to LR", "diverged at LR"],
          rows: table(overlay.conditions) { formatValue($0.condition.dropout ?? 0) })
      }
      if let overlay = augmentationOverlay {
        let files = LRFindFiles(
          directory: directory, comparison: overlay, mode: .exponential, title: "per augmentation")
        section.addChart(
          files.chart(suggesting: false),
          caption:
            "LR range tests with each augmentation at the chosen dropout rate. \(sentence(o.augmentation.reason))."
        )
        section.addTable(
          header: ["augmentation", "lowest validation loss", "usable up to LR", "diverged at LR"],
          rows: table(overlay.conditions) { $0.condition.augmentation ?? "none" })
      }
      report.addSection(section)
      finalNumber = 6
    }

    // The final training.
    var final = HTMLReport.Section(title: "\(finalNumber). Final training and diagnosis")
    var run = RunFiles(directory: directory)
    run.evaluationName = "test"
    final.addChart(
      run.lossChart(o.history, title: "Final training — \(title)"),
      caption:
        "Training loss per step and test loss at each evaluation (every epoch; at most 40 in a long run). The final run trains on all the training data; the tuning phases only read the held-out validation split."
    )
    final.addChart(
      run.accuracyChart(o.history),
      caption: String(
        format: "Test accuracy at each evaluation; at the end %.2f%%.", 100 * o.test.accuracy))
    final.addChart(
      run.scheduleChart(o.history),
      caption: "The one-cycle learning rate and the cyclical momentum applied.")
    final.addText(
      "Diagnosis: \(o.diagnosis.verdict.rawValue). \(o.diagnosis.explanation.prefix(1).uppercased() + o.diagnosis.explanation.dropFirst()). Suggestion: \(o.diagnosis.suggestion)."
    )
    report.addSection(final)

    var all = HTMLReport.Section(title: "Every trial")
    all.addTable(
      header: [
        "phase", "trial", "steps", "seconds", "validation loss", "validation accuracy / max LR",
      ],
      rows: journal.entries.map { e in
        if let r = e.result {
          return [
            e.phase.rawValue, e.label, String(r.losses.count), String(format: "%.0f", e.seconds),
            lossText(r), accuracyText(r),
          ]
        }
        let lr = e.rangeTest?.suggestedMaximumLearningRate.map { "max LR " + formatLR($0) } ?? "—"
        let points = e.rangeTest?.conditions.flatMap(\.runs).map(\.points.count).reduce(0, +) ?? 0
        return [
          e.phase.rawValue, e.label, String(points), String(format: "%.0f", e.seconds), "—", lr,
        ]
      }, caption: "As recorded in journal.jsonl, in order.")
    report.addSection(all)
    return report
  }

  /// " (seed 1, noise)" after a repeat's value in a phase's table.
  func seedNote(_ e: JournalEntry) -> String {
    e.repeatOf == nil ? "" : " (again, seed \(e.trial!.seed): noise)"
  }

  /// The text with its first letter capitalized, to start a sentence.
  func sentence(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

  func lossText(_ r: TrialResult) -> String {
    r.diverged ? "diverged" : String(format: "%.4f", r.finalValidationLoss)
  }
  func accuracyText(_ r: TrialResult) -> String {
    r.diverged ? "—" : String(format: "%.2f%%", 100 * r.finalValidationAccuracy)
  }

}

/// Charts of short trials, shared by `tune`'s report and `study`.
enum TrialCharts {
  enum XAxis { case steps, seconds }

  /// Validation loss of each trial against its steps or its wall time.
  static func curves(_ trials: [JournalEntry], title: String, x: XAxis) -> Chart {
    var series: [Series] = []
    var values: [Double] = []
    for (i, e) in trials.enumerated() {
      guard let r = e.result else { continue }
      let perStep = r.losses.isEmpty ? 0 : e.seconds / Double(r.losses.count)
      let xs = r.evaluations.map { x == .steps ? Double($0.step) : Double($0.step) * perStep }
      let ys = r.evaluations.map(\.loss)
      values += ys.filter(\.isFinite)
      series.append(
        Series(
          name: e.label, x: [0] + xs, y: [r.losses.first ?? .nan] + ys, style: .lineWithPoints,
          color: Palette.okabeIto[i % Palette.okabeIto.colors.count]))
    }
    let low = values.min() ?? 0
    let high = values.max() ?? 1
    let top = min(high, low * 3)
    return Chart(
      title: title, xAxis: Axis(title: x == .steps ? "step" : "seconds"),
      yAxis: Axis(title: "validation loss", range: (low * 0.95)...max(top, low * 1.05 + 1e-9)),
      series: series, width: 1000, height: 460)
  }

  /// Early validation loss against weight decay (log axis; 0 at the left edge).
  static func weightDecay(_ trials: [JournalEntry], chosen: Double) -> Chart {
    let points = trials.compactMap { e in
      e.result.map { (e.trial!.weightDecay, $0.finalValidationLoss) }
    }.sorted { $0.0 < $1.0 }
    let positive = points.map(\.0).filter { $0 > 0 }
    let zeroAt = (positive.min() ?? 1e-4) / 10
    let xs = points.map { $0.0 > 0 ? $0.0 : zeroAt }
    var ticks = points.map { Axis.Tick($0.0 > 0 ? $0.0 : zeroAt, label: formatValue($0.0)) }
    ticks = Array(Set(ticks)).sorted { $0.value < $1.value }
    let finite = points.map(\.1).filter(\.isFinite)
    let low = finite.min() ?? 0
    let high = finite.max() ?? 1
    var chart = Chart(
      title: "Early validation loss against weight decay",
      xAxis: Axis(
        title: "weight decay", scale: .log10, range: (zeroAt / 2)...((positive.max() ?? 1e-3) * 2),
        ticks: ticks),
      yAxis: Axis(
        title: "validation loss",
        range: (low - 0.1 * (high - low) - 1e-6)...(high + 0.1 * (high - low) + 1e-6)),
      series: [
        Series(
          name: "early validation loss", x: xs, y: points.map(\.1), style: .scatter,
          color: Palette.okabeIto[0])
      ],
      markers: [
        Marker(
          x: chosen > 0 ? chosen : zeroAt, label: "chosen \(formatValue(chosen))",
          color: Palette.okabeIto[5])
      ],
      width: 1000, height: 420)
    chart.showsLegend = false
    return chart
  }
}
