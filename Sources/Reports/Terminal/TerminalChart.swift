import Foundation

/// A compact chart for the terminal, drawn with braille characters (2 × 4 dots per cell).
///
/// Used to show the loss against the learning rate with the chosen rate marked, or the loss
/// curve at the end of training. The result is a `String`; print it only when standard output
/// is a terminal. With `usesColor`, series and marker are coloured with ANSI escapes.
///
/// ```text
/// loss against learning rate
/// 2.31 ┤⠉⠉⠉⠉⠉⠉⠉⠉⠒⠒⠒⠢⠤⢄⡀         ┊    ⢠
///      │              ⠈⠑⠢⣀     ┊   ⡰⠁
/// 0.42 ┤                  ⠉⠒⠤⣀⣀⣀⣀⡠⠊
///      └────────────────────────┴─────────
///       1e-7          ▲ 0.08 chosen    10
/// ```
public struct TerminalChart: Sendable {
  public var title: String
  public var series: [Series]
  public var xScale: Scale
  public var yScale: Scale
  /// Fixed ranges; `nil` fits the data (and the marker).
  public var xRange: ClosedRange<Double>?
  public var yRange: ClosedRange<Double>?
  /// A marked x value: a dotted column in the plot and `▲ label` under the axis.
  public var marker: Marker?
  /// Size of the plot area in character cells (axis labels come on top of this).
  public var width: Int
  public var height: Int
  public var usesColor: Bool

  public init(
    title: String = "", series: [Series], xScale: Scale = .linear, yScale: Scale = .linear,
    xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
    marker: Marker? = nil, width: Int = 60, height: Int = 12, usesColor: Bool = false
  ) {
    precondition(width >= 4 && height >= 2, "terminal chart too small: \(width)×\(height) cells")
    self.title = title
    self.series = series
    self.xScale = xScale
    self.yScale = yScale
    self.xRange = xRange
    self.yRange = yRange
    self.marker = marker
    self.width = width
    self.height = height
    self.usesColor = usesColor
  }

  /// A chart of one curve.
  public init(
    title: String = "", x: [Double], y: [Double], xScale: Scale = .linear,
    yScale: Scale = .linear, yRange: ClosedRange<Double>? = nil, marker: Marker? = nil,
    width: Int = 60, height: Int = 12, usesColor: Bool = false
  ) {
    self.init(
      title: title, series: [Series(name: "", x: x, y: y)], xScale: xScale, yScale: yScale,
      yRange: yRange, marker: marker, width: width, height: height, usesColor: usesColor)
  }

  /// Colours that read on dark and light terminals alike (Okabe–Ito without black and blue).
  static let colors = [
    Palette.skyBlue, Palette.orange, Palette.bluishGreen, Palette.reddishPurple, Palette.yellow,
  ]
  static let reset = "\u{1B}[0m"

  /// The domains the chart uses (for tests).
  var domains: (x: ClosedRange<Double>, y: ClosedRange<Double>) {
    func usable(_ values: [Double], _ scale: Scale) -> [Double] {
      values.filter { $0.isFinite && (scale == .linear || $0 > 0) }
    }
    let xs = usable(
      series.flatMap { $0.x.prefix($0.count) } + (marker.map { [$0.x] } ?? []), xScale)
    let ys = usable(series.flatMap { $0.y.prefix($0.count) }, yScale)
    func domain(_ values: [Double], _ scale: Scale, _ fixed: ClosedRange<Double>?)
      -> ClosedRange<Double>
    {
      if let fixed, fixed.upperBound > fixed.lowerBound { return fixed }
      guard let low = values.min(), let high = values.max() else {
        return scale == .linear ? 0...1 : 1...10
      }
      return high > low ? low...high : AxisPlan.widened(low...low, scale)
    }
    return (domain(xs, xScale, xRange), domain(ys, yScale, yRange))
  }

  /// The x mapping onto dot columns.
  var xMapping: AxisMapping {
    AxisMapping(scale: xScale, domain: domains.x, start: 0, end: Double(width * 2 - 1))
  }

  var yMapping: AxisMapping {
    AxisMapping(scale: yScale, domain: domains.y, start: Double(height * 4 - 1), end: 0)
  }

  /// The cell column of the marker, if it is inside the plot.
  var markerColumn: Int? {
    guard let marker else { return nil }
    let dot = xMapping.pixel(marker.x)
    guard dot.isFinite, dot >= -0.5, dot <= Double(width * 2) - 0.5 else { return nil }
    return min(max(Int(dot.rounded()) / 2, 0), width - 1)
  }

  /// The plotted dots.
  func canvas() -> BrailleCanvas {
    var canvas = BrailleCanvas(width: width, height: height)
    let bounds = Rect(
      minX: -0.49, minY: -0.49, maxX: Double(canvas.dotWidth) - 0.51,
      maxY: Double(canvas.dotHeight) - 0.51)
    let xMapping = xMapping
    let yMapping = yMapping
    for (index, series) in series.enumerated() {
      let points = (0..<series.count).map {
        Point(x: xMapping.pixel(series.x[$0]), y: yMapping.pixel(series.y[$0]))
      }
      if series.style.drawsLine {
        for line in Geometry.clippedPolylines(points, in: bounds) {
          for (a, b) in zip(line, line.dropFirst()) { canvas.line(from: a, to: b, owner: index) }
        }
      }
      // Dots for scatter series, and for values isolated between gaps.
      for (i, point) in points.enumerated() where point.isFinite && bounds.contains(point) {
        let before = i > 0 && points[i - 1].isFinite
        let after = i + 1 < points.count && points[i + 1].isFinite
        if series.style.drawsPoints || (!before && !after) {
          canvas.set(x: Int(point.x.rounded()), y: Int(point.y.rounded()), owner: index)
        }
      }
    }
    return canvas
  }

  /// The chart as lines of text, ending in a newline.
  public func render() -> String {
    let canvas = canvas()
    let (xDomain, yDomain) = domains
    let top = NumberFormatting.compact(yDomain.upperBound)
    let bottom = NumberFormatting.compact(yDomain.lowerBound)
    let gutter = max(top.count, bottom.count) + 1
    let markerColumn = markerColumn
    let markerColor = marker?.color ?? Palette.vermillion
    var lines: [String] = []
    if !title.isEmpty { lines.append(title) }

    for row in 0..<height {
      let label = row == 0 ? top : row == height - 1 ? bottom : ""
      var line = String(repeating: " ", count: gutter - label.count - 1) + label + " "
      line += row == 0 || row == height - 1 ? "┤" : "│"
      var currentColor: Color? = nil
      let lastColumn = (0..<width).last {
        canvas.bits(column: $0, row: row) != 0 || $0 == markerColumn
      }
      for column in 0..<((lastColumn ?? -1) + 1) {
        var character: Character = " "
        var color: Color? = nil
        if let braille = canvas.character(column: column, row: row) {
          character = braille
          color = Self.colors[canvas.owner(column: column, row: row) % Self.colors.count]
          if let explicit = series[canvas.owner(column: column, row: row)].color {
            color = explicit
          }
        } else if column == markerColumn {
          character = "┊"
          color = markerColor
        }
        if usesColor && color != currentColor {
          line += color?.ansiForeground ?? Self.reset
          currentColor = color
        }
        line.append(character)
      }
      if usesColor && currentColor != nil { line += Self.reset }
      lines.append(line)
    }

    var axis = String(repeating: " ", count: gutter) + "└"
    for column in 0..<width { axis += column == markerColumn ? "┴" : "─" }
    lines.append(axis)

    // x labels at both ends; the marker's "▲ label" joins them if it fits, else gets a row.
    let rowLength = gutter + 1 + width + 12
    var labels = TextRow(length: rowLength)
    let left = NumberFormatting.compact(xDomain.lowerBound)
    let right = NumberFormatting.compact(xDomain.upperBound)
    labels.place(left, at: gutter + 1)
    labels.place(right, at: max(gutter + 1 + left.count + 1, gutter + 1 + width - right.count))
    var markerRow: TextRow? = nil
    if let markerColumn, let marker {
      let column = gutter + 1 + markerColumn
      let after = marker.label.isEmpty ? "▲" : "▲ " + marker.label
      let before = marker.label.isEmpty ? "▲" : marker.label + " ▲"
      let candidates = [(after, column), (before, column - before.count + 1)]
      if let (text, start) = candidates.first(where: { labels.isFree($0.1, length: $0.0.count) }) {
        labels.place(text, at: start, color: markerColor)
      } else {
        var row = TextRow(length: rowLength)
        let fits = column + after.count <= rowLength
        row.place(
          fits ? after : before, at: fits ? column : column - before.count + 1, color: markerColor)
        markerRow = row
      }
    }
    lines.append(labels.render(usesColor: usesColor))
    if let markerRow { lines.append(markerRow.render(usesColor: usesColor)) }
    return lines.joined(separator: "\n") + "\n"
  }
}

/// One line of text built by placing labels at columns.
struct TextRow {
  private var characters: [Character]
  private var colors: [Color?]

  init(length: Int) {
    characters = Array(repeating: " ", count: max(0, length))
    colors = Array(repeating: nil, count: max(0, length))
  }

  /// Whether `length` columns from `start`, and two on each side, are blank.
  func isFree(_ start: Int, length: Int) -> Bool {
    guard start >= 0, start + length <= characters.count else { return false }
    let low = max(0, start - 2)
    let high = min(characters.count, start + length + 2)
    return characters[low..<high].allSatisfy { $0 == " " }
  }

  mutating func place(_ text: String, at start: Int, color: Color? = nil) {
    for (offset, character) in text.enumerated() {
      let index = max(0, start) + offset
      if index >= characters.count {
        characters.append(character)
        colors.append(color)
      } else {
        characters[index] = character
        colors[index] = color
      }
    }
  }

  func render(usesColor: Bool) -> String {
    var line = ""
    var current: Color? = nil
    for (character, color) in zip(characters, colors) {
      if usesColor && color != current && character != " " {
        line += color?.ansiForeground ?? TerminalChart.reset
        current = color
      }
      line.append(character)
    }
    var result = line.trailingSpacesRemoved
    if usesColor && current != nil { result += TerminalChart.reset }
    return result
  }
}

extension String {
  var trailingSpacesRemoved: String {
    var result = self
    while result.hasSuffix(" ") { result.removeLast() }
    return result
  }
}
