import Foundation

/// HTML fragments for ``HTMLReport``.
enum HTML {
  static func escape(_ text: String) -> String { Escaping.xml(text) }

  /// Escaped text in which numbers like `3e-4` do not break across lines at their minus sign.
  static func text(_ text: String) -> String {
    let escaped = escape(text)
    guard escaped.contains("e-") || escaped.contains("e\u{2212}") else { return escaped }
    return escaped.replacing(#/[0-9][0-9.]*e[-\u{2212}][0-9]+/#) { match in
      "<span class=\"nowrap\">\(match.output)</span>"
    }
  }

  /// Escaped text with `code` spans for text between backticks (an unpaired backtick is kept).
  static func inline(_ text: String) -> String {
    let pieces = text.split(separator: "`", omittingEmptySubsequences: false)
    guard pieces.count >= 3 else { return Self.text(text) }
    var result = ""
    let pairedCount = pieces.count % 2 == 1 ? pieces.count : pieces.count - 1
    for (index, piece) in pieces.enumerated() {
      if index >= pairedCount {
        result += "`" + Self.text(String(piece))
      } else if index % 2 == 1 {
        result += "<code>\(escape(String(piece)))</code>"
      } else {
        result += Self.text(String(piece))
      }
    }
    return result
  }

  /// `<p>` elements for text whose paragraphs are separated by blank lines.
  static func paragraphs(_ text: String) -> String {
    var paragraphs: [String] = []
    var current: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.allSatisfy(\.isWhitespace) {
        if !current.isEmpty { paragraphs.append(current.joined(separator: "\n")) }
        current = []
      } else {
        current.append(String(line))
      }
    }
    if !current.isEmpty { paragraphs.append(current.joined(separator: "\n")) }
    return paragraphs.map { "<p>\(inline($0))</p>" }.joined(separator: "\n")
  }

  static func render(_ block: HTMLReport.Block) -> String {
    switch block {
    case .text(let text):
      return paragraphs(text)
    case .figure(let figure):
      return render(figure)
    case .figures(let figures):
      return "<div class=\"figures\">\n" + figures.map(render).joined(separator: "\n") + "\n</div>"
    case .keyValues(let pairs, let caption):
      var out = "<div class=\"table-wrap\"><table class=\"kv\">"
      out += caption.map { "<caption>\(inline($0))</caption>" } ?? ""
      out += "<tbody>"
      for (key, value) in pairs {
        out += "\n<tr><th scope=\"row\">\(inline(key))</th><td>\(inline(value))</td></tr>"
      }
      return out + "\n</tbody></table></div>"
    case .table(let header, let rows, let caption):
      let columnCount = max(header.count, rows.map(\.count).max() ?? 0)
      let numeric = (0..<columnCount).map { column in
        let cells = rows.compactMap { column < $0.count ? $0[column] : nil }
          .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        return !cells.isEmpty && cells.allSatisfy(looksNumeric)
      }
      func cellClass(_ column: Int) -> String { numeric[column] ? " class=\"num\"" : "" }
      var out = "<div class=\"table-wrap\"><table class=\"grid\">"
      out += caption.map { "<caption>\(inline($0))</caption>" } ?? ""
      if !header.isEmpty {
        out += "<thead><tr>"
        for column in 0..<columnCount {
          let text = column < header.count ? header[column] : ""
          out += "<th scope=\"col\"\(cellClass(column))>\(inline(text))</th>"
        }
        out += "</tr></thead>"
      }
      out += "<tbody>"
      for row in rows {
        out += "\n<tr>"
        for column in 0..<columnCount {
          let text = column < row.count ? row[column] : ""
          out += "<td\(cellClass(column))>\(inline(text))</td>"
        }
        out += "</tr>"
      }
      return out + "\n</tbody></table></div>"
    }
  }

  static func render(_ figure: HTMLReport.Figure) -> String {
    var out = "<figure>\n" + figure.chart.svg()
    if let caption = figure.caption, !caption.isEmpty {
      out += "<figcaption>\(paragraphs(caption))</figcaption>\n"
    }
    return out + "</figure>"
  }

  /// Whether a table cell reads as a number: `0.1`, `-3e-4`, `92.2%`, `1,024`, `12.5 s`, `×4`.
  static func looksNumeric(_ cell: String) -> Bool {
    var text = Substring(cell.trimmingCharacters(in: .whitespaces))
    for suffix in ["%", " ms", "ms", " s", "s", "×", "x"] where text.hasSuffix(suffix) {
      text = text.dropLast(suffix.count)
      break
    }
    if text.hasPrefix("×") { text = text.dropFirst() }
    let normalized = text.replacingOccurrences(of: ",", with: "")
      .replacingOccurrences(of: "\u{2212}", with: "-").trimmingCharacters(in: .whitespaces)
    guard !normalized.isEmpty, let value = Double(normalized) else { return false }
    return !value.isNaN || normalized.lowercased() == "nan"
  }

  /// Unique, readable `id` values from titles ("LR range test" → `lr-range-test`).
  struct AnchorNames {
    private var used: Set<String> = []

    mutating func make(for title: String) -> String {
      var slug = ""
      for character in title.lowercased() {
        if character.isASCII && (character.isLetter || character.isNumber) {
          slug.append(character)
        } else if !slug.isEmpty && !slug.hasSuffix("-") {
          slug.append("-")
        }
      }
      while slug.hasSuffix("-") { slug.removeLast() }
      if slug.isEmpty { slug = "section" }
      var candidate = slug
      var number = 2
      while used.contains(candidate) {
        candidate = "\(slug)-\(number)"
        number += 1
      }
      used.insert(candidate)
      return candidate
    }
  }
}
