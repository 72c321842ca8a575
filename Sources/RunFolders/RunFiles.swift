import Foundation
import Reports
import Training

/// The end of a fit: test metrics, per-epoch validation, wall time.
package struct FitSummary: Encodable {
  struct EpochResult: Encodable {
    var epoch: Double
    var val_loss: Double
    var val_accuracy: Double?
  }
  var test_loss: Double
  var test_accuracy: Double?
  var epochs: [EpochResult]
  package var seconds: Double
  package var steps: Int

  package init(test: Evaluation, history: TrainingHistory, stepsPerEpoch: Int, seconds: Double) {
    test_loss = test.loss
    test_accuracy = test.accuracy
    epochs = history.evaluations.map {
      EpochResult(epoch: $0.epoch, val_loss: $0.loss, val_accuracy: $0.accuracy)
    }
    self.seconds = seconds
    steps = history.steps.count
  }

  package func jsonLine() -> String {
    JSONEncoder.line(self)
  }
}

/// Writes a run's files: metrics as CSV and JSON, curves as SVG, a report as HTML.
package struct RunFiles {
  let directory: URL
  /// The split per-epoch evaluations read: "validation", or "test" when none is held out.
  package var evaluationName = "validation"

  package init(directory: URL) { self.directory = directory }

  func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  /// metrics.csv: one row per step; the validation columns are filled on the step after
  /// which an evaluation ran. metrics.json: the same as two lists.
  package func writeMetrics(_ history: TrainingHistory) throws {
    let evaluations = Dictionary(
      history.evaluations.map { ($0.step, $0) }, uniquingKeysWith: { $1 })
    var csv = "step,epoch,lr,momentum,train_loss,val_loss,val_accuracy\n"
    csv.reserveCapacity(history.steps.count * 60)
    for s in history.steps {
      let e = evaluations[s.step + 1]
      csv +=
        "\(s.step),\(s.epoch),\(s.learningRate),\(s.momentum),\(s.loss),\(e.map { "\($0.loss)" } ?? ""),\(e?.accuracy.map { "\($0)" } ?? "")\n"
    }
    do { try csv.write(to: url("metrics.csv"), atomically: true, encoding: .utf8) } catch {
      throw RunFolderError(
        "cannot write \(url("metrics.csv").path): \(error.localizedDescription)", exitCode: 73)
    }
    try writeJSON(history, to: url("metrics.json"))
  }

  package func writeSummary(_ summary: FitSummary) throws {
    try writeJSON(summary, to: url("summary.json"))
  }

  /// Train loss per step (faint) with a running mean (bold), validation loss per evaluation.
  func lossChart(_ history: TrainingHistory, title: String) -> Chart {
    let steps = history.steps.map { Double($0.step + 1) }
    let losses = history.steps.map(\.loss)
    let smoothed = Self.smoothed(losses)
    let validationSteps = history.evaluations.map { Double($0.step) }
    let all = losses.filter(\.isFinite) + history.evaluations.map(\.loss)
    let top = min(all.max() ?? 1, (smoothed.first(where: \.isFinite) ?? 1) * 1.5)
    return Chart(
      title: title, xAxis: Axis(title: "step"),
      yAxis: Axis(title: "loss", range: 0...max(top, 1e-3)),
      series: [
        Series(name: "train loss", x: steps, y: losses, style: .faint, color: Palette.okabeIto[0]),
        Series(name: "train loss", x: steps, y: smoothed, style: .bold, color: Palette.okabeIto[0]),
        Series(
          name: "\(evaluationName) loss", x: validationSteps, y: history.evaluations.map(\.loss),
          style: .lineWithPoints, color: Palette.okabeIto[1]),
      ])
  }

  func accuracyChart(_ history: TrainingHistory) -> Chart {
    Chart(
      title: "\(evaluationName.prefix(1).uppercased() + evaluationName.dropFirst()) accuracy",
      xAxis: Axis(title: "epoch"), yAxis: Axis(title: "accuracy (%)"),
      series: [
        Series(
          name: "\(evaluationName) accuracy", x: history.evaluations.map(\.epoch),
          y: history.evaluations.map { 100 * ($0.accuracy ?? .nan) }, style: .lineWithPoints,
          color: Palette.okabeIto[2])
      ],
      width: 1000, height: 420)
  }

  func scheduleChart(_ history: TrainingHistory) -> Chart {
    let steps = history.steps.map { Double($0.step) }
    return Chart(
      title: "Learning rate and momentum", xAxis: Axis(title: "step"),
      yAxis: Axis(title: "learning rate"),
      secondaryYAxis: Axis(title: "momentum"),
      series: [
        Series(
          name: "learning rate", x: steps, y: history.steps.map(\.learningRate), style: .bold,
          color: Palette.okabeIto[4]),
        Series(
          name: "momentum", x: steps, y: history.steps.map(\.momentum), style: .dashed,
          axis: .secondary, color: Palette.okabeIto[5]),
      ], width: 1000, height: 420)
  }

  /// curves.svg (loss, accuracy, LR and momentum) and report.html.
  package func writeCharts(
    _ history: TrainingHistory, title: String, settings: [String: String], summary: FitSummary
  ) throws {
    let loss = lossChart(history, title: "Loss — \(title)")
    let grid = ChartGrid(
      title: title, charts: [loss, accuracyChart(history), scheduleChart(history)], columns: 1)
    do {
      try grid.svg().write(to: url("curves.svg"), atomically: true, encoding: .utf8)
      var report = HTMLReport(
        title: "discipline fit — \(title)",
        summary: String(
          format: "Test accuracy %.2f%%, test loss %.4f, after %d steps in %@.",
          100 * (summary.test_accuracy ?? .nan), summary.test_loss, summary.steps,
          formatDuration(summary.seconds)))
      var curves = HTMLReport.Section(title: "Training curves")
      curves.addChart(
        loss,
        caption:
          "Training loss per step (faint) and its moving average (bold); \(evaluationName) loss after each evaluation. A validation curve that flattens is on target; one still falling means more epochs would help; one rising means overfitting."
      )
      curves.addChart(
        accuracyChart(history),
        caption:
          "\(evaluationName.prefix(1).uppercased() + evaluationName.dropFirst()) accuracy at each evaluation."
      )
      curves.addChart(
        scheduleChart(history),
        caption: "The learning rate and momentum applied before each optimizer step.")
      report.addSection(curves)
      var config = HTMLReport.Section(title: "Settings")
      config.addKeyValues(
        settings.keys.sorted().map { (key: $0, value: settings[$0]!) }, caption: nil)
      report.addSection(config)
      var results = HTMLReport.Section(title: "Per evaluation (\(evaluationName) split)")
      results.addTable(
        header: ["epoch", "\(evaluationName) loss", "\(evaluationName) accuracy"],
        rows: history.evaluations.map {
          [
            String(format: "%.2f", $0.epoch), String(format: "%.4f", $0.loss),
            $0.accuracy.map { String(format: "%.2f%%", 100 * $0) } ?? "—",
          ]
        }, caption: nil)
      report.addSection(results)
      try report.write(to: url("report.html"))
    } catch let error as RunFolderError {
      throw error
    } catch {
      throw RunFolderError(
        "cannot write the charts into \(directory.path): \(error.localizedDescription)",
        exitCode: 73)
    }
  }

  /// An exponential moving average whose window grows with the run (about 1% of it, at least
  /// 5 steps), so the curve follows the loss without lagging far behind early on. NaN where
  /// no finite value has been seen yet.
  static func smoothed(_ values: [Double]) -> [Double] {
    let beta = 1 - 1 / max(5, Double(values.count) / 100)
    var out: [Double] = []
    out.reserveCapacity(values.count)
    var average: Double?
    for v in values {
      if v.isFinite { average = average.map { beta * $0 + (1 - beta) * v } ?? v }
      out.append(average ?? .nan)
    }
    return out
  }

  /// The loss curve in braille characters, for a terminal.
  package func terminalChart(_ history: TrainingHistory) -> String {
    let smoothed = Self.smoothed(history.steps.map(\.loss)).filter(\.isFinite)
    return TerminalChart(
      title: "training loss (smoothed) per step", x: smoothed.indices.map(Double.init), y: smoothed,
      width: 60, height: 10, usesColor: true
    ).render()
  }
}
