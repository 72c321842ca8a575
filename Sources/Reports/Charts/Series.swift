/// Which y-axis a series is measured against.
public enum YAxisSide: Sendable, Hashable {
  /// The left axis, ``Chart/yAxis``.
  case primary
  /// The right axis, ``Chart/secondaryYAxis`` (momentum beside the learning rate, say).
  case secondary
}

/// One set of (x, y) points drawn on a ``Chart`` or a ``TerminalChart``.
///
/// A NaN in `x` or `y` is a missing value: lines break there, so a series with one NaN in the
/// middle draws as two pieces. Values outside the axis range, infinities included, are clipped
/// at the plot's edge. On a log axis values ≤ 0 are missing too. If `x` and `y` differ in length
/// the extra values of the longer one are ignored.
///
/// Series that share a non-empty `name` share one legend entry and, unless given their own
/// `color`, one colour — draw the raw LR-finder loss `.faint` and its smoothed version `.bold`
/// under the same name. Series with an empty name get no legend entry.
public struct Series: Sendable {
  /// How the points are drawn.
  public enum Style: Sendable, Hashable {
    /// A solid line, 2 px.
    case line
    /// A heavier solid line, for the curve that matters (a smoothed loss).
    case bold
    /// A thin, translucent line, for raw data behind its smoothed version.
    case faint
    /// A dashed line.
    case dashed
    /// Dots only, no line (validation measurements every k steps).
    case scatter
    /// A solid line with a dot at every point.
    case lineWithPoints

    var drawsLine: Bool { self != .scatter }
    var drawsPoints: Bool { self == .scatter || self == .lineWithPoints }
  }

  public var name: String
  public var x: [Double]
  public var y: [Double]
  public var style: Style
  public var axis: YAxisSide
  /// `nil` takes the next palette colour (or the colour of an earlier series with this name).
  public var color: Color?

  public init(
    name: String, x: [Double], y: [Double], style: Style = .line, axis: YAxisSide = .primary,
    color: Color? = nil
  ) {
    self.name = name
    self.x = x
    self.y = y
    self.style = style
    self.axis = axis
    self.color = color
  }

  /// A series whose x values are 0, 1, 2, … (steps, say).
  public init(
    name: String, y: [Double], style: Style = .line, axis: YAxisSide = .primary,
    color: Color? = nil
  ) {
    self.init(
      name: name, x: y.indices.map(Double.init), y: y, style: style, axis: axis, color: color)
  }

  /// The number of usable (x, y) pairs.
  var count: Int { min(x.count, y.count) }
}

/// A labelled vertical line at `x`, such as a suggested learning rate, with an optional dot at
/// (`x`, `y`) on the primary y-axis (the point of the curve the suggestion refers to).
public struct Marker: Sendable {
  public var x: Double
  public var y: Double?
  public var label: String
  /// `nil` draws it in ``Palette/grey``.
  public var color: Color?

  public init(x: Double, y: Double? = nil, label: String, color: Color? = nil) {
    self.x = x
    self.y = y
    self.label = label
    self.color = color
  }
}
