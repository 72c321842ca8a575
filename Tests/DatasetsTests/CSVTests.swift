import Foundation
import Testing

@testable import Datasets

@Suite struct CSVTests {
  func load(_ text: String, test: String? = nil, options: DatasetOptions = DatasetOptions())
    throws -> DataSplits
  {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var options = options
    let path = try folder.write("train.csv", text: text)
    if let test { options.testFile = try folder.write("test.csv", text: test) }
    return try DatasetSpec(parsing: "csv:" + path, options: options).load()
  }

  /// Like `load`, but returns the error with the temporary path replaced by `train.csv`.
  func error(_ text: String, test: String? = nil, options: DatasetOptions = DatasetOptions())
    -> String?
  {
    guard let folder = try? TemporaryFolder() else { return nil }
    defer { folder.remove() }
    var options = options
    guard let path = try? folder.write("train.csv", text: text) else { return nil }
    if let test { options.testFile = try? folder.write("test.csv", text: test) }
    let error = dataError { try DatasetSpec(parsing: "csv:" + path, options: options).load() }
    return error?.description.replacingOccurrences(of: folder.path + "/", with: "")
  }

  @Test func readsFeaturesAndSortsStringClasses() throws {
    let text = "sepal,petal,label\n1,2,versicolor\n3,4,setosa\n5,6,virginica\n7,8,setosa\n"
    let splits = try load(text, options: DatasetOptions(testFraction: 0))
    let train = splits.train
    #expect(train.classNames == ["setosa", "versicolor", "virginica"])
    #expect(train.labels == [1, 0, 2, 0])
    #expect(train.sampleShape == [2, 1, 1])
    #expect(train.features == [1, 2, 3, 4, 5, 6, 7, 8])
    #expect(splits.test.count == 0)
  }

  @Test func numericLabelsSortByValue() throws {
    let text = "label,x\n10,1\n9,2\n2,3\n10,4\n"
    let train = try load(text, options: DatasetOptions(testFraction: 0)).train
    #expect(train.classNames == ["2", "9", "10"])
    #expect(train.labels == [2, 1, 0, 2])
  }

  @Test func quotedFieldsCRLFBlankLinesAndAByteOrderMark() throws {
    let text =
      "\u{FEFF}\"x\",\"the, label\"\r\n\" 1.5 \",\"a \"\"quoted\"\" one\"\r\n\r\n2,plain\r\n"
    let train = try load(text, options: DatasetOptions(labelColumn: "the, label", testFraction: 0))
      .train
    #expect(train.classNames == ["a \"quoted\" one", "plain"])
    #expect(train.features == [1.5, 2])
  }

  @Test func labelColumnMatchesIgnoringCase() throws {
    let train = try load(
      "A,Class\n1,x\n2,y\n", options: DatasetOptions(labelColumn: "class", testFraction: 0)
    ).train
    #expect(train.classNames == ["x", "y"])
  }

  @Test func holdsOutAStratifiedTestSetThatDependsOnlyOnTheFile() throws {
    var text = "x,label\n"
    for i in 0..<100 { text += "\(i),\(i % 4 == 0 ? "rare" : "common")\n" }
    let first = try load(text, options: DatasetOptions(testFraction: 0.2, seed: 1))
    let second = try load(text, options: DatasetOptions(testFraction: 0.2, seed: 2))
    #expect(first == second)
    #expect(first.test.classCounts() == [15, 5])  // common 75 × 0.2, rare 25 × 0.2
    #expect(first.train.classCounts() == [60, 20])
    let all = Set(first.train.features + first.test.features)
    #expect(all.count == 100)
  }

  @Test func readsASeparateTestFile() throws {
    let splits = try load("x,label\n1,b\n2,a\n", test: "x,label\n3,a\n")
    #expect(splits.train.count == 2)
    #expect(splits.test.labels == [0])
    #expect(splits.test.features == [3])
  }

  @Test(arguments: [
    ("x,label\n1,a\nfoo,b\n", "train.csv:3:1: \"foo\" in column \"x\" is not a finite number."),
    ("x,label\n1,a\n,b\n", "train.csv:3:1: an empty cell in column \"x\" is not a finite number."),
    ("x,label\n1,a\nnan,b\n", "train.csv:3:1: \"nan\" in column \"x\" is not a finite number."),
    ("x,y,label\n1,2,a\n\n3,b\n", "train.csv:4: the row has 2 cells but the header has 3."),
    ("x,y,label\n1,2,a,9\n", "train.csv:2: the row has 4 cells but the header has 3."),
    ("", "train.csv: the file is empty."),
    ("\n\n", "train.csv: the file is empty."),
    ("x,label\n", "train.csv has 0 samples; at least 1 are needed."),
    ("x,y\n1,2\n", "train.csv:1: no label column named \"label\" in the header (columns: x, y)."),
    ("label\na\n", "train.csv:1:1: the header has no feature columns besides the label."),
    ("x,label\n1,\n", "train.csv:2:2: the label cell is empty."),
    ("x,label\n\"1,a\n2,b\n", "train.csv:2:1: the quoted field opened here is never closed."),
    ("x,label\n\"1\"2,a\n", "train.csv:2:4: unexpected text after a closing quote."),
  ])
  func badFilesNameLineAndColumn(text: String, message: String) {
    #expect(error(text, options: DatasetOptions(testFraction: 0)) == message)
  }

  @Test func testFileProblems() {
    #expect(
      error("x,label\n1,a\n", test: "x,label\n1,a\n2,z\n")
        == "test.csv:3:2: label \"z\" does not occur in the training data.")
    #expect(
      error("x,label\n1,a\n", test: "y,label\n1,a\n")
        == "test.csv:1: the header (y,label) differs from the training file's (x,label).")
  }

  @Test func missingFileAndBadFraction() {
    let missing = dataError { try DatasetSpec(parsing: "csv:/nonexistent/data.csv").load() }
    #expect(
      missing == .missingFile(path: "/nonexistent/data.csv", tried: ["/nonexistent/data.csv"]))
    #expect(missing?.exitCode == 66)
    #expect(
      error("x,label\n1,a\n", options: DatasetOptions(testFraction: 1))
        == "Invalid test fraction \"1.0\": must be in [0, 1).")
  }
}
