/// A line chart drawn as standalone SVG: several series, a legend, linear or log axes with nice
/// ticks, an optional second y-axis, labelled vertical markers, and scatter points.
///
/// ```swift
/// let chart = Chart(
///   title: "LR range test",
///   xAxis: Axis(title: "learning rate", scale: .log10),
///   yAxis: Axis(title: "loss", range: Axis.descentRange(of: smoothed)),
///   series: [
///     Series(name: "wd 1e-4", x: rates, y: raw, style: .faint, color: Palette.blue),
///     Series(name: "wd 1e-4", x: rates, y: smoothed, style: .bold, color: Palette.blue),
///   ],
///   markers: [Marker(x: 0.03, label: "steepest 3e-2")])
/// try chart.svg().write(to: url, atomically: true, encoding: .utf8)
/// ```
///
/// Layout is automatic: margins grow to fit the tick labels, the legend sits above the plot,
/// marker labels stack in lanes so they never overlap, and text is sized to be read when the
/// chart is shown about 1000 px wide. The SVG uses no element ids and no style sheet, so
/// several charts can be inlined in one HTML page.
public struct Chart: Sendable {
  public var title: String
  /// A line of smaller grey text under the title.
  public var subtitle: String?
  public var xAxis: Axis
  public var yAxis: Axis
  /// The right-hand axis for series with `axis: .secondary`; if `nil` while such series exist,
  /// an untitled one is made.
  public var secondaryYAxis: Axis?
  public var series: [Series]
  public var markers: [Marker]
  /// Size in pixels (the SVG's `width`, `height` and `viewBox`).
  public var width: Int
  public var height: Int
  public var palette: Palette = .okabeIto
  public var showsLegend: Bool = true

  public init(
    title: String, xAxis: Axis, yAxis: Axis, secondaryYAxis: Axis? = nil, series: [Series],
    markers: [Marker] = [], width: Int = 1000, height: Int = 560
  ) {
    self.title = title
    self.xAxis = xAxis
    self.yAxis = yAxis
    self.secondaryYAxis = secondaryYAxis
    self.series = series
    self.markers = markers
    self.width = width
    self.height = height
  }

  /// The chart as a standalone SVG document (UTF-8 text, no XML declaration needed).
  public func svg() -> String {
    ChartRenderer(chart: self, layout: ChartLayout(chart: self)).render()
  }

  /// The computed layout, for tests and for composing charts.
  var layout: ChartLayout { ChartLayout(chart: self) }
}
