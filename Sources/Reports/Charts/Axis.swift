/// How an axis maps values to positions.
public enum Scale: Sendable, Hashable {
  /// Equal distances for equal differences.
  case linear
  /// Equal distances for equal ratios; values ≤ 0 cannot be shown and are treated as missing.
  case log10
}

/// One axis of a ``Chart``: its title, scale, optional fixed range and optional fixed ticks.
///
/// Without a `range` the axis covers the data: a linear axis is widened to the nearest "nice"
/// ticks (1, 2 or 5 × 10^k steps); a log axis gets a small margin on both sides. A `range`
/// is used exactly as given, and data outside it is clipped at the plot's edge — use it to keep
/// an LR finder's blow-up from squashing the curve (``descentRange(of:padding:)`` picks one).
public struct Axis: Sendable {
  /// A tick placed by the caller, for example batch sizes 32, 64, 128 on a log axis, or a
  /// weight decay of 0 drawn at 1e-6 and labelled "0".
  public struct Tick: Sendable, Hashable {
    public var value: Double
    /// The label; `nil` formats `value` with ``NumberFormatting/compact(_:significantDigits:)``.
    public var label: String?

    public init(_ value: Double, label: String? = nil) {
      self.value = value
      self.label = label
    }
  }

  /// How decade ticks on a log axis are labelled.
  public enum LogLabelStyle: Sendable, Hashable {
    /// 10⁻⁴ (a raised exponent).
    case power
    /// 1e-4.
    case exponent
  }

  public var title: String
  public var scale: Scale
  /// A fixed range; `nil` fits the data. On a log axis both ends must be positive.
  public var range: ClosedRange<Double>?
  /// Fixed ticks replacing the automatic ones; `nil` chooses them automatically.
  public var ticks: [Tick]?
  public var logLabelStyle: LogLabelStyle

  public init(
    title: String, scale: Scale = .linear, range: ClosedRange<Double>? = nil,
    ticks: [Tick]? = nil, logLabelStyle: LogLabelStyle = .power
  ) {
    if let range, scale == .log10 {
      precondition(range.lowerBound > 0, "a log axis range must be positive, got \(range)")
    }
    self.title = title
    self.scale = scale
    self.range = range
    self.ticks = ticks
    self.logLabelStyle = logLabelStyle
  }

  /// A y range for a loss curve that ends in a blow-up, as an LR range test's does: from the
  /// lowest finite value to the highest finite value reached *before* that lowest point, widened
  /// by `padding` (a fraction of the span) on both sides. What comes after the minimum and rises
  /// above the start is clipped at the top of the plot instead of squashing the curve.
  ///
  /// Returns `nil` when there are no finite values.
  /// ```swift
  /// Axis.descentRange(of: [2.3, 2.0, 1.2, 0.8, 1.5, 40, .infinity])  // ≈ 0.725...2.375
  /// ```
  public static func descentRange(of values: [Double], padding: Double = 0.05)
    -> ClosedRange<Double>?
  {
    descentRange(ofCurves: [values], padding: padding)
  }

  /// The smallest range holding the ``descentRange(of:padding:)`` of every curve: for several
  /// LR range tests drawn on one chart.
  public static func descentRange(ofCurves curves: [[Double]], padding: Double = 0.05)
    -> ClosedRange<Double>?
  {
    var low = Double.infinity
    var high = -Double.infinity
    for values in curves {
      guard let extent = descentExtent(of: values) else { continue }
      low = min(low, extent.lowerBound)
      high = max(high, extent.upperBound)
    }
    guard low.isFinite else { return nil }
    let span = high - low
    if span == 0 {
      let half = low == 0 ? 1 : abs(low) * 0.1
      return (low - half)...(low + half)
    }
    return (low - span * padding)...(high + span * padding)
  }

  /// Lowest finite value ... highest finite value up to it (or after it, if it comes first).
  static func descentExtent(of values: [Double]) -> ClosedRange<Double>? {
    var lowest = Double.infinity
    var lowestIndex = -1
    for (index, value) in values.enumerated() where value.isFinite && value < lowest {
      lowest = value
      lowestIndex = index
    }
    guard lowestIndex >= 0 else { return nil }
    var highest = lowest
    for value in values[...lowestIndex] where value.isFinite { highest = max(highest, value) }
    if highest == lowest {
      for value in values where value.isFinite { highest = max(highest, value) }
    }
    return lowest...highest
  }
}
