import Foundation

/// Comma-separated values as RFC 4180 writes them: a header row, fields separated by commas,
/// optionally double-quoted (`""` inside quotes is one quote), lines ending in LF, CRLF or CR.
/// Blank lines are skipped and a leading UTF-8 byte-order mark is ignored.
struct CSVTable {
  /// The header's column names, trimmed of spaces.
  var header: [String]
  /// The data rows' cells, unquoted but otherwise as written.
  var rows: [[String]]
  /// The 1-based line on which each row starts.
  var lines: [Int]

  /// Parses `bytes`, read from `path` (for error messages).
  init(parsing bytes: Data, path: String) throws(DataError) {
    var records: [[String]] = []
    var recordLines: [Int] = []
    var failure: DataError?
    bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      let b = raw.bindMemory(to: UInt8.self)
      let quote = UInt8(ascii: "\"")
      let comma = UInt8(ascii: ",")
      let lf = UInt8(ascii: "\n")
      let cr = UInt8(ascii: "\r")
      var i = 0
      if b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { i = 3 }
      var line = 1
      var lineStart = i
      var fields: [String] = []
      var field: [UInt8] = []
      var recordLine = 1
      var recordHasContent = false

      func endField() {
        fields.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
      }
      func endRecord() {
        endField()
        let blank = fields.count == 1 && fields[0].allSatisfy { $0 == " " || $0 == "\t" }
        if recordHasContent || !blank {
          records.append(fields)
          recordLines.append(recordLine)
        }
        fields.removeAll(keepingCapacity: true)
        recordHasContent = false
      }
      func newline(at index: inout Int) {
        // CRLF counts as one line break.
        if b[index] == cr && index + 1 < b.count && b[index + 1] == lf { index += 1 }
        index += 1
        line += 1
        lineStart = index
      }

      while i < b.count {
        let c = b[i]
        if c == quote && field.isEmpty {
          // A quoted field: runs to the matching quote, across line breaks.
          let openLine = line
          let openColumn = i - lineStart + 1
          recordHasContent = true
          i += 1
          var closed = false
          while i < b.count {
            let d = b[i]
            if d == quote {
              if i + 1 < b.count && b[i + 1] == quote {
                field.append(quote)
                i += 2
                continue
              }
              i += 1
              closed = true
              break
            }
            if d == cr || d == lf {
              field.append(d)
              if d == cr && i + 1 < b.count && b[i + 1] == lf {
                field.append(lf)
                i += 1
              }
              i += 1
              line += 1
              lineStart = i
              continue
            }
            field.append(d)
            i += 1
          }
          guard closed else {
            failure = .malformedCSV(
              path: path, line: openLine, column: openColumn,
              reason: "the quoted field opened here is never closed")
            return
          }
          // Only spaces may stand between the closing quote and the next comma or line end.
          while i < b.count && (b[i] == UInt8(ascii: " ") || b[i] == UInt8(ascii: "\t")) { i += 1 }
          if i < b.count && b[i] != comma && b[i] != lf && b[i] != cr {
            failure = .malformedCSV(
              path: path, line: line, column: i - lineStart + 1,
              reason: "unexpected text after a closing quote")
            return
          }
          continue
        }
        if c == comma {
          endField()
          recordHasContent = true
          i += 1
        } else if c == lf || c == cr {
          endRecord()
          newline(at: &i)
          recordLine = line
        } else {
          field.append(c)
          i += 1
        }
      }
      if !field.isEmpty || !fields.isEmpty || recordHasContent { endRecord() }
    }
    if let failure { throw failure }
    guard let first = records.first else { throw .emptyFile(path: path) }
    header = first.map { $0.trimmingCharacters(in: .whitespaces) }
    rows = Array(records.dropFirst())
    lines = Array(recordLines.dropFirst())
  }
}

/// Tabular data from CSV files: numeric feature columns and one label column.
enum CSVFormat {
  /// How label text maps to class indices: by numeric value when every label is a number
  /// (so `"10"` sorts after `"9"`), otherwise by the text itself.
  struct LabelMap {
    var classNames: [String]
    var numeric: Bool
    private var byText: [String: Int32] = [:]
    private var byValue: [Double: Int32] = [:]

    init(labels: [String]) {
      let values = labels.map { Double($0) }
      numeric = values.allSatisfy { $0.map { $0.isFinite } ?? false }
      if numeric {
        var firstName: [Double: String] = [:]
        for (text, value) in zip(labels, values) where firstName[value!] == nil {
          firstName[value!] = text
        }
        let sorted = firstName.keys.sorted()
        classNames = sorted.map { firstName[$0]! }
        for (index, value) in sorted.enumerated() { byValue[value] = Int32(index) }
      } else {
        classNames = Set(labels).sorted()
        for (index, name) in classNames.enumerated() { byText[name] = Int32(index) }
      }
    }

    func index(of label: String) -> Int32? {
      if numeric { return Double(label).flatMap { byValue[$0] } }
      return byText[label]
    }
  }

  /// The features and label text of one CSV file.
  struct Rows {
    var header: [String]
    var featureColumns: [Int]
    var labelColumn: Int
    var features: [Float]
    var labels: [String]
    var lines: [Int]
  }

  /// Reads `path` and checks every row: as many cells as the header, finite numbers in every
  /// feature column, a non-empty label.
  static func readRows(_ path: String, labelColumn name: String) throws(DataError) -> Rows {
    let table = try CSVTable(parsing: try FileBytes.read(path), path: path)
    let header = table.header
    guard
      let labelColumn = header.firstIndex(of: name)
        ?? header.firstIndex(where: { $0.lowercased() == name.lowercased() })
    else { throw .missingLabelColumn(path: path, name: name, available: header) }
    let featureColumns = header.indices.filter { $0 != labelColumn }
    guard !featureColumns.isEmpty else {
      throw .malformedCSV(
        path: path, line: 1, column: 1,
        reason: "the header has no feature columns besides the label")
    }
    guard !table.rows.isEmpty else {
      throw .tooFewSamples(what: path, count: 0, needed: 1)
    }
    var features: [Float] = []
    features.reserveCapacity(table.rows.count * featureColumns.count)
    var labels: [String] = []
    labels.reserveCapacity(table.rows.count)
    for (row, line) in zip(table.rows, table.lines) {
      guard row.count == header.count else {
        throw .raggedRow(path: path, line: line, expectedCells: header.count, foundCells: row.count)
      }
      for column in featureColumns {
        let text = row[column].trimmingCharacters(in: .whitespaces)
        guard let value = Float(text), value.isFinite else {
          throw .nonNumericCell(
            path: path, line: line, column: column + 1, columnName: header[column], text: text)
        }
        features.append(value)
      }
      let label = row[labelColumn].trimmingCharacters(in: .whitespaces)
      guard !label.isEmpty else {
        throw .malformedCSV(
          path: path, line: line, column: labelColumn + 1, reason: "the label cell is empty")
      }
      labels.append(label)
    }
    return Rows(
      header: header, featureColumns: featureColumns, labelColumn: labelColumn,
      features: features, labels: labels, lines: table.lines)
  }

  /// Loads a training CSV and either a test CSV with the same header or, without one, a
  /// stratified `testFraction` of the training file held out with a fixed seed, so that the
  /// test set depends only on the file.
  static func load(
    _ path: String, testPath: String?, labelColumn: String, testFraction: Double
  ) throws(DataError) -> DataSplits {
    let rows = try readRows(path, labelColumn: labelColumn)
    let map = LabelMap(labels: rows.labels)
    let shape = [rows.featureColumns.count, 1, 1]
    let all = LabeledData(
      uncheckedFeatures: rows.features, labels: rows.labels.map { map.index(of: $0)! },
      sampleShape: shape, classNames: map.classNames)
    guard let testPath else {
      let (train, test) = all.splitStratified(holdingOut: testFraction, seed: testHoldoutSeed)
      return DataSplits(train: train, test: test)
    }
    let testRows = try readRows(testPath, labelColumn: rows.header[rows.labelColumn])
    guard testRows.header == rows.header else {
      throw .headerMismatch(path: testPath, expected: rows.header, found: testRows.header)
    }
    var testLabels: [Int32] = []
    testLabels.reserveCapacity(testRows.labels.count)
    for (label, line) in zip(testRows.labels, testRows.lines) {
      guard let index = map.index(of: label) else {
        throw .unknownLabel(
          path: testPath, line: line, column: testRows.labelColumn + 1, label: label)
      }
      testLabels.append(index)
    }
    let test = LabeledData(
      uncheckedFeatures: testRows.features, labels: testLabels, sampleShape: shape,
      classNames: map.classNames)
    return DataSplits(train: all, test: test)
  }

  /// The seed of the test hold-out: fixed, so every trial and run sees the same test set.
  static let testHoldoutSeed: UInt64 = 0x7E57_5EED
}
