import Foundation
import RangeTests
import Reports
import Tuning

extension TuneFiles {
  // MARK: - The report

  func entries(_ phase: Phase) -> [JournalEntry] { journal.entries.filter { $0.phase == phase } }

  package func report() -> HTMLReport {
    let o = outcome
    var report = HTMLReport(
      title: "discipline tune — \(title)",
      subtitle: "Smith's recipe within a budget of \(formatDuration(budget))",
      summary: String(
        format:
          "%@, after %@ of one-cycle training; the whole recipe took %@. Diagnosis: %@ — %@.",
        sentence(
          describeMeasurement(
            split: "test", loss: o.test.loss, accuracy: o.test.accuracy, metrics: o.test.metrics)),
        o.trainedLength, formatDuration(o.seconds),
        o.diagnosis.verdict.rawValue, o.diagnosis.explanation)
        + (o.noise.relative == nil
          ? ""
          : " The noise of a short trial: \(o.noise.description); a choice is clear only when it leads by more than that.")
        + (o.rangeTestNoise.map { " The noise of an LR range test: \($0.description)." } ?? "")
    )
    // Each choice as its definition names and writes it; a reading of the max LR is as good as
    // the range tests' noise (one condition swept twice).
    for entry in o.chosen.entries {
      let noise =
        entry.name == TunedParameter.maxLearningRate.entry
        ? o.rangeTestNoise?.learningRateRatio.map {
          String(format: "one reading good to about %.1f× (one condition swept twice)", $0)
        } : nil
      report.addChoice(
        name: entry.title, value: entry.text, reason: entry.reason,
        confidence: noise ?? entry.margins(\.summary))
    }
    // What the run trained ("10.62 epochs" for a run re-planned to end between two), where the
    // rounded count would read as more than it was.
    report.addChoice(name: "epochs", value: o.trainedLength, reason: o.epochs.reason)

    // Each step's section, numbered in order; a step that journaled nothing has none.
    var number = 0
    for step in steps where step.phases.contains(where: { !entries($0).isEmpty }) {
      let heading = "\(number + 1)."
      let special = Self.sections[step.title]
      guard let section = special.map({ $0(self)(heading) }) ?? genericSection(step, heading)
      else { continue }
      report.addSection(section)
      number += 1
    }
    let finalNumber = number + 1

    // The final training.
    var final = HTMLReport.Section(title: "\(finalNumber). Final training and diagnosis")
    var run = RunFiles(directory: directory)
    run.evaluationName = "test"
    final.addChart(
      run.lossChart(o.history, title: "Final training — \(title)"),
      caption:
        "Training loss per step and test loss at each evaluation (every epoch; at most 40 in a long run). The final run trains on all the training data; the tuning phases only read the held-out validation split."
    )
    if let accuracy = o.test.accuracy {
      final.addChart(
        run.accuracyChart(o.history),
        caption: String(
          format: "Test accuracy at each evaluation; at the end %.2f%%.", 100 * accuracy))
    }
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

  /// The first range test, read with its suggestions.
  func learningRateSection(_ number: String) -> HTMLReport.Section? {
    var lr = HTMLReport.Section(title: number + " Learning rate: the LR range test")
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
    return lr

  }

  /// A range test per batch size, and the trials of equal wall time.
  func batchSizeSection(_ number: String) -> HTMLReport.Section? {
    let o = outcome
    var batch = HTMLReport.Section(title: number + " Batch size at equal wall time")
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
    return batch
  }

  /// The momentum trials.
  func momentumSection(_ number: String) -> HTMLReport.Section? {
    let o = outcome
    var momentum = HTMLReport.Section(title: number + " Momentum")
    addTrials(
      entries(.momentum), to: &momentum, title: "Validation loss of the momentum trials",
      caption:
        "Short one-cycle trials with momentum cycled from each value down. \(sentence(o.maxMomentum.reason)); bottom of the cycle: \(o.minMomentum.reason).",
      column: "momentum"
    ) { "\($0.maxMomentum) → \($0.minMomentum)" }
    return momentum
  }

  /// The weight-decay trials and the range tests at the best values.
  func weightDecaySection(_ number: String) -> HTMLReport.Section? {
    let o = outcome
    var wd = HTMLReport.Section(title: number + " Weight decay")
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
    return wd
  }

  /// The range tests at each dropout rate and augmentation.
  func regularizationSection(_ number: String) -> HTMLReport.Section? {
    let o = outcome
    let dropoutOverlay = entries(.dropout).compactMap(\.rangeTest).first
    let augmentationOverlay = entries(.augmentation).compactMap(\.rangeTest).first
    guard dropoutOverlay != nil || augmentationOverlay != nil else { return nil }
    do {
      var section = HTMLReport.Section(title: number + " Regularization: dropout and augmentation")
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
      return section
    }

  }

  /// The steps with a section of their own, by title; any other gets `genericSection`.
  static var sections: [String: (TuneFiles) -> (String) -> HTMLReport.Section?] {
    [
      Phase.learningRate.rawValue: learningRateSection,
      Phase.batchSize.rawValue: batchSizeSection,
      Phase.momentum.rawValue: momentumSection,
      Phase.weightDecay.rawValue: weightDecaySection,
      RegularizationStep().title: regularizationSection,
    ]
  }

  /// A step's work as the journal has it: its range tests' curves, its trials' validation
  /// curves and a table of them.
  func genericSection(_ step: any RecipeStep, _ number: String) -> HTMLReport.Section {
    var section = HTMLReport.Section(title: number + " " + sentence(step.title))
    let work = step.phases.flatMap(entries)
    for (i, comparison) in work.compactMap(\.rangeTest).enumerated() {
      let files = LRFindFiles(
        directory: directory, comparison: comparison, mode: .exponential,
        title: "\(step.title) \(i + 1)")
      section.addChart(files.chart(suggesting: false), caption: comparison.reason)
    }
    addTrials(
      work, to: &section, title: "Validation loss of the \(step.title) trials",
      caption: "The step's short one-cycle trials.", column: "trial", name: nil)
    return section
  }

  /// The finished trials among `work`: their validation curves over the steps, and a table of
  /// each one's steps, validation loss and accuracy, named by `name` (nil: the journal's label).
  func addTrials(
    _ work: [JournalEntry], to section: inout HTMLReport.Section, title: String,
    caption: String, column: String, name: ((TrialSettings) -> String)?
  ) {
    let trials = work.filter { $0.result != nil }
    guard !trials.isEmpty else { return }
    section.addChart(TrialCharts.curves(trials, title: title, x: .steps), caption: caption)
    section.addTable(
      header: [column, "steps", "validation loss", "validation accuracy"],
      rows: trials.map { e in
        [
          (name.map { $0(e.trial!) } ?? e.label) + seedNote(e), String(e.result!.losses.count),
          lossText(e.result!), accuracyText(e.result!),
        ]
      })
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
    r.finalValidationAccuracy.map { String(format: "%.2f%%", 100 * $0) } ?? "—"
  }

}

/// Charts of short trials, shared by `tune`'s report and `study`.
package enum TrialCharts {
  package enum XAxis { case steps, seconds }

  /// Validation loss of each trial against its steps or its wall time.
  package static func curves(_ trials: [JournalEntry], title: String, x: XAxis) -> Chart {
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
  package static func weightDecay(_ trials: [JournalEntry], chosen: Double) -> Chart {
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
