/// Where everything of a ``Chart`` goes: margins, plot area, axis mappings and ticks, colours,
/// legend and marker-label positions. Computed once, then drawn by ``Chart/svg()``.
struct ChartLayout: Sendable {
  struct ResolvedSeries: Sendable {
    var series: Series
    var color: Color
    /// The mapping of its y values (primary or secondary axis).
    var onSecondaryAxis: Bool
  }

  struct LegendItem: Sendable {
    var name: String
    var color: Color
    var drawsLine: Bool
    var drawsPoints: Bool
    var dashed: Bool
    var faint: Bool
    var bold: Bool
    /// Left end of the sample line and the vertical centre of the row.
    var origin: Point
  }

  struct MarkerPlacement: Sendable {
    var marker: Marker
    var color: Color
    var pixelX: Double
    var dotY: Double?
    var labelX: Double
    var labelBaseline: Double
    var anchorsAtEnd: Bool
    var lane: Int
  }

  enum Font {
    static let title = 20.0
    static let subtitle = 14.0
    static let legend = 14.0
    static let axisTitle = 15.0
    static let tick = 13.0
    static let marker = 13.0
  }

  static let padding = 16.0
  static let tickLength = 5.0
  static let legendRowHeight = 22.0
  static let legendSampleWidth = 28.0

  var width: Double
  var height: Double
  var plot: Rect
  var x: AxisMapping
  var y: AxisMapping
  var y2: AxisMapping?
  var xPlan: AxisPlan
  var yPlan: AxisPlan
  var y2Plan: AxisPlan?
  var secondaryAxis: Axis?
  var series: [ResolvedSeries]
  var legend: [LegendItem]
  var markers: [MarkerPlacement]
  var titleBaseline: Double
  var subtitleBaseline: Double

  init(chart: Chart) {
    width = Double(max(chart.width, 120))
    height = Double(max(chart.height, 100))
    let padding = Self.padding

    // Colours: explicit ones first, then palette colours not already taken, shared by name.
    let explicit = Set(chart.series.compactMap(\.color))
    var free = chart.palette.colors.filter { !explicit.contains($0) }
    if free.isEmpty { free = chart.palette.colors }
    var nextFree = 0
    var byName: [String: Color] = [:]
    var resolved: [ResolvedSeries] = []
    let hasSecondary = chart.series.contains { $0.axis == .secondary }
    for series in chart.series {
      let color: Color
      if let given = series.color {
        color = given
      } else if !series.name.isEmpty, let shared = byName[series.name] {
        color = shared
      } else {
        color = free[nextFree % free.count]
        nextFree += 1
      }
      if !series.name.isEmpty && byName[series.name] == nil { byName[series.name] = color }
      resolved.append(
        ResolvedSeries(series: series, color: color, onSecondaryAxis: series.axis == .secondary))
    }
    series = resolved
    let secondary: Axis? =
      chart.secondaryYAxis ?? (hasSecondary ? Axis(title: "", scale: chart.yAxis.scale) : nil)
    secondaryAxis = secondary
    let hasPrimary = resolved.contains { !$0.onSecondaryAxis }

    // Top: title, subtitle, legend rows.
    var cursor = padding
    titleBaseline = cursor + Font.title * 0.8
    if !chart.title.isEmpty { cursor += Font.title + 8 }
    subtitleBaseline = cursor + Font.subtitle * 0.8
    if let subtitle = chart.subtitle, !subtitle.isEmpty { cursor += Font.subtitle + 8 }
    var items: [LegendItem] = []
    if chart.showsLegend {
      var order: [String] = []
      var groups: [String: [ResolvedSeries]] = [:]
      for entry in resolved where !entry.series.name.isEmpty {
        if groups[entry.series.name] == nil { order.append(entry.series.name) }
        groups[entry.series.name, default: []].append(entry)
      }
      var rowX = padding
      var row = 0
      let rowTop = cursor
      for name in order {
        let members = groups[name]!
        let lineStyles = members.map(\.series.style).filter(\.drawsLine)
        var label = name
        if hasPrimary && members.allSatisfy(\.onSecondaryAxis) { label += " (right axis)" }
        let itemWidth =
          Self.legendSampleWidth + 6 + TextMetrics.width(of: label, fontSize: Font.legend) + 20
        if rowX > padding && rowX + itemWidth - 20 > width - padding {
          row += 1
          rowX = padding
        }
        items.append(
          LegendItem(
            name: label, color: members[0].color, drawsLine: !lineStyles.isEmpty,
            drawsPoints: members.contains { $0.series.style.drawsPoints },
            dashed: !lineStyles.isEmpty && lineStyles.allSatisfy { $0 == .dashed },
            faint: !lineStyles.isEmpty && lineStyles.allSatisfy { $0 == .faint },
            bold: lineStyles.contains(.bold),
            origin: Point(
              x: rowX, y: rowTop + Self.legendRowHeight * (Double(row) + 0.5))))
        rowX += itemWidth
      }
      if !items.isEmpty { cursor += Self.legendRowHeight * Double(row + 1) + 2 }
    }
    legend = items
    let plotTop = cursor + (cursor == padding ? 4 : 10)

    // Bottom: tick labels and the x-axis title.
    let xValues = resolved.flatMap { $0.series.x.prefix($0.series.count) } + chart.markers.map(\.x)
    let xPadded = resolved.contains { $0.series.style.drawsPoints }
    let bottomMargin =
      Self.tickLength + 6 + Font.tick + 4 + (chart.xAxis.title.isEmpty ? 0 : Font.axisTitle + 10)
      + padding - 4
    let plotBottom = height - bottomMargin
    let plotHeight = max(plotBottom - plotTop, 20)

    func values(secondary: Bool) -> [Double] {
      var result: [Double] = []
      for entry in resolved where entry.onSecondaryAxis == secondary {
        result += entry.series.y.prefix(entry.series.count)
      }
      if !secondary { result += chart.markers.compactMap(\.y) }
      return result
    }
    func padded(secondary: Bool) -> Bool {
      resolved.contains { $0.onSecondaryAxis == secondary && $0.series.style.drawsPoints }
    }
    let yPlan = AxisPlan(
      axis: chart.yAxis, values: values(secondary: false), padded: padded(secondary: false),
      length: plotHeight, orientation: .vertical, fontSize: Font.tick)
    let y2Plan = secondary.map {
      AxisPlan(
        axis: $0, values: values(secondary: true), padded: padded(secondary: true),
        length: plotHeight, orientation: .vertical, fontSize: Font.tick)
    }

    func sideMargin(_ plan: AxisPlan, title: String) -> Double {
      let labelWidth = plan.labels.map { $0.width(fontSize: Font.tick) }.max() ?? 0
      return padding + (title.isEmpty ? 0 : Font.axisTitle + 10) + labelWidth + 6
        + Self.tickLength
    }
    let left = sideMargin(yPlan, title: chart.yAxis.title)
    var right =
      y2Plan.map { sideMargin($0, title: secondary?.title ?? "") } ?? padding + 4

    // Two passes: the last x label may need more room on the right than the padding gives.
    var xPlan = AxisPlan(
      axis: chart.xAxis, values: xValues, padded: xPadded, length: max(width - left - right, 20),
      orientation: .horizontal, fontSize: Font.tick)
    if y2Plan == nil {
      let mapping = AxisMapping(
        scale: chart.xAxis.scale, domain: xPlan.domain, start: left, end: width - right)
      var needed = padding
      for (value, label) in zip(xPlan.major, xPlan.labels) {
        let overhang =
          mapping.pixel(value) + label.width(fontSize: Font.tick) / 2 + 4 - (width - right)
        needed = max(needed, right + overhang)
      }
      if needed > right {
        right = needed
        xPlan = AxisPlan(
          axis: chart.xAxis, values: xValues, padded: xPadded,
          length: max(width - left - right, 20), orientation: .horizontal, fontSize: Font.tick)
      }
    }
    plot = Rect(
      minX: left, minY: plotTop, maxX: max(width - right, left + 20), maxY: plotTop + plotHeight)
    self.xPlan = xPlan
    self.yPlan = yPlan
    self.y2Plan = y2Plan
    x = AxisMapping(
      scale: chart.xAxis.scale, domain: xPlan.domain, start: plot.minX, end: plot.maxX)
    y = AxisMapping(
      scale: chart.yAxis.scale, domain: yPlan.domain, start: plot.maxY, end: plot.minY)
    if let secondary, let y2Plan {
      y2 = AxisMapping(
        scale: secondary.scale, domain: y2Plan.domain, start: plot.maxY, end: plot.minY)
    } else {
      y2 = nil
    }

    // Marker labels: horizontal, in lanes from the top of the plot so that none overlap.
    var placements: [MarkerPlacement] = []
    var laneEnds: [Double] = []
    let plot = self.plot
    let xMapping = x
    let yMapping = y
    let sortedMarkers = chart.markers.map { ($0, xMapping.pixel($0.x)) }
      .filter { $0.1.isFinite && $0.1 >= plot.minX - 0.5 && $0.1 <= plot.maxX + 0.5 }
      .sorted { $0.1 < $1.1 }
    for (marker, pixelX) in sortedMarkers {
      let labelWidth = TextMetrics.width(of: marker.label, fontSize: Font.marker)
      let atEnd = pixelX + 5 + labelWidth > plot.maxX - 4
      let extent =
        atEnd ? (pixelX - 5 - labelWidth)...(pixelX - 5) : (pixelX + 5)...(pixelX + 5 + labelWidth)
      var lane = laneEnds.firstIndex { extent.lowerBound > $0 + 8 } ?? laneEnds.count
      if marker.label.isEmpty { lane = 0 }
      if lane == laneEnds.count { laneEnds.append(-.infinity) }
      if !marker.label.isEmpty { laneEnds[lane] = extent.upperBound }
      let dotY = marker.y.map(yMapping.pixel).flatMap { value -> Double? in
        value >= plot.minY - 0.5 && value <= plot.maxY + 0.5 ? value : nil
      }
      placements.append(
        MarkerPlacement(
          marker: marker, color: marker.color ?? Palette.grey, pixelX: pixelX, dotY: dotY,
          labelX: atEnd ? pixelX - 5 : pixelX + 5,
          labelBaseline: plot.minY + Font.marker + 4 + Double(lane) * (Font.marker + 5),
          anchorsAtEnd: atEnd, lane: lane))
    }
    markers = placements
  }
}
