import Foundation
import Randomness
import Testing

@testable import Datasets

/// Damaged files must end in a `DataError`, never a crash, and never in a data set with fewer
/// samples than the intact file has.
@Suite struct FuzzTests {
  static let classNames = (0..<10).map(String.init)

  /// Loads one image/label pair; returns the sample count or the error (the loaders throw
  /// `DataError` only: their typed `throws(DataError)` makes that a compile-time fact).
  func loadPair(images: String, labels: String) -> Result<Int, DataError> {
    Result { () throws(DataError) -> Int in
      try IDXFormat.load(imagesPath: images, labelsPath: labels, classNames: Self.classNames).count
    }
  }

  @Test(arguments: [false, true], ["images", "labels"])
  func everyTruncationOfAnIDXFileThrows(gzip: Bool, which: String) throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let images = IDX.images(count: 6)
    let labels = IDX.labels(count: 6)
    let intact = which == "images" ? images : labels
    let file = gzip ? FileBytes.gzip(intact) : intact
    let imagesPath = folder.file("images")
    let labelsPath = folder.file("labels")
    try folder.write("images", images)
    try folder.write("labels", labels)
    #expect(loadPair(images: imagesPath, labels: labelsPath) == .success(6))
    for length in 0..<file.count {
      try folder.write(which, Array(file.prefix(length)))
      let result = loadPair(images: imagesPath, labels: labelsPath)
      guard case .failure(let error) = result else {
        Issue.record("\(which) cut to \(length) of \(file.count) bytes loaded: \(result)")
        continue
      }
      #expect([65, 66].contains(error.exitCode))
    }
  }

  @Test func randomBytesNeverCrash() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var generator = SeededGenerator(seed: 2024)
    let imagesPath = folder.file("images")
    let labelsPath = folder.file("labels")
    try folder.write("labels", IDX.labels(count: 6))
    for trial in 0..<400 {
      let length = generator.index(below: 120)
      var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      switch trial % 4 {
      case 1 where length >= 4: bytes.replaceSubrange(0..<4, with: [0, 0, 8, 3])  // valid magic
      case 2 where length >= 2: bytes.replaceSubrange(0..<2, with: [0x1F, 0x8B])  // gzip magic
      case 3: bytes = FileBytes.gzip(bytes)  // valid gzip of garbage
      default: break
      }
      try folder.write("images", bytes)
      if case .success(let count) = loadPair(images: imagesPath, labels: labelsPath) {
        #expect(count == 6)  // only possible if the bytes happen to be a valid 6-image file
      }
    }
  }

  @Test(arguments: [false, true])
  func flippedBytesLoadWholeOrThrow(gzip: Bool) throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var generator = SeededGenerator(seed: 7)
    let intact = IDX.labels(count: 40, classes: 10)
    let file = gzip ? FileBytes.gzip(intact) : intact
    let imagesPath = try folder.write("images", IDX.images(count: 40))
    let labelsPath = folder.file("labels")
    for _ in 0..<300 {
      var bytes = file
      let position = generator.index(below: bytes.count)
      bytes[position] ^= UInt8(1 + generator.index(below: 255))
      try folder.write("labels", bytes)
      if case .success(let count) = loadPair(images: imagesPath, labels: labelsPath) {
        #expect(count == 40)
      }
    }
  }

  @Test func everyTruncationOfACIFARFileThrows() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let intact = CIFAR.records(count: 2)
    let names = CIFARFormat.cifar10ClassNames
    let path = try folder.write("batch.bin", intact)
    #expect(
      try CIFARFormat.load([path], labelBytes: 1, labelIndex: 0, classNames: names).count == 2)
    var lengths = Array(stride(from: 0, to: intact.count, by: 17))
    lengths += [1, 3072, 3073 - 1, 3073 + 1, intact.count - 1]
    for length in lengths {
      try folder.write("batch.bin", Array(intact.prefix(length)))
      let error = dataError {
        try CIFARFormat.load([path], labelBytes: 1, labelIndex: 0, classNames: names)
      }
      #expect(error != nil, "cut to \(length) bytes")
    }
  }

  @Test func randomCSVTextNeverCrashes() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var generator = SeededGenerator(seed: 99)
    let alphabet = Array("0123456789.,-e\n\r\" abcl".utf8)
    for trial in 0..<400 {
      let length = generator.index(below: 80)
      var text = trial % 2 == 0 ? Array("a,b,label\n".utf8) : []
      text += (0..<length).map { _ in alphabet[generator.index(below: alphabet.count)] }
      let path = try folder.write("random.csv", text)
      do {
        let splits = try CSVFormat.load(
          path, testPath: nil, labelColumn: "label", testFraction: 0.2)
        #expect(splits.train.count + splits.test.count > 0)
      } catch {
        #expect(error.exitCode == 65 || error.exitCode == 66)
      }
    }
  }

  @Test func everyTruncationOfACSVFileLoadsOnlyWholeRowsOrThrows() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let text = Array("x,y,label\n1.5,2,a\n3,4.25,b\n5,6,a\n7,8,b\n".utf8)
    for length in 0..<text.count {
      let path = try folder.write("cut.csv", Array(text.prefix(length)))
      do {
        let splits = try CSVFormat.load(path, testPath: nil, labelColumn: "label", testFraction: 0)
        // A cut that ends a row early makes that row ragged or its number different; only a
        // cut at a row end (or inside the last number) may load, and then with whole rows.
        let rows =
          String(decoding: text.prefix(length), as: UTF8.self)
          .split(separator: "\n").count - 1
        #expect(splits.train.count == rows)
      } catch {
        #expect(error.exitCode == 65 || error.exitCode == 66)
      }
    }
  }
}
