import Foundation
import Testing

@testable import Reports

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// The `d` attributes of the series paths drawn in `color`.
func seriesPaths(in svg: String, color: Color) -> [String] {
  let marker = "fill=\"none\" stroke=\"\(color.hex)\""
  return svg.split(separator: "\n").filter { $0.hasPrefix("<path d=\"") && $0.contains(marker) }
    .map { line in
      let start = line.index(line.startIndex, offsetBy: 9)
      return String(line[start..<line[start...].firstIndex(of: "\"")!])
    }
}

/// Every coordinate pair of a path `d` written as `Mx,y x,y …`.
func coordinates(ofPath data: String) -> [Point] {
  data.split(whereSeparator: { $0 == "M" || $0 == " " }).map { pair in
    let parts = pair.split(separator: ",").map { Double($0)! }
    return Point(x: parts[0], y: parts[1])
  }
}

func isWellFormedXML(_ text: String) -> Bool {
  XMLParser(data: Data(text.utf8)).parse()
}

@Suite struct AxisMappingTests {
  @Test func logScaleMapsDecadesEvenly() {
    let mapping = AxisMapping(scale: .log10, domain: 1e-7...10, start: 100, end: 900)
    // Eight decades over 800 px: 100 px per decade; 1e-3 is four decades in.
    #expect(abs(mapping.pixel(1e-7) - 100) < 1e-9)
    #expect(abs(mapping.pixel(1e-3) - 500) < 1e-9)
    #expect(abs(mapping.pixel(10) - 900) < 1e-9)
    #expect(abs(mapping.pixel(0.01 * 10.0.squareRoot()) - 650) < 1e-9)  // half a decade
    #expect(mapping.pixel(0).isNaN && mapping.pixel(-1).isNaN && mapping.pixel(.nan).isNaN)
    #expect(mapping.pixel(.infinity) == AxisMapping.limit)
  }

  @Test func chartPlacesLogXWhereExpected() {
    let chart = Chart(
      title: "t", xAxis: Axis(title: "learning rate", scale: .log10, range: 1e-7...10),
      yAxis: Axis(title: "loss"), series: [Series(name: "a", x: [1e-7, 1e-3, 10], y: [1, 2, 3])])
    let layout = chart.layout
    let points = layout.pixelPoints(forSeriesAt: 0)
    #expect(abs(points[0].x - layout.plot.minX) < 1e-9)
    #expect(abs(points[2].x - layout.plot.maxX) < 1e-9)
    #expect(abs(points[1].x - (layout.plot.minX + layout.plot.width / 2)) < 1e-9)
    // y grows upwards: the larger loss is higher on the page (smaller pixel y).
    #expect(points[2].y < points[0].y)
  }

  @Test func secondaryAxisHasItsOwnScale() {
    let chart = SampleCharts.schedule()
    let layout = chart.layout
    #expect(layout.y2 != nil)
    #expect(layout.yPlan.domain == 0...0.08)
    #expect(
      layout.y2Plan?.domain.lowerBound ?? 0 <= 0.85 && layout.y2Plan?.domain.upperBound ?? 0 >= 0.95
    )
    // Momentum starts at 0.95, near the top of its own axis though 0.95 ≫ every LR.
    let momentum = layout.pixelPoints(forSeriesAt: 1)[0]
    #expect(momentum.y > layout.plot.minY && momentum.y < layout.plot.minY + layout.plot.height / 4)
    let svg = chart.svg()
    #expect(svg.contains("rotate(90)") && svg.contains(">momentum<"))
    #expect(svg.contains("momentum (right axis)"))
  }
}

@Suite struct ClippingAndGapTests {
  @Test func nanSplitsTheLineIntoTwoSubpaths() {
    let chart = Chart(
      title: "gap", xAxis: Axis(title: "x"), yAxis: Axis(title: "y"),
      series: [
        Series(name: "s", x: [0, 1, 2, 3, 4, 5], y: [1, 2, .nan, 4, 5, 6], color: Palette.blue)
      ])
    let lines = chart.layout.polylines(forSeriesAt: 0)
    #expect(lines.count == 2)
    #expect(lines.map(\.count) == [2, 3])
    let paths = seriesPaths(in: chart.svg(), color: Palette.blue)
    #expect(paths.count == 1)
    #expect(paths[0].filter { $0 == "M" }.count == 2)
  }

  @Test func missingXAlsoBreaksTheLine() {
    let chart = Chart(
      title: "", xAxis: Axis(title: "", scale: .log10), yAxis: Axis(title: ""),
      series: [Series(name: "", x: [1, 10, 0, 1000, 1e4], y: [1, 2, 3, 4, 5])])
    #expect(chart.layout.polylines(forSeriesAt: 0).count == 2)  // x = 0 has no place on a log axis
  }

  @Test func infiniteAndHugeValuesAreClippedToThePlot() {
    let chart = Chart(
      title: "blow-up", xAxis: Axis(title: "x"), yAxis: Axis(title: "loss", range: 0...3),
      series: [
        Series(
          name: "loss", x: [0, 1, 2, 3, 4, 5], y: [2, 1, 0.5, 1e300, .infinity, 1],
          color: Palette.vermillion)
      ])
    let layout = chart.layout
    let lines = layout.polylines(forSeriesAt: 0)
    let points = lines.flatMap { $0 }
    #expect(!points.isEmpty)
    #expect(points.allSatisfy { layout.plot.contains($0, tolerance: 1e-6) })
    // The line rises to the top edge, leaves the plot, and comes back down at x = 5.
    #expect(lines.count == 2)
    #expect(abs(lines[0].last!.y - layout.plot.minY) < 1e-6)
    #expect(abs(lines[1].first!.y - layout.plot.minY) < 1e-6)
    let svgPoints = seriesPaths(in: chart.svg(), color: Palette.vermillion).flatMap(coordinates)
    #expect(svgPoints.allSatisfy { layout.plot.contains($0, tolerance: 0.06) })
  }

  @Test func negativeInfinityClipsAtTheBottom() {
    let chart = Chart(
      title: "", xAxis: Axis(title: ""), yAxis: Axis(title: "", range: 0...1),
      series: [Series(name: "", x: [0, 1], y: [0.5, -.infinity])])
    let layout = chart.layout
    let line = layout.polylines(forSeriesAt: 0)
    #expect(line.count == 1)
    #expect(abs(line[0][1].y - layout.plot.maxY) < 1e-6)
    // An infinite value is infinitely far away, so the line drops straight down from the last
    // finite point (x = 0) rather than slanting towards x = 1.
    #expect(abs(line[0][1].x - layout.plot.minX) < 0.01)
  }

  @Test func liangBarskyClipsASegmentCrossingTheRectangle() {
    let rect = Rect(minX: 0, minY: 0, maxX: 10, maxY: 10)
    let clipped = Geometry.clip(Point(x: -5, y: 5), Point(x: 15, y: 5), to: rect)
    #expect(clipped?.0 == Point(x: 0, y: 5) && clipped?.1 == Point(x: 10, y: 5))
    #expect(Geometry.clip(Point(x: -5, y: -5), Point(x: -1, y: 20), to: rect) == nil)
    let inside = Geometry.clip(Point(x: 1, y: 2), Point(x: 3, y: 4), to: rect)
    #expect(inside?.0 == Point(x: 1, y: 2) && inside?.1 == Point(x: 3, y: 4))
  }

  @Test func decimationKeepsTheEnvelopeOfEachPixelColumn() {
    // 1000 points within 10 pixel columns: at most 4 survive per column, extremes included.
    let line = (0..<1000).map { Point(x: Double($0) / 100, y: sin(Double($0)) * 50) }
    let thin = Geometry.decimated(line)
    #expect(thin.count <= 40)
    #expect(thin.first == line.first && thin.last == line.last)
    #expect(thin.map(\.y).min() == line.map(\.y).min())
    #expect(thin.map(\.y).max() == line.map(\.y).max())
  }
}

@Suite struct ChartLayoutTests {
  @Test func sameNameSharesColourAndLegendEntry() {
    let chart = Chart(
      title: "", xAxis: Axis(title: ""), yAxis: Axis(title: ""),
      series: [
        Series(name: "wd 1e-4", x: [1, 2], y: [1, 2], style: .faint),
        Series(name: "wd 1e-4", x: [1, 2], y: [1, 1.5], style: .bold),
        Series(name: "wd 0", x: [1, 2], y: [2, 2]),
        Series(name: "", x: [1, 2], y: [0, 0], style: .dashed),
      ])
    let layout = chart.layout
    #expect(layout.series[0].color == layout.series[1].color)
    #expect(layout.series[0].color != layout.series[2].color)
    #expect(layout.legend.map(\.name) == ["wd 1e-4", "wd 0"])
    #expect(layout.legend[0].bold && !layout.legend[0].faint)
  }

  @Test func explicitColoursAreNotReusedForOtherSeries() {
    let chart = Chart(
      title: "", xAxis: Axis(title: ""), yAxis: Axis(title: ""),
      series: [
        Series(name: "a", x: [1], y: [1], color: Palette.okabeIto[0]),
        Series(name: "b", x: [1], y: [1]),
      ])
    #expect(chart.layout.series[1].color != Palette.okabeIto[0])
  }

  @Test func closeMarkersGetSeparateLabelLanes() {
    let chart = SampleCharts.lrFinder()
    let layout = chart.layout
    #expect(layout.markers.count == 4)
    // Labels in the same lane must not overlap.
    for lane in Set(layout.markers.map(\.lane)) {
      let spans = layout.markers.filter { $0.lane == lane }.map { placement in
        let width = TextMetrics.width(of: placement.marker.label, fontSize: ChartLayout.Font.marker)
        return placement.anchorsAtEnd
          ? (placement.labelX - width)...placement.labelX
          : placement.labelX...(placement.labelX + width)
      }.sorted { $0.lowerBound < $1.lowerBound }
      for (a, b) in zip(spans, spans.dropFirst()) { #expect(a.upperBound < b.lowerBound) }
    }
    #expect(Set(layout.markers.map(\.lane)).count >= 2)
    // Each marker line sits at its x on the log axis.
    for placement in layout.markers {
      #expect(abs(placement.pixelX - layout.x.pixel(placement.marker.x)) < 1e-9)
    }
  }

  @Test func marginsLeaveRoomForLabels() {
    for chart in [
      SampleCharts.lrFinder(), SampleCharts.schedule(), SampleCharts.fitLoss(),
      SampleCharts.weightDecay(),
    ] {
      let layout = chart.layout
      // Every y label fits between the left edge and the plot, after the axis title.
      let widest = layout.yPlan.labels.map { $0.width(fontSize: ChartLayout.Font.tick) }.max()!
      #expect(layout.plot.minX - widest - ChartLayout.tickLength > ChartLayout.padding + 10)
      // Every x label's half width fits inside the canvas.
      for (value, label) in zip(layout.xPlan.major, layout.xPlan.labels) {
        let x = layout.x.pixel(value)
        let half = label.width(fontSize: ChartLayout.Font.tick) / 2
        #expect(x - half >= 0 && x + half <= layout.width, "\(label.plainText) at \(x)")
      }
      #expect(
        layout.xPlan.labelsFit(
          length: layout.plot.width, orientation: .horizontal, fontSize: ChartLayout.Font.tick,
          scale: chart.xAxis.scale))
      #expect(layout.plot.minY > layout.legend.map(\.origin.y).max() ?? 0)
    }
  }

  @Test func longLegendsWrapInsideTheChart() {
    let series = (0..<8).map { index in
      Series(name: "condition number \(index) with a long name", x: [1, 2], y: [1, Double(index)])
    }
    let chart = Chart(
      title: "many", xAxis: Axis(title: "x"), yAxis: Axis(title: "y"), series: series)
    let layout = chart.layout
    #expect(Set(layout.legend.map(\.origin.y)).count > 1)
    for item in layout.legend {
      let right =
        item.origin.x + ChartLayout.legendSampleWidth + 6
        + TextMetrics.width(of: item.name, fontSize: ChartLayout.Font.legend)
      #expect(right <= layout.width - ChartLayout.padding + 1)
    }
    #expect(layout.plot.minY > layout.legend.last!.origin.y + ChartLayout.legendRowHeight / 2)
    #expect(isWellFormedXML(chart.svg()))
  }

  @Test func longSeriesAreThinnedToThePixelEnvelope() {
    let steps = 200_000
    let loss = (0..<steps).map { 2 * exp(-Double($0) / 40_000) + 0.1 * sin(Double($0)) }
    let chart = Chart(
      title: "", xAxis: Axis(title: "step"), yAxis: Axis(title: "loss"),
      series: [Series(name: "training", y: loss, color: Palette.blue)])
    let paths = seriesPaths(in: chart.svg(), color: Palette.blue)
    let points = paths.flatMap(coordinates)
    #expect(points.count <= 4 * 1000)
    #expect(abs(points.first!.x - chart.layout.plot.minX) < 0.06)
  }

  @Test func tinyChartsStillDraw() {
    var chart = SampleCharts.schedule()
    chart.width = 200
    chart.height = 120
    #expect(isWellFormedXML(chart.svg()))
    #expect(chart.layout.plot.width > 0 && chart.layout.plot.height > 0)
  }

  @Test func descentRangeClipsTheBlowUp() {
    let range = Axis.descentRange(of: [2.3, 2.0, 1.2, 0.8, 1.5, 40, .infinity, .nan])!
    #expect(abs(range.lowerBound - (0.8 - 1.5 * 0.05)) < 1e-12)
    #expect(abs(range.upperBound - (2.3 + 1.5 * 0.05)) < 1e-12)
    #expect(Axis.descentRange(of: [.nan, .infinity]) == nil)
    let both = Axis.descentRange(ofCurves: [[3, 1, 9], [2, 0.5, 30]], padding: 0)
    #expect(both == 0.5...3)
  }

  @Test func fixedTicksAreUsedAsGiven() {
    let layout = SampleCharts.weightDecay().layout
    #expect(layout.xPlan.labels.map(\.plainText) == ["0", "1e-5", "1e-4", "3e-4", "1e-3"])
    #expect(layout.xPlan.domain.lowerBound < 1e-6 && layout.xPlan.domain.upperBound > 1e-3)
  }
}

@Suite struct SVGOutputTests {
  @Test func everySampleIsWellFormedXML() {
    for chart in [
      SampleCharts.lrFinder(), SampleCharts.schedule(), SampleCharts.fitLoss(),
      SampleCharts.fitAccuracy(width: 480, height: 320), SampleCharts.weightDecay(),
    ] {
      let svg = chart.svg()
      #expect(isWellFormedXML(svg), "\(chart.title)")
      #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(chart.width)\""))
      #expect(!svg.contains("nan") && !svg.contains("inf"))
      #expect(!svg.contains(" id="))  // charts can be inlined together without clashes
    }
  }

  @Test func textIsEscaped() {
    let chart = Chart(
      title: "loss <&> \"quoted\"", xAxis: Axis(title: "a < b"), yAxis: Axis(title: "c & d"),
      series: [Series(name: "<script>", x: [1, 2], y: [1, 2])],
      markers: [Marker(x: 1.5, label: "x > 1 & y")])
    let svg = chart.svg()
    #expect(isWellFormedXML(svg))
    #expect(svg.contains("loss &lt;&amp;&gt; &quot;quoted&quot;"))
    #expect(svg.contains("&lt;script&gt;") && !svg.contains("<script>"))
    #expect(svg.contains("x &gt; 1 &amp; y"))
  }

  @Test func logAxisLabelsUseRaisedExponents() {
    let svg = SampleCharts.lrFinder().svg()
    #expect(svg.contains(">10<tspan dy=\"-0.5em\" font-size=\"0.78em\">\u{2212}7</tspan>"))
    var chart = SampleCharts.lrFinder()
    chart.xAxis.logLabelStyle = .exponent
    #expect(chart.svg().contains(">1e\u{2212}3</text>"))
  }

  @Test func emptyChartSaysSo() {
    let chart = Chart(
      title: "nothing", xAxis: Axis(title: "x"), yAxis: Axis(title: "y"), series: [])
    let svg = chart.svg()
    #expect(isWellFormedXML(svg) && svg.contains(">no data<"))
    let allNaN = Chart(
      title: "", xAxis: Axis(title: "", scale: .log10), yAxis: Axis(title: "", scale: .log10),
      series: [Series(name: "n", x: [.nan, 1], y: [.nan, -1])])
    #expect(allNaN.svg().contains(">no data<"))
  }

  @Test func scatterPointsOutsideTheRangeAreLeftOut() {
    let chart = Chart(
      title: "", xAxis: Axis(title: ""), yAxis: Axis(title: "", range: 0...1),
      series: [
        Series(
          name: "v", x: [0, 1, 2], y: [0.5, 7, .infinity], style: .scatter, color: Palette.orange)
      ])
    let svg = chart.svg()
    let group = svg.split(separator: "\n").first {
      $0.hasPrefix("<g fill=\"\(Palette.orange.hex)\"")
    }
    #expect(group.map { $0.components(separatedBy: "<circle").count - 1 } == 1)
  }

  @Test func gridPlacesChartsSideBySide() {
    let grid = ChartGrid(
      title: "Training",
      charts: [
        SampleCharts.fitLoss(width: 480, height: 320),
        SampleCharts.fitAccuracy(width: 480, height: 320),
        SampleCharts.fitLoss(width: 480, height: 320),
      ],
      columns: 2)
    let svg = grid.svg()
    #expect(isWellFormedXML(svg))
    // Title band 40 px, charts 480 × 320 with 12 px gaps, two per row.
    #expect(svg.contains("<svg x=\"492\" y=\"40\" width=\"480\" height=\"320\""))
    #expect(svg.contains("<svg x=\"0\" y=\"372\""))
    #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"972\" height=\"692\""))
  }
}
