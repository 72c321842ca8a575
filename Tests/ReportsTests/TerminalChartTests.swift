import Foundation
import Testing

@testable import Reports

@Suite struct TerminalChartTests {
  /// y = x on 100 points from 0 to 1, 60 × 12 cells: a diagonal from bottom left to top right.
  let diagonal = TerminalChart(
    x: (0..<100).map { Double($0) / 99 }, y: (0..<100).map { Double($0) / 99 })

  @Test func hasTheRequestedSize() {
    let lines = diagonal.render().split(separator: "\n", omittingEmptySubsequences: false)
    // 12 plot rows, the axis, the x labels, and the final newline's empty remainder.
    #expect(lines.count == 12 + 2 + 1 && lines.last == "")
    let gutter = "1 ".count  // labels "1" and "0"
    #expect(lines[0].hasPrefix("1 ┤") && lines[11].hasPrefix("0 ┤"))
    #expect(lines[1].hasPrefix("  │"))
    #expect(
      lines[12]
        == Substring(
          String(repeating: " ", count: gutter) + "└" + String(repeating: "─", count: 60)))
    for line in lines[0..<12] { #expect(line.count <= gutter + 1 + 60) }
    #expect(lines[13].hasPrefix("   0") && lines[13].hasSuffix("1"))
    #expect(lines[13].count == gutter + 1 + 60)  // the right label ends under the last cell
    let titled = TerminalChart(title: "loss", x: [0, 1], y: [0, 1], width: 20, height: 5).render()
    #expect(titled.split(separator: "\n").count == 1 + 5 + 2)
  }

  @Test func monotoneSeriesLightsTheDiagonalCells() {
    let canvas = diagonal.canvas()
    // The ends: dot (0, 47) is the bottom-left dot of cell (0, 11) — braille dot 7 (0x40);
    // dot (119, 0) is the top-right dot of cell (59, 0) — braille dot 4 (0x08).
    #expect(canvas.bits(column: 0, row: 11) & 0x40 != 0)
    #expect(canvas.bits(column: 59, row: 0) & 0x08 != 0)
    #expect(canvas.bits(column: 0, row: 0) == 0 && canvas.bits(column: 59, row: 11) == 0)
    // Every column is lit, only in the rows the line y = 47 − 47·x/119 passes through while x
    // rounds to one of the column's two dots (x in [2c − 0.5, 2c + 1.5]).
    for column in 0..<60 {
      let rows = (0..<12).filter { canvas.bits(column: column, row: $0) != 0 }
      let highDot = max(0, 47 - 47 * (Double(2 * column) + 1.5) / 119)
      let lowDot = min(47, 47 - 47 * (Double(2 * column) - 0.5) / 119)
      let expected = Set((Int(highDot.rounded()) / 4)...(Int(lowDot.rounded()) / 4))
      #expect(!rows.isEmpty && Set(rows).isSubset(of: expected), "column \(column): \(rows)")
    }
    // The rendered text shows the same cells.
    let lines = diagonal.render().split(separator: "\n")
    let topRow = Array(lines[0])
    #expect(
      topRow.last == Character(Unicode.Scalar(0x2800 + UInt32(canvas.bits(column: 59, row: 0)))!))
  }

  @Test func markerSitsUnderItsColumn() {
    let chart = TerminalChart(
      x: (0...100).map(Double.init), y: (0...100).map { Double($0 * $0) },
      marker: Marker(x: 50, label: "chosen"))
    #expect(chart.markerColumn == 30)  // dot 59.5 → 60 → cell 30
    let lines = chart.render().split(separator: "\n").map(Array.init)
    let gutter = "10000 ".count
    #expect(lines[12][gutter + 1 + 30] == "┴")
    let labelRow = lines[13]
    #expect(labelRow[gutter + 1 + 30] == "▲")
    #expect(String(labelRow[(gutter + 1 + 30)...]).hasPrefix("▲ chosen"))
    // Cells without dots in the marker column show the dotted line.
    #expect(lines[0][gutter + 1 + 30] == "┊")
  }

  @Test func logXPlacesDecadesEvenly() {
    let rates = (0...80).map { pow(10, -7 + Double($0) / 10) }
    let chart = TerminalChart(
      x: rates, y: rates.map { _ in 1 }, xScale: .log10, marker: Marker(x: 1e-3, label: ""))
    #expect(chart.markerColumn == 30)  // 1e-3 is half way from 1e-7 to 10 on a log axis
    let lines = chart.render().split(separator: "\n")
    #expect(lines.last!.contains("1e-7") && lines.last!.hasSuffix("10"))
  }

  @Test func markerLabelMovesToItsOwnRowWhenCrowded() {
    let chart = TerminalChart(
      x: [0, 1], y: [0, 1], marker: Marker(x: 0.02, label: "a long marker label"), width: 20,
      height: 4)
    let lines = chart.render().split(separator: "\n")
    #expect(lines.count == 4 + 3)
    #expect(lines.last!.contains("▲ a long marker label"))
  }

  @Test func gapsAndClippingLeaveCellsEmpty() {
    var y = (0..<100).map { Double($0) / 99 }
    for index in 40..<60 { y[index] = .nan }
    y[99] = .infinity
    let chart = TerminalChart(x: (0..<100).map(Double.init), y: y, yRange: 0...1)
    let canvas = chart.canvas()
    for column in 26...33 {
      #expect((0..<12).allSatisfy { canvas.bits(column: column, row: $0) == 0 }, "column \(column)")
    }
    #expect((0..<12).contains { canvas.bits(column: 59, row: $0) != 0 })
  }

  @Test func colourIsOptional() {
    #expect(!diagonal.render().contains("\u{1B}["))
    var coloured = diagonal
    coloured.usesColor = true
    let text = coloured.render()
    #expect(text.contains("\u{1B}[38;2;86;180;233m"))  // sky blue, the first terminal colour
    #expect(text.contains("\u{1B}[0m"))
  }
}
