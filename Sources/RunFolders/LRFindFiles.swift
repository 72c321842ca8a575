import Foundation
import RangeTests
import Reports
import Tuning

/// lr_find.csv, lr_find.json, lr_find.svg and the summaries of a range-test comparison.
package struct LRFindFiles {
  let directory: URL
  let comparison: RangeTestComparison
  let mode: SweepMode
  let title: String

  package init(directory: URL, comparison: RangeTestComparison, mode: SweepMode, title: String) {
    self.directory = directory
    self.comparison = comparison
    self.mode = mode
    self.title = title
  }

  func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  /// The name of run r of a condition in files and legends.
  func runName(_ c: ConditionSummary, _ r: Int) -> String {
    c.runs.count > 1 ? "\(c.condition.name) (seed \(c.seeds[r]))" : c.condition.name
  }

  package func write() throws {
    var csv = "condition,step,lr,loss,smoothed_loss,val_loss\n"
    for c in comparison.conditions {
      for (r, run) in c.runs.enumerated() {
        let name = csvField(runName(c, r))
        for p in run.points {
          csv +=
            "\(name),\(p.step),\(p.learningRate),\(p.loss),\(p.smoothedLoss),\(p.validationLoss.map { "\($0)" } ?? "")\n"
        }
      }
    }
    do {
      try csv.write(to: url("lr_find.csv"), atomically: true, encoding: .utf8)
      try chart().svg().write(to: url("lr_find.svg"), atomically: true, encoding: .utf8)
    } catch {
      throw RunFolderError(
        "cannot write into \(directory.path): \(error.localizedDescription)", exitCode: 73)
    }
    try writeJSON(LRFindJSON(comparison), to: url("lr_find.json"))
  }

  package func jsonLine() -> String {
    JSONEncoder.line(LRFindJSON(comparison))
  }

  /// Loss against learning rate: each run's raw loss (faint) under its smoothed loss (bold),
  /// validation measurements as dots, one colour per condition; the suggestions as labelled lines.
  /// `suggesting: false` leaves the comparison's own suggested rate out of the subtitle (in
  /// `tune`'s report the recipe combines readings, and each condition's is drawn anyway).
  func chart(suggesting: Bool = true) -> Chart {
    var series: [Series] = []
    var curves: [[Double]] = []
    let overlay = comparison.conditions.count > 1
    for (i, c) in comparison.conditions.enumerated() {
      let color = Palette.okabeIto[i % Palette.okabeIto.colors.count]
      for (r, run) in c.runs.enumerated() {
        let lrs = run.points.map(\.learningRate)
        let name =
          overlay
          ? c.condition.name
          : "training loss (moving average, β \(formatValue(run.settings.smoothing)))"
        series.append(
          Series(
            name: r == 0 ? name : "", x: lrs, y: run.points.map(\.loss), style: .faint, color: color
          ))
        series.append(
          Series(
            name: r == 0 ? name : "", x: lrs, y: run.points.map(\.smoothedLoss), style: .bold,
            color: color))
        curves.append(run.points.map(\.smoothedLoss))
        if !overlay && r == 0 {
          // The moving average lags by about 1/(1−β) steps; show the zero-lag curve Smith's reading uses.
          let level = run.zeroLagLosses
          series.append(
            Series(
              name: "zero-lag smoothing", x: lrs, y: level, style: .dashed,
              color: Palette.okabeIto[2]))
          curves.append(level)
        }
        let measured = run.points.filter { $0.validationLoss != nil }
        if !measured.isEmpty {
          let validationColor = overlay ? color : Palette.okabeIto[1]
          series.append(
            Series(
              name: r == 0 ? (overlay ? "" : "validation loss") : "",
              x: measured.map(\.learningRate),
              y: measured.map { $0.validationLoss! }, style: overlay ? .lineWithPoints : .scatter,
              color: validationColor))
          curves.append(measured.map { $0.validationLoss! })
        }
      }
    }
    var markers: [Marker] = []
    if overlay {
      for (i, c) in comparison.conditions.enumerated() {
        if let lr = c.maximumLearningRate {
          markers.append(
            Marker(
              x: lr, label: "\(c.condition.name): \(formatLR(lr))",
              color: Palette.okabeIto[i % Palette.okabeIto.colors.count]))
        }
      }
    } else if let c = comparison.conditions.first {
      let run = c.runs[0]
      for method in SuggestionMethod.allCases {
        guard let lr = c.suggestions[method] else { continue }
        let chosen = method == c.chosen
        markers.append(
          Marker(
            x: lr, y: smoothedLoss(run, at: lr),
            label: "\(method.rawValue) \(formatLR(lr))\(chosen ? " ◀ max" : "")",
            color: chosen ? Palette.okabeIto[5] : nil))
      }
    }
    var parts: [String] = []
    if suggesting || !overlay {
      parts.append(
        comparison.suggestedMaximumLearningRate.map {
          "suggested max LR \(formatLR($0)), min \(formatLR(comparison.suggestedMinimumLearningRate!)) (one-cycle)"
        } ?? "no suggestion: \(comparison.reason)")
    }
    if overlay, let best = comparison.lowestLossCondition { parts.append("lowest loss: \(best)") }
    if overlay, let stable = comparison.mostStableCondition {
      parts.append("stable to the largest LR: \(stable)")
    }
    let subtitle = parts.joined(separator: "; ")
    var chart = Chart(
      title: "LR range test — \(title)",
      xAxis: Axis(title: "learning rate", scale: mode == .exponential ? .log10 : .linear),
      yAxis: Axis(title: "loss", range: Axis.descentRange(ofCurves: curves, padding: 0.08)),
      series: series, markers: markers, width: 1000, height: 560)
    chart.subtitle = subtitle
    return chart
  }

  private func smoothedLoss(_ run: RangeTestResult, at lr: Double) -> Double? {
    run.points.min { abs(log($0.learningRate / lr)) < abs(log($1.learningRate / lr)) }?.smoothedLoss
  }

  /// The braille chart of the (first) smoothed curve with the suggested maximum marked.
  package func terminalChart() -> String? {
    guard
      let c = comparison.conditions.first(where: {
        $0.condition.name == comparison.lowestLossCondition
      }) ?? comparison.conditions.first
    else { return nil }
    let run = c.runs[0]
    let points = run.points.filter { $0.smoothedLoss.isFinite }
    guard points.count > 1 else { return nil }
    let range = Axis.descentRange(of: points.map(\.smoothedLoss))
    let marker = comparison.suggestedMaximumLearningRate.map {
      Marker(x: $0, label: "max \(formatLR($0))")
    }
    return TerminalChart(
      title:
        "smoothed loss against learning rate\(comparison.conditions.count > 1 ? " (\(c.condition.name))" : "")",
      x: points.map(\.learningRate), y: points.map(\.smoothedLoss),
      xScale: mode == .exponential ? .log10 : .linear,
      yRange: range, marker: marker, width: 60, height: 12, usesColor: true
    ).render()
  }

  /// What a person reads first: the chosen learning rates, why, and what the curves say.
  package func summary() -> String {
    var lines: [String] = []
    if let max = comparison.suggestedMaximumLearningRate {
      lines.append(
        "suggested max LR \(formatLR(max)); min LR \(formatLR(comparison.suggestedMinimumLearningRate!)) for one-cycle, \(formatLR(comparison.suggestedCyclicMinimumLearningRate!)) for cyclic policies"
      )
      lines.append("why: \(comparison.reason)")
    } else {
      lines.append(comparison.reason)
    }
    for c in comparison.conditions {
      let prefix = comparison.conditions.count > 1 ? "\(c.condition.name): " : ""
      let s = c.suggestions
      let listed = SuggestionMethod.allCases.map { "\($0.rawValue) \(s[$0].map(formatLR) ?? "—")" }
        .joined(separator: ", ")
      var line = "\(prefix)suggestions \(listed)"
      if let spread = c.spread, c.runs.count > 1 {
        line +=
          "; chosen over \(c.runs.count) seeds: \(formatLR(spread.lowerBound))–\(formatLR(spread.upperBound))"
      }
      lines.append(line)
      var curve: [String] = []
      if let low = c.lowestLoss { curve.append(String(format: "lowest smoothed loss %.4f", low)) }
      if let v = c.lowestValidationLoss {
        curve.append(String(format: "lowest validation loss %.4f", v))
      }
      if let d = c.divergedAt {
        curve.append("diverged at LR \(formatLR(d))")
      } else {
        curve.append("did not diverge before the end LR")
      }
      if let stable = c.stableUpTo { curve.append("usable up to LR \(formatLR(stable))") }
      lines.append(
        "\(prefix.isEmpty ? "" : String(repeating: " ", count: prefix.count))\(curve.joined(separator: "; "))"
      )
    }
    if comparison.conditions.count > 1 {
      if let best = comparison.lowestLossCondition { lines.append("lowest loss: \(best)") }
      if let stable = comparison.mostStableCondition {
        lines.append("stable to the largest learning rate: \(stable)")
      }
    }
    return lines.joined(separator: "\n")
  }
}

/// lr_find.json: the suggestion first, then every condition with its curve summary.
package struct LRFindJSON: Encodable {
  struct SuggestionsJSON: Encodable {
    var steepest: Double?
    var minimum: Double?
    var valley: Double?
    var smith: Double?
    init(_ s: Suggestions) {
      steepest = s.steepest
      minimum = s.minimum
      valley = s.valley
      smith = s.smith
    }
  }
  struct ConditionJSON: Encodable {
    var name: String
    var batch_size: Int?
    var weight_decay: Double?
    var dropout: Double?
    var momentum: [Double]?
    package var steps: Int?
    var seeds: [UInt64]
    var suggested_max_lr: Double?
    var chosen: String?
    var reason: String
    var problem: String?
    var suggestions: SuggestionsJSON
    var spread: [Double]?
    var lowest_loss: Double?
    var lowest_val_loss: Double?
    var stable_up_to_lr: Double?
    var diverged_at_lr: Double?
    var points: Int
    package var seconds: Double
  }
  var suggested_max_lr: Double?
  var suggested_min_lr: Double?
  var suggested_min_lr_cyclic: Double?
  var reason: String
  var suggestions: SuggestionsJSON
  var diverged_at_lr: Double?
  var lowest_loss_condition: String?
  var most_stable_condition: String?
  var conditions: [ConditionJSON]

  init(_ c: RangeTestComparison) {
    suggested_max_lr = c.suggestedMaximumLearningRate
    suggested_min_lr = c.suggestedMinimumLearningRate
    suggested_min_lr_cyclic = c.suggestedCyclicMinimumLearningRate
    reason = c.reason
    let source =
      c.conditions.first { $0.condition.name == c.lowestLossCondition } ?? c.conditions.first
    suggestions = SuggestionsJSON(source?.suggestions ?? Suggestions())
    diverged_at_lr = source?.divergedAt
    lowest_loss_condition = c.lowestLossCondition
    most_stable_condition = c.mostStableCondition
    conditions = c.conditions.map { s in
      ConditionJSON(
        name: s.condition.name, batch_size: s.condition.batchSize,
        weight_decay: s.condition.weightDecay, dropout: s.condition.dropout,
        momentum: s.condition.momentum.map { [$0, s.condition.minimumMomentum ?? $0] },
        steps: s.condition.steps, seeds: s.seeds,
        suggested_max_lr: s.maximumLearningRate, chosen: s.chosen?.rawValue, reason: s.reason,
        problem: s.runs.compactMap(\.reading.problem).first,
        suggestions: SuggestionsJSON(s.suggestions),
        spread: s.spread.map { [$0.lowerBound, $0.upperBound] }, lowest_loss: s.lowestLoss,
        lowest_val_loss: s.lowestValidationLoss,
        stable_up_to_lr: s.stableUpTo, diverged_at_lr: s.divergedAt,
        points: s.runs.map(\.points.count).reduce(0, +),
        seconds: s.runs.map(\.seconds).reduce(0, +))
    }
  }
}
