import Foundation

@testable import Reports

/// Realistic charts of the kinds the commands draw, built from synthetic curves. Tests check
/// them; with `REPORTS_SAMPLE_DIR` set, the sample-report test also writes them there as SVG
/// and HTML for a look in a browser (`scripts/render-report.sh`).
enum SampleCharts {
  /// Log-spaced learning rates from 1e-7 to 10.
  static let rates: [Double] = (0..<300).map { pow(10, -7 + 8 * Double($0) / 299) }

  /// A loss-vs-LR curve that falls, bottoms out near `best` and blows up, with noise.
  static func rangeTestLoss(best: Double, floor: Double, seed: UInt64) -> (
    raw: [Double], smoothed: [Double]
  ) {
    var state = seed &* 6_364_136_223_846_793_005 &+ 1
    func noise() -> Double {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Double(state >> 11) / Double(1 << 53) - 0.5
    }
    var raw: [Double] = []
    for rate in rates {
      let t = log10(rate / best)
      var loss = floor + (2.3 - floor) / (1 + exp(3 * (t + 1.2)))
      if t > 0 { loss += pow(10, 1.6 * t) - 1 }
      loss *= 1 + 0.12 * noise()
      if t > 1.3 { loss = t > 1.6 ? .nan : .infinity }
      raw.append(loss)
    }
    var smoothed: [Double] = []
    var average = 0.0
    for (index, value) in raw.enumerated() {
      guard value.isFinite else {
        smoothed.append(value)
        continue
      }
      average = 0.98 * average + 0.02 * value
      smoothed.append(average / (1 - pow(0.98, Double(index + 1))))
    }
    return (raw, smoothed)
  }

  static func lrFinder() -> Chart {
    let conditions: [(String, Double, Double, Color)] = [
      ("weight decay 1e-3", 0.05, 0.55, Palette.blue),
      ("weight decay 1e-4", 0.12, 0.5, Palette.vermillion),
      ("weight decay 0", 0.2, 0.62, Palette.bluishGreen),
    ]
    var series: [Series] = []
    var allSmoothed: [[Double]] = []
    for (index, (name, best, floor, color)) in conditions.enumerated() {
      let (raw, smoothed) = rangeTestLoss(best: best, floor: floor, seed: UInt64(index + 1))
      allSmoothed.append(smoothed)
      series.append(Series(name: name, x: rates, y: raw, style: .faint, color: color))
      series.append(Series(name: name, x: rates, y: smoothed, style: .bold, color: color))
    }
    let validationRates = stride(from: 0, to: rates.count, by: 30).map { rates[$0] }
    let validation = validationRates.map { rate in
      0.6 + 1.7 / (1 + exp(3 * (log10(rate / 0.12) + 1.2))) + (rate > 0.3 ? 2 : 0)
    }
    series.append(
      Series(
        name: "validation (wd 1e-4)", x: validationRates, y: validation, style: .scatter,
        color: Palette.vermillion))
    var chart = Chart(
      title: "LR range test — loss against learning rate",
      xAxis: Axis(title: "learning rate", scale: .log10),
      yAxis: Axis(title: "training loss", range: Axis.descentRange(ofCurves: allSmoothed)),
      series: series,
      markers: [
        Marker(x: 0.012, label: "steepest 1.2e-2"),
        Marker(x: 0.015, label: "valley 1.5e-2"),
        Marker(x: 0.08, y: 0.52, label: "chosen max LR 0.08", color: Palette.vermillion),
        Marker(x: 0.02, label: "min/10 2e-2"),
      ])
    chart.subtitle = "raw loss faint, smoothed (EMA, β = 0.98) bold; 300 steps per condition"
    return chart
  }

  static func schedule() -> Chart {
    let steps = 1000
    var rate: [Double] = []
    var momentum: [Double] = []
    for step in 0..<steps {
      let p = Double(step) / Double(steps - 1)
      if p < 0.45 {
        rate.append(0.008 + (0.08 - 0.008) * p / 0.45)
        momentum.append(0.95 - 0.1 * p / 0.45)
      } else if p < 0.9 {
        rate.append(0.08 - (0.08 - 0.008) * (p - 0.45) / 0.45)
        momentum.append(0.85 + 0.1 * (p - 0.45) / 0.45)
      } else {
        rate.append(0.008 - (0.008 - 0.00008) * (p - 0.9) / 0.1)
        momentum.append(0.95)
      }
    }
    return Chart(
      title: "1cycle schedule (Smith): learning rate and momentum",
      xAxis: Axis(title: "step"), yAxis: Axis(title: "learning rate"),
      secondaryYAxis: Axis(title: "momentum"),
      series: [
        Series(name: "learning rate", y: rate, style: .bold),
        Series(name: "momentum", y: momentum, style: .dashed, axis: .secondary),
      ])
  }

  static func fitLoss(width: Int = 1000, height: Int = 560) -> Chart {
    let steps = 2345
    let train = (0..<steps).map { step -> Double in
      let t = Double(step) / Double(steps)
      let noise = sin(Double(step) * 12.9898) * 43758.5453
      return (0.25 + 2.05 * exp(-6 * t)) * (1 + 0.15 * (noise - noise.rounded(.down) - 0.5))
    }
    let epochs = (1...5).map { Double($0) * Double(steps) / 5 }
    let validation = [0.52, 0.41, 0.36, 0.33, 0.31]
    return Chart(
      title: "Loss", xAxis: Axis(title: "step"), yAxis: Axis(title: "loss"),
      series: [
        Series(name: "training", y: train, style: .faint, color: Palette.blue),
        Series(
          name: "validation", x: epochs, y: validation, style: .lineWithPoints,
          color: Palette.vermillion),
      ], width: width, height: height)
  }

  static func fitAccuracy(width: Int = 1000, height: Int = 560) -> Chart {
    Chart(
      title: "Validation accuracy", xAxis: Axis(title: "epoch"),
      yAxis: Axis(title: "accuracy", range: 0.8...1),
      series: [
        Series(
          name: "", x: [1, 2, 3, 4, 5], y: [0.86, 0.89, .nan, 0.915, 0.922],
          style: .lineWithPoints)
      ],
      width: width, height: height)
  }

  static func weightDecay() -> Chart {
    let decays = [1e-6, 1e-5, 1e-4, 3e-4, 1e-3]
    return Chart(
      title: "Weight decay grid: early validation loss",
      xAxis: Axis(
        title: "weight decay", scale: .log10,
        ticks: [.init(1e-6, label: "0"), .init(1e-5), .init(1e-4), .init(3e-4), .init(1e-3)]),
      yAxis: Axis(title: "validation loss after 1 epoch"),
      series: [
        Series(
          name: "validation loss", x: decays, y: [0.41, 0.39, 0.36, 0.35, 0.38],
          style: .lineWithPoints)
      ], markers: [Marker(x: 3e-4, label: "chosen 3e-4", color: Palette.bluishGreen)],
      width: 700, height: 420)
  }
}
