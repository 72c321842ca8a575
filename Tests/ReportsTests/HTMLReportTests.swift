import Foundation
import Testing

@testable import Reports

#if canImport(FoundationXML)
  import FoundationXML
#endif

enum SampleReport {
  static func make() -> HTMLReport {
    var report = HTMLReport(
      title: "Tuning cnn on Fashion-MNIST",
      subtitle: "Smith's recipe, seed 1 · 60 000 training / 10 000 validation images",
      summary: """
        The LR range test put the maximum learning rate at 0.08; 1cycle with cyclical momentum \
        0.95 → 0.85 and weight decay 3e-4 reached 92.1% validation accuracy in 5 epochs.

        The validation loss flattened in the last epoch: neither under- nor overfitting.
        """)
    report.addChoice(
      name: "max learning rate", value: "0.08",
      reason: "Smith's reading: the largest LR at which the smoothed loss still falls.")
    report.addChoice(
      name: "min learning rate", value: "0.008", reason: "max / 10, the 1cycle default of Smith.")
    report.addChoice(
      name: "momentum", value: "0.95 → 0.85",
      reason: "0.95 was the largest momentum that stayed stable in short trials.")
    report.addChoice(
      name: "weight decay", value: "3e-4",
      reason: "Lowest validation loss after one epoch in the grid 1e-3, 3e-4, 1e-4, 1e-5, 0.")
    report.addChoice(
      name: "batch size", value: "256", reason: "Best validation loss at equal wall-clock time.")

    var range = HTMLReport.Section(
      title: "LR range test",
      text: "One run per weight decay, learning rate raised exponentially from 1e-7 to 10.")
    range.addChart(
      SampleCharts.lrFinder(),
      caption: """
        Faint: raw training loss; bold: smoothed. Dots: validation loss every 30 steps.

        The tool uses Smith's reading (`chosen max LR`); the other suggestions are shown for \
        comparison with pytorch-lr-finder and fastai.
        """)
    range.addTable(
      header: ["suggestion", "learning rate", "rule"],
      rows: [
        ["steepest", "1.2e-2", "steepest descent of the smoothed loss"],
        ["valley", "1.5e-2", "fastai: two thirds along the longest descent"],
        ["min / 10", "2e-2", "LR at the minimum loss divided by 10"],
        ["Smith", "0.08", "largest LR before the loss stops falling"],
      ], caption: "Suggestions for weight decay 1e-4.")
    report.addSection(range)

    var schedule = HTMLReport.Section(title: "Schedule")
    schedule.addChart(SampleCharts.schedule(), caption: "1cycle as Smith describes it.")
    report.addSection(schedule)

    var training = HTMLReport.Section(title: "Final training")
    training.addCharts(
      [
        SampleCharts.fitLoss(width: 520, height: 340),
        SampleCharts.fitAccuracy(width: 520, height: 340),
      ],
      captions: [
        "Training loss per step and validation loss per epoch.",
        "Epoch 3 missing on purpose: a gap.",
      ])
    training.addKeyValues(
      [
        ("test accuracy", "92.1%"), ("test loss", "0.231"), ("wall time", "4 min 12 s"),
        ("diagnosis", "good fit: validation loss flat at the end"),
      ])
    report.addSection(training)

    var trials = HTMLReport.Section(title: "Every trial <all of them>")
    trials.addChart(SampleCharts.weightDecay(), caption: "Weight decay 0 drawn at 1e-6.")
    trials.addTable(
      header: ["#", "kind", "weight decay", "momentum", "val loss", "val acc", "time"],
      rows: (1...8).map { index in
        [
          "\(index)", index < 5 ? "weight decay" : "momentum",
          ["1e-3", "3e-4", "1e-4", "0"][index % 4],
          "0.9\(index % 10)", String(format: "%.3f", 0.3 + Double(index) * 0.01), "9\(index).0%",
          "\(40 + index) s",
        ]
      })
    report.addSection(trials)
    report.footer = "Written by discipline · `discipline tune --dataset fashion-mnist --seed 1`"
    return report
  }
}

@Suite struct HTMLReportTests {
  @Test func writesASelfContainedPage() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("reports-test-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("nested/report.html")
    let report = SampleReport.make()
    try report.write(to: url)
    let html = try String(contentsOf: url, encoding: .utf8)
    #expect(html == report.html())
    #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
    #expect(html.contains("<meta charset=\"utf-8\">"))
    // Nothing to fetch: no scripts, no links, no URLs but the SVG namespace.
    #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("@import"))
    #expect(!html.contains("src="))
    let urls = html.components(separatedBy: "http").count - 1
    let namespaces = html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1
    #expect(urls == namespaces && namespaces == 5)
    // Every chart is inline, every section is there, in order.
    #expect(html.components(separatedBy: "<figure>").count - 1 == 5)
    let order = [
      "Chosen hyper-parameters", "LR range test", "Schedule", "Final training", "Every trial",
    ]
    .map { html.range(of: "<h2>\($0)")!.lowerBound }
    #expect(order == order.sorted())
    #expect(html.contains("<nav><strong>Contents</strong>"))
    #expect(html.contains("<a href=\"#lr-range-test\">LR range test</a>"))
    // Captions with two paragraphs, code spans.
    #expect(html.contains("<figcaption><p>Faint: raw training loss"))
    #expect(
      html.contains("</p>\n<p>The tool uses Smith&#39;s reading (<code>chosen max LR</code>)"))
    if ProcessInfo.processInfo.environment["REPORTS_SAMPLE_DIR"] != nil { try dumpSamples(report) }
  }

  @Test func choicesTableHasNameValueAndReason() {
    let html = SampleReport.make().html()
    #expect(
      html.contains(
        "<tr><td>max learning rate</td><td class=\"value\">0.08</td><td>Smith&#39;s reading: the largest LR at which the smoothed loss still falls.</td></tr>"
      ))
    var empty = HTMLReport(title: "t")
    #expect(!empty.html().contains("Chosen hyper-parameters"))
    empty.addChoice(name: "a", value: "1", reason: "b")
    #expect(empty.html().contains("<h2>Chosen hyper-parameters</h2>"))
  }

  @Test func escapesEverything() {
    var report = HTMLReport(title: "<script>alert(1)</script>", subtitle: "a & b", summary: "x < y")
    report.addChoice(name: "<n>", value: "\"v\"", reason: "'r'")
    var section = HTMLReport.Section(title: "T & <U>", text: "<b>bold?</b>")
    section.addTable(header: ["<h>"], rows: [["<cell>", "extra & cell"]], caption: "<c>")
    section.addKeyValues([("<k>", "<v>")])
    report.addSection(section)
    report.footer = "</main>"
    let html = report.html()
    for raw in ["<script>", "<n>", "<b>", "<h>", "<cell>", "<c>", "<k>", "<v>", "<U>"] {
      #expect(!html.contains(raw), "\(raw) left unescaped")
    }
    #expect(html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"))
    #expect(html.contains("&quot;v&quot;") && html.contains("&#39;r&#39;"))
    #expect(html.contains("<p>x &lt; y</p>") && html.contains("a &amp; b"))
    #expect(html.components(separatedBy: "</main>").count == 2)
    #expect(html.contains("<h2>T &amp; &lt;U&gt;</h2>"))
  }

  @Test func numericColumnsAreRightAligned() {
    var section = HTMLReport.Section(title: "trials")
    section.addTable(
      header: ["kind", "loss", "accuracy", "time"],
      rows: [["momentum", "0.31", "91.2%", "40 s"], ["weight decay", "−3e-4", "", "1,204 ms"]])
    let html = HTML.render(section.blocks[0])
    #expect(html.contains("<th scope=\"col\">kind</th><th scope=\"col\" class=\"num\">loss</th>"))
    #expect(
      html.contains(
        "<td>momentum</td><td class=\"num\">0.31</td><td class=\"num\">91.2%</td><td class=\"num\">40 s</td>"
      ))
    #expect(html.contains("<td class=\"num\"></td>"))  // short rows are padded
    #expect(!HTML.looksNumeric("0.1 per step") && !HTML.looksNumeric("nanometre"))
  }

  @Test func inlineCodeAndParagraphs() {
    #expect(HTML.inline("run `a <b>` now") == "run <code>a &lt;b&gt;</code> now")
    #expect(HTML.inline("a ` b") == "a ` b")
    #expect(HTML.inline("`x` and `y` and `z") == "<code>x</code> and <code>y</code> and `z")
    #expect(HTML.paragraphs("one\ntwo\n\n\nthree") == "<p>one\ntwo</p>\n<p>three</p>")
  }

  @Test func writeFailureIsReadable() {
    let url = URL(fileURLWithPath: "/proc/definitely/not/writable/report.html")
    #expect(throws: ReportError.self) { try HTMLReport(title: "t").write(to: url) }
    do {
      try HTMLReport(title: "t").write(to: url)
    } catch {
      #expect(
        error.localizedDescription.hasPrefix(
          "cannot write /proc/definitely/not/writable/report.html: "))
    }
  }

  /// Writes the sample report, each sample chart and terminal charts to REPORTS_SAMPLE_DIR,
  /// for a look with scripts/render-report.sh.
  func dumpSamples(_ report: HTMLReport) throws {
    let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["REPORTS_SAMPLE_DIR"]!)
    try report.write(to: directory.appendingPathComponent("report.html"))
    let charts = [
      ("lr-finder", SampleCharts.lrFinder()), ("schedule", SampleCharts.schedule()),
      ("fit-loss", SampleCharts.fitLoss()), ("weight-decay", SampleCharts.weightDecay()),
      ("fit-accuracy", SampleCharts.fitAccuracy(width: 480, height: 320)),
    ]
    for (name, chart) in charts {
      try chart.write(to: directory.appendingPathComponent(name + ".svg"))
    }
    try Data(
      ChartGrid(
        title: "Training",
        charts: [
          SampleCharts.fitLoss(width: 480, height: 320),
          SampleCharts.fitAccuracy(width: 480, height: 320), SampleCharts.schedule(),
        ], columns: 2
      ).svg().utf8
    ).write(to: directory.appendingPathComponent("grid.svg"))
    let (_, smoothed) = SampleCharts.rangeTestLoss(best: 0.12, floor: 0.5, seed: 2)
    var terminal = TerminalChart(
      title: "loss against learning rate", x: SampleCharts.rates, y: smoothed, xScale: .log10,
      yRange: Axis.descentRange(of: smoothed), marker: Marker(x: 0.08, label: "chosen 0.08"))
    var text = terminal.render()
    terminal.usesColor = true
    text += "\n" + terminal.render()
    text +=
      "\n"
      + TerminalChart(title: "loss", series: SampleCharts.fitLoss().series, width: 50, height: 8)
      .render()
    try Data(text.utf8).write(to: directory.appendingPathComponent("terminal.txt"))
  }
}
