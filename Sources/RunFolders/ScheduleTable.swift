import Foundation
import Reports
import Schedules

/// A schedule's rows, written as CSV, JSON or an SVG chart.
public struct ScheduleTable {
  public var schedule: Schedule
  /// The momentum shown where the policy does not cycle it.
  public var constantMomentum: Double
  /// How the chart's title names a policy parameter (`pctStart`): the command's flag for it.
  public var parameterName: (String) -> String

  public init(
    schedule: Schedule, constantMomentum: Double,
    parameterName: @escaping (String) -> String = { $0 }
  ) {
    self.schedule = schedule
    self.constantMomentum = constantMomentum
    self.parameterName = parameterName
  }

  public var rates: [Double] { (0..<schedule.totalSteps).map { schedule.learningRate(at: $0) } }
  public var momenta: [Double] {
    (0..<schedule.totalSteps).map { schedule.momentum(at: $0) ?? constantMomentum }
  }

  /// `step,lr,momentum`, one row per step, numbers in their shortest exact form.
  public func csv() -> String {
    var text = "step,lr,momentum\n"
    for (step, (rate, momentum)) in zip(rates, momenta).enumerated() {
      text += "\(step),\(rate),\(momentum)\n"
    }
    return text
  }

  /// The policy with its full parameters, the run length, the constant momentum (when the
  /// policy does not cycle it) and one `{"step", "lr", "momentum"}` object per line.
  public func json() throws -> String {
    struct Header: Encodable {
      var policy: Policy
      var totalSteps: Int
      var cyclesMomentum: Bool
      var constantMomentum: Double?
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let header = Header(
      policy: schedule.policy, totalSteps: schedule.totalSteps,
      cyclesMomentum: schedule.cyclesMomentum,
      constantMomentum: schedule.cyclesMomentum ? nil : constantMomentum)
    var text = String(decoding: try encoder.encode(header), as: UTF8.self)
    // Close the header object by hand so each row stays on one line.
    guard text.hasSuffix("}") else { return text }
    text.removeLast()
    while text.last?.isWhitespace == true { text.removeLast() }
    let rows = zip(rates, momenta).enumerated().map { step, values in
      "    {\"step\": \(step), \"lr\": \(Self.json(values.0)), \"momentum\": \(Self.json(values.1))}"
    }
    text += ",\n  \"rows\" : [\n" + rows.joined(separator: ",\n") + "\n  ]\n}\n"
    return text
  }

  /// A JSON number (schedules are finite; `null` guards the rest).
  private static func json(_ value: Double) -> String {
    value.isFinite ? "\(value)" : "null"
  }

  /// The learning rate (left axis) and momentum (right axis, dashed) against the step, with
  /// the peak learning rate marked when it is not at step 0.
  public func svg(learningRateScale: LearningRateAxis) -> String {
    let rates = self.rates
    let momenta = self.momenta
    let steps = rates.indices.map(Double.init)
    var markers: [Marker] = []
    if let peak = rates.indices.max(by: { rates[$0] < rates[$1] }), peak > 0 {
      markers.append(
        Marker(
          x: Double(peak), y: rates[peak],
          label: "max \(NumberFormatting.compact(rates[peak])) at step \(peak)"))
    }
    let momentumLow = momenta.min() ?? constantMomentum
    let momentumHigh = momenta.max() ?? constantMomentum
    // A flat momentum line gets a range around it rather than a zero-height axis.
    let momentumRange: ClosedRange<Double>? =
      momentumHigh - momentumLow < 1e-12
      ? (momentumLow - 0.05)...(momentumHigh + 0.05) : nil
    let momentumTitle = schedule.cyclesMomentum ? "momentum (β₁)" : "momentum (β₁, constant)"
    var chart = Chart(
      title: "\(title) — \(schedule.totalSteps) steps",
      xAxis: Axis(title: "step"),
      yAxis: Axis(
        title: "learning rate", scale: learningRateScale == .log ? .log10 : .linear),
      secondaryYAxis: Axis(title: momentumTitle, range: momentumRange),
      series: [
        Series(name: "learning rate", x: steps, y: rates, style: .bold, color: Palette.blue),
        Series(
          name: "momentum", x: steps, y: momenta, style: .dashed, axis: .secondary,
          color: Palette.vermillion),
      ],
      markers: markers)
    chart.subtitle = parameterSummary
    return chart.svg()
  }

  /// The policy's name, with the 1cycle variant.
  private var title: String {
    switch schedule.policy {
    case .oneCycle(let policy): return "one-cycle (\(policy.variant.rawValue))"
    case .warmup(let warmup): return "\(warmup.then.name) after a \(warmup.steps)-step warm-up"
    default: return schedule.policy.name
    }
  }

  /// "max-lr 0.1 · pct-start 0.3 · anneal cosine · …": the policy's parameters, read by
  /// reflection and named by their flags, cut to fit one line of the chart.
  private var parameterSummary: String {
    let summary = summary(of: schedule.policy)
    return summary.count > 130 ? String(summary.prefix(129)) + "…" : summary
  }

  private func summary(of value: Any) -> String {
    switch value {
    case let number as Double:
      return NumberFormatting.compact(number, significantDigits: 4)
    case let number as Int:
      return String(number)
    case let list as [Int]:
      return list.map(String.init).joined(separator: ",")
    case let mode as CyclicRate.Mode:
      return mode.rawValue
    case let mode as CyclicRate.ScaleMode:
      return mode.rawValue
    case let annealing as Annealing:
      if case .polynomial(let power) = annealing { return "polynomial \(power)" }
      return annealing == .cosine ? "cosine" : annealing == .linear ? "linear" : "exponential"
    case let policy as Policy:
      // An enum case's payload is its one child.
      guard let payload = Mirror(reflecting: policy).children.first?.value else { return "" }
      if case .warmup(let warmup) = policy {
        return "warm-up \(warmup.steps) steps from \(summary(of: warmup.startFactor)) · then "
          + "\(warmup.then.name): \(summary(of: warmup.then))"
      }
      return summary(of: payload)
    default:
      break
    }
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional {
      return mirror.children.first.map { summary(of: $0.value) } ?? "run length"
    }
    guard mirror.displayStyle == .struct else { return "\(value)" }
    let fields = Dictionary(
      mirror.children.compactMap { child in child.label.map { ($0, child.value) } },
      uniquingKeysWith: { first, _ in first })
    var parts: [String] = []
    for child in mirror.children {
      guard let label = child.label, label != "variant" else { continue }
      switch (label, child.value) {
      case ("cycleMomentum", let cycles as Bool):
        if !cycles { parts.append("momentum not cycled") }
      case ("baseMomentum", let base as Double):
        if fields["cycleMomentum"] as? Bool ?? true, let high = fields["maxMomentum"] as? Double {
          parts.append("momentum \(summary(of: high))→\(summary(of: base))")
        }
      case ("maxMomentum", _):
        continue
      case ("gamma", _) where fields["mode"] as? CyclicRate.Mode ?? .expRange != .expRange:
        continue  // only exp_range uses gamma
      case (_, let flag as Bool):
        if flag { parts.append(parameterName(label)) }
      default:
        parts.append("\(parameterName(label)) \(summary(of: child.value))")
      }
    }
    return parts.joined(separator: " · ")
  }
}

/// The scale of the chart's learning-rate axis.
public enum LearningRateAxis: String, CaseIterable, Sendable {
  case linear, log
}
