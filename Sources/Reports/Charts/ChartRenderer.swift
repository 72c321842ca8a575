/// Writes a ``ChartLayout`` as SVG elements.
struct ChartRenderer {
  let chart: Chart
  let layout: ChartLayout

  static let fontFamily =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
  static let textColor = "#222222"
  static let tickTextColor = "#444444"
  static let mutedTextColor = "#5f5f5f"
  static let gridColor = "#e2e2e2"
  static let minorGridColor = "#f1f1f1"
  static let axisColor = "#8c8c8c"

  typealias Font = ChartLayout.Font

  /// The chart as an `<svg>` element; standalone (with `xmlns`) unless `origin` places it
  /// inside another SVG.
  func render(origin: Point? = nil) -> String {
    var out: [String] = []
    let width = SVG.number(layout.width)
    let height = SVG.number(layout.height)
    if let origin {
      out.append(
        "<svg x=\"\(SVG.number(origin.x))\" y=\"\(SVG.number(origin.y))\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
      )
    } else {
      out.append(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" font-family=\"\(Self.fontFamily)\" aria-label=\"\(SVG.escape(chart.title))\">"
      )
    }
    out.append("<title>\(SVG.escape(chart.title))</title>")
    out.append("<rect width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>")
    drawTitles(into: &out)
    drawLegend(into: &out)
    drawGrid(into: &out)
    drawMarkerLines(into: &out)
    let anyData = drawSeries(into: &out)
    drawAxes(into: &out)
    drawMarkerLabels(into: &out)
    if !anyData {
      out.append(
        SVG.text(
          "no data", x: (layout.plot.minX + layout.plot.maxX) / 2,
          y: (layout.plot.minY + layout.plot.maxY) / 2, size: Font.axisTitle,
          color: Self.mutedTextColor, anchor: "middle"))
    }
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }

  private func drawTitles(into out: inout [String]) {
    if !chart.title.isEmpty {
      out.append(
        SVG.text(
          chart.title, x: ChartLayout.padding, y: layout.titleBaseline, size: Font.title,
          color: Self.textColor, extra: "font-weight=\"600\""))
    }
    if let subtitle = chart.subtitle, !subtitle.isEmpty {
      out.append(
        SVG.text(
          subtitle, x: ChartLayout.padding, y: layout.subtitleBaseline, size: Font.subtitle,
          color: Self.mutedTextColor))
    }
  }

  private func drawLegend(into out: inout [String]) {
    guard !layout.legend.isEmpty else { return }
    out.append("<g>")
    for item in layout.legend {
      let y = item.origin.y
      let x0 = item.origin.x
      let x1 = x0 + ChartLayout.legendSampleWidth
      let color = item.color.hex
      if item.drawsLine {
        let strokeWidth = item.bold ? 3.0 : item.faint ? 2.0 : 2.25
        var attributes =
          "stroke=\"\(color)\" stroke-width=\"\(SVG.number(strokeWidth))\" stroke-linecap=\"round\""
        if item.dashed { attributes += " stroke-dasharray=\"6 4\"" }
        if item.faint { attributes += " stroke-opacity=\"0.45\"" }
        out.append(
          "<line x1=\"\(SVG.number(x0 + 2))\" y1=\"\(SVG.number(y))\" x2=\"\(SVG.number(x1 - 2))\" y2=\"\(SVG.number(y))\" \(attributes)/>"
        )
      }
      if item.drawsPoints {
        out.append(SVG.circle(x: (x0 + x1) / 2, y: y, radius: 4.5, fill: color))
      }
      out.append(
        SVG.text(
          item.name, x: x1 + 6, y: y, size: Font.legend, color: Self.textColor,
          extra: "dy=\"0.35em\""))
    }
    out.append("</g>")
  }

  private func drawGrid(into out: inout [String]) {
    let plot = layout.plot
    var minor = ""
    var major = ""
    for value in layout.xPlan.minor {
      let x = layout.x.pixel(value)
      guard x > plot.minX + 0.5 && x < plot.maxX - 0.5 else { continue }
      minor += "M\(SVG.number(x)),\(SVG.number(plot.minY))V\(SVG.number(plot.maxY))"
    }
    for value in layout.yPlan.minor {
      let y = layout.y.pixel(value)
      guard y > plot.minY + 0.5 && y < plot.maxY - 0.5 else { continue }
      minor += "M\(SVG.number(plot.minX)),\(SVG.number(y))H\(SVG.number(plot.maxX))"
    }
    for value in layout.xPlan.major {
      let x = layout.x.pixel(value)
      guard x > plot.minX + 0.5 && x <= plot.maxX + 0.5 else { continue }
      major += "M\(SVG.number(x)),\(SVG.number(plot.minY))V\(SVG.number(plot.maxY))"
    }
    for value in layout.yPlan.major {
      let y = layout.y.pixel(value)
      guard y >= plot.minY - 0.5 && y < plot.maxY - 0.5 else { continue }
      major += "M\(SVG.number(plot.minX)),\(SVG.number(y))H\(SVG.number(plot.maxX))"
    }
    if !minor.isEmpty {
      out.append(
        "<path d=\"\(minor)\" stroke=\"\(Self.minorGridColor)\" stroke-width=\"1\" fill=\"none\"/>"
      )
    }
    if !major.isEmpty {
      out.append(
        "<path d=\"\(major)\" stroke=\"\(Self.gridColor)\" stroke-width=\"1\" fill=\"none\"/>")
    }
  }

  private func drawMarkerLines(into out: inout [String]) {
    let plot = layout.plot
    for placement in layout.markers {
      out.append(
        "<line x1=\"\(SVG.number(placement.pixelX))\" y1=\"\(SVG.number(plot.minY))\" x2=\"\(SVG.number(placement.pixelX))\" y2=\"\(SVG.number(plot.maxY))\" stroke=\"\(placement.color.hex)\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
      )
    }
  }

  /// Draws every series (faint ones first, dots last); returns whether anything was drawn.
  private func drawSeries(into out: inout [String]) -> Bool {
    func layer(_ style: Series.Style) -> Int {
      switch style {
      case .faint: return 0
      case .scatter: return 2
      default: return 1
      }
    }
    let order = layout.series.indices.sorted {
      (layer(layout.series[$0].series.style), $0) < (layer(layout.series[$1].series.style), $1)
    }
    var anyData = false
    for index in order {
      let entry = layout.series[index]
      let style = entry.series.style
      let color = entry.color.hex
      let points = layout.pixelPoints(forSeriesAt: index)
      if style.drawsLine {
        let lines = layout.polylines(forSeriesAt: index)
        if !lines.isEmpty {
          anyData = true
          let (strokeWidth, extra): (Double, String) =
            switch style {
            case .bold: (2.75, "")
            case .faint: (1.25, " stroke-opacity=\"0.35\"")
            case .dashed: (2, " stroke-dasharray=\"7 4\"")
            default: (2, "")
            }
          out.append(
            "<path d=\"\(SVG.pathData(lines))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(SVG.number(strokeWidth))\" stroke-linejoin=\"round\" stroke-linecap=\"round\"\(extra)/>"
          )
        }
        // A value with gaps on both sides has no line to be part of: draw it as a dot.
        if !style.drawsPoints {
          var dots = ""
          for (i, point) in points.enumerated() where layout.plot.contains(point, tolerance: 0.5) {
            let before = i > 0 && points[i - 1].isFinite
            let after = i + 1 < points.count && points[i + 1].isFinite
            if !before && !after {
              dots += SVG.circle(
                x: point.x, y: point.y, radius: strokeWidthForDot(style), fill: color)
            }
          }
          if !dots.isEmpty {
            anyData = true
            out.append(dots)
          }
        }
      }
      if style.drawsPoints {
        let visible = points.filter { $0.isFinite && layout.plot.contains($0, tolerance: 0.5) }
        if !visible.isEmpty {
          anyData = true
          let radius = style == .scatter ? 4.5 : 3.5
          out.append(
            "<g fill=\"\(color)\" stroke=\"#ffffff\" stroke-width=\"1.2\">"
              + visible.map { SVG.circle(x: $0.x, y: $0.y, radius: radius) }.joined() + "</g>")
        }
      }
    }
    return anyData
  }

  private func strokeWidthForDot(_ style: Series.Style) -> Double {
    style == .bold ? 2.5 : 2
  }

  private func drawAxes(into out: inout [String]) {
    let plot = layout.plot
    var axisPath =
      "M\(SVG.number(plot.minX)),\(SVG.number(plot.minY))V\(SVG.number(plot.maxY))H\(SVG.number(plot.maxX))"
    if layout.y2 != nil { axisPath += "V\(SVG.number(plot.minY))" }
    var ticks = ""
    var labels: [String] = []
    let tick = ChartLayout.tickLength

    for (value, label) in zip(layout.xPlan.major, layout.xPlan.labels) {
      let x = layout.x.pixel(value)
      guard x >= plot.minX - 0.5 && x <= plot.maxX + 0.5 else { continue }
      ticks += "M\(SVG.number(x)),\(SVG.number(plot.maxY))v\(SVG.number(tick))"
      labels.append(
        SVG.tickLabel(label, x: x, y: plot.maxY + tick + 16, anchor: "middle"))
    }
    for (value, label) in zip(layout.yPlan.major, layout.yPlan.labels) {
      let y = layout.y.pixel(value)
      guard y >= plot.minY - 0.5 && y <= plot.maxY + 0.5 else { continue }
      ticks += "M\(SVG.number(plot.minX)),\(SVG.number(y))h\(SVG.number(-tick))"
      labels.append(
        SVG.tickLabel(label, x: plot.minX - tick - 5, y: y, anchor: "end", centred: true))
    }
    if let y2 = layout.y2, let plan = layout.y2Plan {
      for (value, label) in zip(plan.major, plan.labels) {
        let y = y2.pixel(value)
        guard y >= plot.minY - 0.5 && y <= plot.maxY + 0.5 else { continue }
        ticks += "M\(SVG.number(plot.maxX)),\(SVG.number(y))h\(SVG.number(tick))"
        labels.append(
          SVG.tickLabel(label, x: plot.maxX + tick + 5, y: y, anchor: "start", centred: true))
      }
    }
    out.append(
      "<path d=\"\(axisPath)\(ticks)\" fill=\"none\" stroke=\"\(Self.axisColor)\" stroke-width=\"1\"/>"
    )
    out.append(
      "<g font-size=\"\(SVG.number(Font.tick))\" fill=\"\(Self.tickTextColor)\">"
        + labels.joined() + "</g>")

    let middleX = (plot.minX + plot.maxX) / 2
    let middleY = (plot.minY + plot.maxY) / 2
    if !chart.xAxis.title.isEmpty {
      out.append(
        SVG.text(
          chart.xAxis.title, x: middleX, y: layout.height - ChartLayout.padding - 2,
          size: Font.axisTitle, color: Self.textColor, anchor: "middle"))
    }
    if !chart.yAxis.title.isEmpty {
      let x = ChartLayout.padding + Font.axisTitle * 0.78
      out.append(
        SVG.text(
          chart.yAxis.title, x: 0, y: 0, size: Font.axisTitle, color: Self.textColor,
          anchor: "middle",
          extra: "transform=\"translate(\(SVG.number(x)),\(SVG.number(middleY))) rotate(-90)\""))
    }
    if let secondary = layout.secondaryAxis, !secondary.title.isEmpty {
      let x = layout.width - ChartLayout.padding - Font.axisTitle * 0.78
      out.append(
        SVG.text(
          secondary.title, x: 0, y: 0, size: Font.axisTitle, color: Self.textColor,
          anchor: "middle",
          extra: "transform=\"translate(\(SVG.number(x)),\(SVG.number(middleY))) rotate(90)\""))
    }
  }

  private func drawMarkerLabels(into out: inout [String]) {
    for placement in layout.markers {
      if let dotY = placement.dotY {
        out.append(
          "<circle cx=\"\(SVG.number(placement.pixelX))\" cy=\"\(SVG.number(dotY))\" r=\"5\" fill=\"#ffffff\" stroke=\"\(placement.color.hex)\" stroke-width=\"2.25\"/>"
        )
      }
      guard !placement.marker.label.isEmpty else { continue }
      // A translucent white box keeps other marker lines and curves from crossing the text.
      let width = TextMetrics.width(of: placement.marker.label, fontSize: Font.marker) + 6
      let boxX = placement.anchorsAtEnd ? placement.labelX - width + 3 : placement.labelX - 3
      out.append(
        "<rect x=\"\(SVG.number(boxX))\" y=\"\(SVG.number(placement.labelBaseline - Font.marker))\" width=\"\(SVG.number(width))\" height=\"\(SVG.number(Font.marker + 4))\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>"
      )
      out.append(
        SVG.text(
          placement.marker.label, x: placement.labelX, y: placement.labelBaseline,
          size: Font.marker, color: placement.color.hex,
          anchor: placement.anchorsAtEnd ? "end" : "start",
          extra:
            "font-weight=\"600\" stroke=\"#ffffff\" stroke-width=\"4\" stroke-linejoin=\"round\" paint-order=\"stroke\""
        ))
    }
  }
}

extension ChartLayout {
  /// The pixel positions of a series' points (NaN where a value is missing).
  func pixelPoints(forSeriesAt index: Int) -> [Point] {
    let entry = series[index]
    let yMapping = entry.onSecondaryAxis ? (y2 ?? y) : y
    return (0..<entry.series.count).map {
      Point(x: x.pixel(entry.series.x[$0]), y: yMapping.pixel(entry.series.y[$0]))
    }
  }

  /// The polylines a series' line is drawn as: broken at missing values, clipped to the plot.
  func polylines(forSeriesAt index: Int) -> [[Point]] {
    Geometry.clippedPolylines(pixelPoints(forSeriesAt: index), in: plot).map {
      Geometry.decimated($0)
    }
  }
}

/// Small helpers for writing SVG text.
enum SVG {
  static func escape(_ text: String) -> String { Escaping.xml(text) }

  /// A coordinate with at most one decimal.
  static func number(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int(rounded)) }
    return String(rounded)
  }

  static func text(
    _ content: String, x: Double, y: Double, size: Double, color: String,
    anchor: String = "start", extra: String = ""
  ) -> String {
    var attributes = "x=\"\(number(x))\" y=\"\(number(y))\" font-size=\"\(number(size))\""
    attributes += " fill=\"\(color)\""
    if anchor != "start" { attributes += " text-anchor=\"\(anchor)\"" }
    if !extra.isEmpty { attributes += " " + extra }
    return "<text \(attributes)>\(escape(content))</text>"
  }

  static func circle(x: Double, y: Double, radius: Double, fill: String? = nil) -> String {
    let fillAttribute = fill.map { " fill=\"\($0)\"" } ?? ""
    return
      "<circle cx=\"\(number(x))\" cy=\"\(number(y))\" r=\"\(number(radius))\"\(fillAttribute)/>"
  }

  /// A tick label; `centred` puts its middle (not its baseline) at `y`. Decades on log axes
  /// are drawn as 10 with a raised, smaller exponent; minus signs are typographic (−).
  static func tickLabel(
    _ label: TickLabel, x: Double, y: Double, anchor: String, centred: Bool = false
  ) -> String {
    let anchorAttribute = anchor == "start" ? "" : " text-anchor=\"\(anchor)\""
    let dy = centred ? " dy=\"0.35em\"" : ""
    let text = escape(label.text.replacingOccurrences(of: "-", with: "\u{2212}"))
    var content = text
    if let exponent = label.exponent {
      let power = escape(String(exponent).replacingOccurrences(of: "-", with: "\u{2212}"))
      content += "<tspan dy=\"-0.5em\" font-size=\"0.78em\">\(power)</tspan>"
    }
    return "<text x=\"\(number(x))\" y=\"\(number(y))\"\(anchorAttribute)\(dy)>\(content)</text>"
  }

  /// `M x,y x,y …` for each polyline.
  static func pathData(_ lines: [[Point]]) -> String {
    var data = ""
    for line in lines {
      for (index, point) in line.enumerated() {
        data += index == 0 ? "M" : " "
        data += number(point.x) + "," + number(point.y)
      }
    }
    return data
  }
}
