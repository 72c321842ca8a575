import Foundation

/// A self-contained HTML page: title, summary, the chosen hyper-parameters with their reasons,
/// and sections of charts (inline SVG), captions, key/value tables and plain tables.
///
/// The page needs nothing from the network: styles are inline, there are no scripts, and fonts
/// are the system's. All text given to it is escaped; captions and texts may hold several
/// paragraphs (separated by a blank line) and `code` in backticks.
///
/// ```swift
/// var report = HTMLReport(title: "Tuning cnn on Fashion-MNIST", subtitle: "seed 1, 5 epochs")
/// report.addChoice(name: "max learning rate", value: "0.1", reason: "largest LR still falling")
/// var section = HTMLReport.Section(title: "LR range test")
/// section.addChart(lrChart, caption: "Suggestions are marked; the tool uses Smith's reading.")
/// section.addTable(header: ["weight decay", "max LR"], rows: [["1e-4", "0.1"]])
/// report.addSection(section)
/// try report.write(to: URL(fileURLWithPath: "runs/report.html"))
/// ```
public struct HTMLReport: Sendable {
  /// One row of the summary table: a hyper-parameter, its value, why it was chosen, and how
  /// sure the measurement behind it is (its margin against the noise, when it was compared).
  public struct ChoiceRow: Sendable, Hashable {
    public var name: String
    public var value: String
    public var reason: String
    public var confidence: String?

    public init(name: String, value: String, reason: String, confidence: String? = nil) {
      self.name = name
      self.value = value
      self.reason = reason
      self.confidence = confidence
    }
  }

  /// A chart with an optional caption.
  public struct Figure: Sendable {
    public var chart: Chart
    public var caption: String?

    public init(_ chart: Chart, caption: String? = nil) {
      self.chart = chart
      self.caption = caption
    }
  }

  /// One piece of a section's content.
  public enum Block: Sendable {
    /// Paragraphs of text (separated by blank lines).
    case text(String)
    /// One chart at full width.
    case figure(Figure)
    /// Several (usually small) charts side by side, wrapping onto more rows as needed.
    case figures([Figure])
    /// A two-column table of labels and values.
    case keyValues([(key: String, value: String)], caption: String?)
    /// A table with a header row; columns whose cells are all numbers are right-aligned.
    case table(header: [String], rows: [[String]], caption: String?)
  }

  /// A titled part of the report.
  public struct Section: Sendable {
    public var title: String
    public var blocks: [Block]

    /// A section, opened by `text` if given.
    public init(title: String, text: String? = nil, blocks: [Block] = []) {
      self.title = title
      self.blocks = (text.map { [Block.text($0)] } ?? []) + blocks
    }

    public mutating func addText(_ text: String) { blocks.append(.text(text)) }

    public mutating func addChart(_ chart: Chart, caption: String? = nil) {
      blocks.append(.figure(Figure(chart, caption: caption)))
    }

    /// Several charts side by side (each with its own caption, if given).
    public mutating func addCharts(_ charts: [Chart], captions: [String?] = []) {
      blocks.append(
        .figures(
          charts.enumerated().map { index, chart in
            Figure(chart, caption: index < captions.count ? captions[index] : nil)
          }))
    }

    public mutating func addKeyValues(
      _ pairs: [(key: String, value: String)], caption: String? = nil
    ) {
      blocks.append(.keyValues(pairs, caption: caption))
    }

    public mutating func addTable(header: [String], rows: [[String]], caption: String? = nil) {
      blocks.append(.table(header: header, rows: rows, caption: caption))
    }
  }

  public var title: String
  public var subtitle: String?
  /// Paragraphs under the title: what was tuned and what came out.
  public var summary: String?
  /// The heading of the table of ``choices``.
  public var choicesTitle: String = "Chosen hyper-parameters"
  public var choices: [ChoiceRow]
  public var sections: [Section]
  /// Small print at the bottom (tool version, date, command line).
  public var footer: String?

  public init(
    title: String, subtitle: String? = nil, summary: String? = nil, choices: [ChoiceRow] = [],
    sections: [Section] = []
  ) {
    self.title = title
    self.subtitle = subtitle
    self.summary = summary
    self.choices = choices
    self.sections = sections
  }

  public mutating func addChoice(
    name: String, value: String, reason: String, confidence: String? = nil
  ) {
    choices.append(ChoiceRow(name: name, value: value, reason: reason, confidence: confidence))
  }

  public mutating func addSection(_ section: Section) { sections.append(section) }

  /// The whole page.
  public func html() -> String {
    var out: [String] = []
    out.append("<!DOCTYPE html>")
    out.append("<html lang=\"en\">")
    out.append("<head>")
    out.append("<meta charset=\"utf-8\">")
    out.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    out.append("<title>\(HTML.escape(title))</title>")
    out.append("<style>\n\(HTMLReport.styleSheet)</style>")
    out.append("</head>")
    out.append("<body>")
    out.append("<main>")
    out.append("<header>")
    out.append("<h1>\(HTML.escape(title))</h1>")
    if let subtitle, !subtitle.isEmpty {
      out.append("<p class=\"subtitle\">\(HTML.inline(subtitle))</p>")
    }
    out.append("</header>")

    var anchors = HTML.AnchorNames()
    let sectionAnchors = sections.map { anchors.make(for: $0.title) }
    let choicesAnchor = anchors.make(for: choicesTitle)

    if let summary, !summary.isEmpty {
      out.append("<section class=\"summary\">\n\(HTML.paragraphs(summary))\n</section>")
    }
    if !choices.isEmpty {
      out.append("<section id=\"\(choicesAnchor)\">")
      out.append("<h2>\(HTML.escape(choicesTitle))</h2>")
      out.append("<div class=\"table-wrap\"><table class=\"choices\">")
      // A column of margins when any choice has one.
      let sure = choices.contains { $0.confidence != nil }
      out.append(
        "<thead><tr><th>Hyper-parameter</th><th>Value</th>\(sure ? "<th>Against the noise</th>" : "")<th>Why</th></tr></thead>"
      )
      out.append("<tbody>")
      for choice in choices {
        let confidence =
          sure ? "<td class=\"confidence\">\(HTML.inline(choice.confidence ?? "—"))</td>" : ""
        out.append(
          "<tr><td>\(HTML.inline(choice.name))</td><td class=\"value\">\(HTML.inline(choice.value))</td>\(confidence)<td>\(HTML.inline(choice.reason))</td></tr>"
        )
      }
      out.append("</tbody></table></div>")
      out.append("</section>")
    }
    if sections.count >= 3 {
      out.append("<nav><strong>Contents</strong><ul>")
      for (section, anchor) in zip(sections, sectionAnchors) {
        out.append("<li><a href=\"#\(anchor)\">\(HTML.escape(section.title))</a></li>")
      }
      out.append("</ul></nav>")
    }
    for (section, anchor) in zip(sections, sectionAnchors) {
      out.append("<section id=\"\(anchor)\">")
      out.append("<h2>\(HTML.escape(section.title))</h2>")
      for block in section.blocks { out.append(HTML.render(block)) }
      out.append("</section>")
    }
    if let footer, !footer.isEmpty {
      out.append("<footer>\(HTML.paragraphs(footer))</footer>")
    }
    out.append("</main>")
    out.append("</body>")
    out.append("</html>")
    return out.joined(separator: "\n") + "\n"
  }

  /// Writes ``html()`` to `url` (parent directories are created).
  /// - Throws: ``ReportError/cannotWrite(path:reason:)``.
  public func write(to url: URL) throws { try writeText(html(), to: url) }
}
