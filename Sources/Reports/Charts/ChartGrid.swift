/// Several charts in one SVG, laid out in rows of `columns` (for `fit`'s loss, accuracy and
/// learning-rate charts side by side in one file). Each chart keeps its own size; a row is as
/// tall as its tallest chart.
///
/// ```swift
/// ChartGrid(title: "Training", charts: [loss, accuracy, rate], columns: 2).svg()
/// ```
public struct ChartGrid: Sendable {
  public var title: String
  public var charts: [Chart]
  public var columns: Int
  /// Space between charts, in pixels.
  public var spacing: Int = 12

  public init(title: String = "", charts: [Chart], columns: Int = 2) {
    precondition(columns > 0, "a chart grid needs at least one column, got \(columns)")
    self.title = title
    self.charts = charts
    self.columns = columns
  }

  /// The grid as a standalone SVG document.
  public func svg() -> String {
    let gap = Double(spacing)
    let titleHeight = title.isEmpty ? 0.0 : ChartLayout.Font.title + 20
    let rows = stride(from: 0, to: charts.count, by: columns).map {
      Array(charts[$0..<min($0 + columns, charts.count)])
    }
    var width = 0.0
    var y = titleHeight
    var placed: [String] = []
    for row in rows {
      var x = 0.0
      for chart in row {
        let layout = ChartLayout(chart: chart)
        placed.append(
          ChartRenderer(chart: chart, layout: layout).render(origin: Point(x: x, y: y)))
        x += layout.width + gap
      }
      width = max(width, x - gap)
      y += (row.map { Double(max($0.height, 100)) }.max() ?? 0) + gap
    }
    let height = max(y - (rows.isEmpty ? 0 : gap), titleHeight)
    let w = SVG.number(max(width, 1))
    let h = SVG.number(max(height, 1))
    var out = [
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" viewBox=\"0 0 \(w) \(h)\" role=\"img\" font-family=\"\(ChartRenderer.fontFamily)\" aria-label=\"\(SVG.escape(title))\">",
      "<title>\(SVG.escape(title))</title>",
      "<rect width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>",
    ]
    if !title.isEmpty {
      out.append(
        SVG.text(
          title, x: ChartLayout.padding, y: ChartLayout.padding + ChartLayout.Font.title * 0.8,
          size: ChartLayout.Font.title + 2, color: ChartRenderer.textColor,
          extra: "font-weight=\"700\""))
    }
    out += placed
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }
}
