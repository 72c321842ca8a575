import Foundation

/// A tick label: plain text, or "10" raised to an exponent for decades on a log axis.
struct TickLabel: Sendable, Hashable {
  var text: String
  /// When set, the label is 10^exponent and `text` is "10".
  var exponent: Int?

  static func plain(_ text: String) -> TickLabel { TickLabel(text: text, exponent: nil) }
  static func power(_ exponent: Int) -> TickLabel { TickLabel(text: "10", exponent: exponent) }

  /// The label as one line of plain text: `0.02`, `1e-4`, or `10⁻⁴`.
  var plainText: String {
    guard let exponent else { return text }
    return text + NumberFormatting.superscript(exponent)
  }

  /// Estimated width in pixels at `fontSize` (sans-serif digits are about 0.56 em wide).
  func width(fontSize: Double) -> Double {
    let base = TextMetrics.width(of: text, fontSize: fontSize)
    guard let exponent else { return base }
    return base + TextMetrics.width(of: String(exponent), fontSize: fontSize * 0.75)
  }
}

/// Rough text measurement for layout: no font files are read, so widths are estimates that
/// err on the wide side.
enum TextMetrics {
  static func width(of text: String, fontSize: Double) -> Double {
    var ems = 0.0
    for character in text {
      switch character {
      case "i", "j", "l", "I", ".", ",", ":", ";", "'", "|", "!", " ": ems += 0.3
      case "f", "t", "r", "(", ")", "[", "]", "-", "/": ems += 0.4
      case "m", "w", "M", "W": ems += 0.88
      case _ where character.isUppercase: ems += 0.68
      default: ems += 0.57
      }
    }
    return ems * fontSize
  }
}

/// Tick placement: "nice" steps of 1, 2 or 5 × 10^k on linear axes, decades (or 1-2-5
/// mantissas on short ranges) on log axes.
enum Ticks {
  /// 10^k computed so that negative powers are the doubles nearest to the decimal value.
  static func decade(_ exponent: Int) -> Double {
    exponent >= 0 ? pow(10, Double(exponent)) : 1 / pow(10, Double(-exponent))
  }

  /// `mantissa` × 10^exponent, as near the decimal value as a double gets.
  static func value(mantissa: Int, exponent: Int) -> Double {
    exponent >= 0
      ? Double(mantissa) * pow(10, Double(exponent)) : Double(mantissa) / pow(10, Double(-exponent))
  }

  /// The smallest step of the form 1, 2 or 5 × 10^k that cuts `span` into at most
  /// `targetCount` intervals.
  static func niceStep(span: Double, targetCount: Int) -> Double {
    precondition(span > 0 && span.isFinite, "tick span must be positive and finite, got \(span)")
    let raw = span / Double(max(1, targetCount))
    let exponent = Int(floor(log10(raw)))
    let residual = raw / decade(exponent)
    let tolerance = 1e-9
    if residual <= 1 + tolerance { return decade(exponent) }
    if residual <= 2 + tolerance { return value(mantissa: 2, exponent: exponent) }
    if residual <= 5 + tolerance { return value(mantissa: 5, exponent: exponent) }
    return decade(exponent + 1)
  }

  /// Rounds `value` to the decimal grid of `step`, removing binary noise (0.060000000000000005).
  static func snap(_ value: Double, step: Double) -> Double {
    let decimals = max(0, -Int(floor(log10(step))))
    guard decimals > 0 else { return value == 0 ? 0 : value }
    let unit = decade(decimals)
    let result = (value * unit).rounded() / unit
    return result == 0 ? 0 : result
  }

  /// Multiples of a nice step inside `domain` (ends included when they fall on the grid).
  static func linear(in domain: ClosedRange<Double>, targetCount: Int) -> [Double] {
    let span = domain.upperBound - domain.lowerBound
    guard span > 0, span.isFinite else { return [domain.lowerBound] }
    let step = niceStep(span: span, targetCount: targetCount)
    let first = Int(ceil(domain.lowerBound / step - 1e-9))
    let last = Int(floor(domain.upperBound / step + 1e-9))
    guard first <= last else { return [] }
    return (first...last).map { snap(Double($0) * step, step: step) }
  }

  /// The step `linear(in:targetCount:)` uses for `domain`.
  static func linearStep(in domain: ClosedRange<Double>, targetCount: Int) -> Double {
    niceStep(span: domain.upperBound - domain.lowerBound, targetCount: targetCount)
  }

  /// `lower...upper` widened outwards to the nearest multiples of a nice step.
  static func niceDomain(_ lower: Double, _ upper: Double, targetCount: Int) -> ClosedRange<Double>
  {
    var low = lower
    var high = upper
    if low == high {
      let half = low == 0 ? 1 : abs(low) * 0.1
      low -= half
      high += half
    }
    let step = niceStep(span: high - low, targetCount: targetCount)
    let niceLow = snap(floor(low / step + 1e-9) * step, step: step)
    let niceHigh = snap(ceil(high / step - 1e-9) * step, step: step)
    return niceLow...niceHigh
  }

  /// Labels for linear ticks: fixed decimals matching the step (`0.00, 0.02, …`), or
  /// scientific notation for very large or very small values.
  static func linearLabels(_ ticks: [Double], step: Double) -> [TickLabel] {
    let largest = ticks.map(abs).max() ?? 0
    let stepExponent = Int(floor(log10(step)))
    if largest >= 1e5 || (largest > 0 && largest < 1e-3) || step < 1e-4 {
      let digits = largest > 0 ? Int(floor(log10(largest))) - stepExponent + 1 : 1
      return ticks.map {
        .plain(NumberFormatting.scientific($0, significantDigits: min(max(digits, 1), 6)))
      }
    }
    let decimals = max(0, -stepExponent)
    return ticks.map { .plain(NumberFormatting.fixed($0, decimals: decimals)) }
  }

  /// Log-axis ticks: every decade (or every n-th if more than `maxCount` fit), with the
  /// multiples 2…9 as unlabelled minor ticks; on ranges shorter than two decades, 1-2-5 (or
  /// 1…9) mantissas instead; on very short ranges, linear ticks.
  static func log(in domain: ClosedRange<Double>, maxCount: Int) -> (
    major: [Double], minor: [Double]
  ) {
    let low = domain.lowerBound
    let high = domain.upperBound
    precondition(low > 0 && high >= low, "log ticks need a positive range, got \(domain)")
    let lowExponent = log10(low)
    let highExponent = log10(high)
    let contains = { (value: Double) in value >= low * (1 - 1e-9) && value <= high * (1 + 1e-9) }
    let first = Int(ceil(lowExponent - 1e-9))
    let last = Int(floor(highExponent + 1e-9))
    if last - first + 1 >= 2 {
      let count = last - first + 1
      let every = max(1, Int(ceil(Double(count) / Double(max(2, maxCount)))))
      var major: [Double] = []
      var minor: [Double] = []
      for exponent in first...last {
        if exponent % every == 0 {
          major.append(decade(exponent))
        } else if every > 1 {
          minor.append(decade(exponent))
        }
      }
      if major.count < 2 {  // alignment to multiples of `every` left too few: start at `first`
        major = stride(from: first, through: last, by: every).map(decade)
        minor = (first...last).filter { ($0 - first) % every != 0 }.map(decade)
      }
      if every == 1 && count <= 6 {
        for exponent in (first - 1)...last {
          for mantissa in 2...9 {
            let value = value(mantissa: mantissa, exponent: exponent)
            if contains(value) { minor.append(value) }
          }
        }
      }
      return (major, minor.sorted())
    }
    // Under two labelled decades: the first mantissa set giving 3…maxCount ticks, else the
    // smallest set that gives at least two.
    var fallback: [Double]? = nil
    for mantissas in [[1, 2, 5], [1, 3], Array(1...9)] {
      var major: [Double] = []
      for exponent in (Int(floor(lowExponent)) - 1)...(Int(ceil(highExponent)) + 1) {
        for mantissa in mantissas {
          let value = value(mantissa: mantissa, exponent: exponent)
          if contains(value) { major.append(value) }
        }
      }
      major.sort()
      if major.count >= 3 && major.count <= max(2, maxCount) { return (major, []) }
      if major.count >= 2 && major.count <= max(2, maxCount) && fallback == nil {
        fallback = major
      }
    }
    if let fallback { return (fallback, []) }
    let major = linear(in: domain, targetCount: max(2, maxCount)).filter { $0 > 0 }
    return (major, [])
  }

  /// Labels for log ticks: decades as 10^k (or `1e-4`), others in compact decimal form.
  static func logLabels(_ ticks: [Double], style: Axis.LogLabelStyle) -> [TickLabel] {
    ticks.map { value in
      let exponent = log10(value)
      if abs(exponent - exponent.rounded()) < 1e-9 {
        let power = Int(exponent.rounded())
        switch style {
        case .power: return .power(power)
        case .exponent: return .plain("1e\(power)")
        }
      }
      return .plain(NumberFormatting.compact(value))
    }
  }
}
