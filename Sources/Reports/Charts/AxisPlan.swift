import Foundation

/// Maps data values on one axis to pixels.
struct AxisMapping: Sendable {
  var scale: Scale
  var domain: ClosedRange<Double>
  /// The pixel of `domain.lowerBound`.
  var start: Double
  /// The pixel of `domain.upperBound`.
  var end: Double

  /// Pixels are clamped to ±`limit` so that infinite and huge values stay finite and can be
  /// clipped geometrically.
  static let limit = 1e9

  func transformed(_ value: Double) -> Double {
    switch scale {
    case .linear: return value
    case .log10: return value > 0 ? Foundation.log10(value) : .nan
    }
  }

  /// The pixel for `value`: NaN for missing values (NaN, or ≤ 0 on a log axis), clamped to
  /// ±`limit` for values far outside the domain, infinities included.
  func pixel(_ value: Double) -> Double {
    let t = transformed(value)
    guard !t.isNaN else { return .nan }
    let low = transformed(domain.lowerBound)
    let high = transformed(domain.upperBound)
    let fraction = high == low ? 0.5 : (t - low) / (high - low)
    let result = start + fraction * (end - start)
    guard !result.isNaN else { return .nan }
    return min(max(result, -Self.limit), Self.limit)
  }
}

/// The domain and ticks chosen for one axis.
struct AxisPlan: Sendable {
  var domain: ClosedRange<Double>
  var major: [Double]
  var labels: [TickLabel]
  var minor: [Double]

  enum Orientation { case horizontal, vertical }

  /// Chooses domain and ticks for `axis` showing `values` over `length` pixels, as many ticks
  /// as fit without their labels overlapping. `padded` leaves a margin on log axes so dots at
  /// the ends are not cut in half.
  init(
    axis: Axis, values: [Double], padded: Bool, length: Double, orientation: Orientation,
    fontSize: Double
  ) {
    let usable = values.filter { $0.isFinite && (axis.scale == .linear || $0 > 0) }
    let fixedTicks = (axis.ticks ?? []).filter {
      $0.value.isFinite && (axis.scale == .linear || $0.value > 0)
    }
    let extentValues = usable + fixedTicks.map(\.value)
    let extent = extentValues.min().map { $0...(extentValues.max() ?? $0) }

    if !fixedTicks.isEmpty {
      let domain = axis.range ?? Self.paddedDomain(extent!, scale: axis.scale)
      let sorted = fixedTicks.sorted { $0.value < $1.value }
      self.init(
        domain: domain, major: sorted.map(\.value),
        labels: Self.fixedLabels(sorted, scale: axis.scale), minor: [])
      return
    }

    let initialCount =
      orientation == .horizontal ? max(2, Int(length / 100)) : max(2, Int(length / 55))
    // The most ticks whose labels fit, preferring three or more (a short axis may need a
    // larger target count than its length suggests to get them).
    let start = min(initialCount, 12)
    var fallback: AxisPlan? = nil
    var last: AxisPlan? = nil
    for count in Array(stride(from: start, through: 2, by: -1)) + Array(start + 1...start + 6) {
      let candidate: AxisPlan
      switch axis.scale {
      case .linear:
        let margin = orientation == .vertical ? 0.04 : padded ? 0.03 : 0
        let domain =
          axis.range ?? extent.map { Self.linearDomain($0, targetCount: count, margin: margin) }
          ?? (0...1)
        let safe = domain.upperBound > domain.lowerBound ? domain : Self.widened(domain, .linear)
        let ticks = Ticks.linear(in: safe, targetCount: count)
        let step = Ticks.linearStep(in: safe, targetCount: count)
        candidate = AxisPlan(
          domain: safe, major: ticks, labels: Ticks.linearLabels(ticks, step: step), minor: [])
      case .log10:
        var domain = axis.range ?? extent.map { Self.logDomain($0, padded: padded) } ?? (1...10)
        if domain.upperBound <= domain.lowerBound { domain = Self.widened(domain, .log10) }
        let (major, minor) = Ticks.log(in: domain, maxCount: count)
        candidate = AxisPlan(
          domain: domain, major: major,
          labels: Ticks.logLabels(major, style: axis.logLabelStyle), minor: minor)
      }
      last = candidate
      guard
        candidate.labelsFit(
          length: length, orientation: orientation, fontSize: fontSize, scale: axis.scale)
      else { continue }
      if candidate.major.count >= 3 {
        self = candidate
        return
      }
      if fallback == nil { fallback = candidate }
    }
    self = fallback ?? last!
  }

  init(domain: ClosedRange<Double>, major: [Double], labels: [TickLabel], minor: [Double]) {
    self.domain = domain
    self.major = major
    self.labels = labels
    self.minor = minor
  }

  /// Whether neighbouring labels keep clear of each other at this length.
  func labelsFit(length: Double, orientation: Orientation, fontSize: Double, scale: Scale) -> Bool {
    let mapping = AxisMapping(scale: scale, domain: domain, start: 0, end: length)
    let positions = major.map(mapping.pixel)
    for index in positions.indices.dropFirst() {
      let gap = abs(positions[index] - positions[index - 1])
      switch orientation {
      case .horizontal:
        let needed =
          (labels[index].width(fontSize: fontSize) + labels[index - 1].width(fontSize: fontSize))
          / 2 + 12
        if gap < needed { return false }
      case .vertical:
        if gap < fontSize * 1.6 { return false }
      }
    }
    return true
  }

  /// Labels for caller-given ticks: their own, else compact numbers — all in scientific form
  /// on a log axis that reaches below 0.001 or above 100000, so that they read alike.
  static func fixedLabels(_ ticks: [Axis.Tick], scale: Scale) -> [TickLabel] {
    let scientific =
      scale == .log10 && ticks.contains { $0.label == nil && ($0.value < 1e-3 || $0.value >= 1e5) }
    return ticks.map { tick in
      if let label = tick.label { return .plain(label) }
      return .plain(
        scientific
          ? NumberFormatting.scientific(tick.value) : NumberFormatting.compact(tick.value))
    }
  }

  /// The data extent widened to the nearest nice ticks where that costs little (at most 8% of
  /// the span at an end), else by `margin` × span: a run of 2345 steps ends at 2345, not 3000.
  static func linearDomain(_ extent: ClosedRange<Double>, targetCount: Int, margin: Double)
    -> ClosedRange<Double>
  {
    let nice = Ticks.niceDomain(extent.lowerBound, extent.upperBound, targetCount: targetCount)
    let span = extent.upperBound - extent.lowerBound
    guard span > 0 else { return nice }
    let low =
      extent.lowerBound - nice.lowerBound <= 0.08 * span
      ? nice.lowerBound : extent.lowerBound - margin * span
    let high =
      nice.upperBound - extent.upperBound <= 0.08 * span
      ? nice.upperBound : extent.upperBound + margin * span
    return low...high
  }

  static func logDomain(_ extent: ClosedRange<Double>, padded: Bool) -> ClosedRange<Double> {
    let low = log10(extent.lowerBound)
    let high = log10(extent.upperBound)
    if high - low < 1e-12 { return widened(extent, .log10) }
    guard padded else { return extent }
    let pad = (high - low) * 0.04
    return pow(10, low - pad)...pow(10, high + pad)
  }

  static func paddedDomain(_ extent: ClosedRange<Double>, scale: Scale) -> ClosedRange<Double> {
    switch scale {
    case .linear:
      let span = extent.upperBound - extent.lowerBound
      if span == 0 { return widened(extent, .linear) }
      return (extent.lowerBound - span * 0.05)...(extent.upperBound + span * 0.05)
    case .log10:
      return logDomain(extent, padded: true)
    }
  }

  /// A usable domain around a single value.
  static func widened(_ domain: ClosedRange<Double>, _ scale: Scale) -> ClosedRange<Double> {
    let value = domain.lowerBound
    switch scale {
    case .linear:
      let half = value == 0 ? 1 : abs(value) * 0.1
      return (value - half)...(value + half)
    case .log10:
      return (value / 10.0.squareRoot())...(value * 10.0.squareRoot())
    }
  }
}
