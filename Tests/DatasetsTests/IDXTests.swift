import Foundation
import Testing

@testable import Datasets

@Suite struct IDXTests {
  @Test(arguments: [false, true])
  func loadsAFolderRawOrGzipped(gzip: Bool) throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, train: 20, test: 10, gzip: gzip)
    let splits = try DatasetSpec(
      parsing: "mnist", options: DatasetOptions(dataDirectory: folder.path)
    )
    .load()
    #expect(splits.train.count == 20)
    #expect(splits.test.count == 10)
    #expect(splits.train.sampleShape == [1, 4, 3])
    #expect(splits.train.classCount == 10)
    #expect(splits.train.labels == (0..<20).map { Int32($0 % 10) })
    // Pixel j of image i is (7i + j) mod 256, scaled by 1/255 as PyTorch's ToTensor does.
    #expect(splits.train.features[12 + 5] == Float(7 + 5) / 255)
    #expect(splits.validation == nil && splits.normalization == nil)
  }

  @Test func prefersTheRawFileWhenBothExist() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, train: 20, test: 10, gzip: true)
    // A raw training-labels file that differs from the gzipped one (labels reversed).
    try folder.write(
      "train-labels-idx1-ubyte",
      IDX.file(dimensions: [20], values: (0..<20).map { UInt8(9 - $0 % 10) }))
    let splits = try DatasetSpec(.mnist, options: DatasetOptions(dataDirectory: folder.path)).load()
    #expect(splits.train.labels.first == 9)
  }

  @Test func readsTheDottedFileNames() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try folder.write("train-images.idx3-ubyte", IDX.images(count: 5))
    try folder.write("train-labels.idx1-ubyte", IDX.labels(count: 5))
    try folder.write("t10k-images.idx3-ubyte", IDX.images(count: 2))
    try folder.write("t10k-labels.idx1-ubyte", IDX.labels(count: 2))
    let splits = try DatasetSpec(.mnist, options: DatasetOptions(dataDirectory: folder.path)).load()
    #expect(splits.train.count == 5 && splits.test.count == 2)
  }

  @Test func missingFolderIsANoInputError() throws {
    let error = dataError {
      try DatasetSpec(.fashionMNIST, options: DatasetOptions(dataDirectory: "/nonexistent/fm"))
        .load()
    }
    #expect(error == .missingDirectory(path: "/nonexistent/fm"))
    #expect(error?.exitCode == 66)
    #expect(error?.description == "/nonexistent/fm: no such folder.")
  }

  @Test func missingFileNamesEveryNameTried() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: true)
    try FileManager.default.removeItem(atPath: folder.file("t10k-labels-idx1-ubyte.gz"))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    guard case .missingFile(let path, let tried) = error else {
      Issue.record("expected missingFile, got \(String(describing: error))")
      return
    }
    #expect(path == folder.file("t10k-labels-idx1-ubyte"))
    #expect(tried.contains(folder.file("t10k-labels-idx1-ubyte.gz")))
    #expect(error?.exitCode == 66)
  }

  @Test func wrongMagicNumberNamesTheFileAndBytes() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    // A labels file where an images file should be: magic 0x00000801, not 0x00000803.
    let path = try folder.write("train-images-idx3-ubyte", IDX.labels(count: 20))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(
      error
        == .badMagicNumber(
          path: path, found: 0x801, expected: 0x803,
          meaning: "an IDX file of unsigned bytes with 3 dimensions"))
    #expect(error?.exitCode == 65)
    #expect(error?.description.contains("wrong magic number 0x00000801 at byte 0") == true)
  }

  @Test func truncatedImagesFileIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    let full = IDX.images(count: 20)
    let path = try folder.write("train-images-idx3-ubyte", Array(full.dropLast(5)))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(
      error
        == .truncatedFile(
          path: path, expectedBytes: full.count, actualBytes: full.count - 5,
          what: "the header's 20×4×3 values"))
  }

  @Test func trailingBytesAreAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    let path = try folder.write("train-labels-idx1-ubyte", IDX.labels(count: 20) + [1, 2])
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(error == .trailingBytes(path: path, offset: 8 + 20, count: 2))
  }

  @Test func differentImageAndLabelCountsAreAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    let labels = try folder.write("t10k-labels-idx1-ubyte", IDX.labels(count: 9))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(
      error
        == .countMismatch(
          imagesPath: folder.file("t10k-images-idx3-ubyte"), imageCount: 10, labelsPath: labels,
          labelCount: 9))
  }

  @Test func labelOutsideTheClassesNamesItsByte() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    var values = (0..<20).map { UInt8($0 % 10) }
    values[13] = 11
    let path = try folder.write(
      "train-labels-idx1-ubyte", IDX.file(dimensions: [20], values: values))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(error == .labelOutOfRange(path: path, offset: 8 + 13, label: 11, classCount: 10))
    #expect(error?.description == "\(path): label 11 at byte 21 is outside the 10 classes (0...9).")
  }

  @Test func emptyFileIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    let path = try folder.write("train-labels-idx1-ubyte", [])
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(error == .emptyFile(path: path))
  }

  @Test func zeroSizedDimensionIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    let path = try folder.write(
      "train-images-idx3-ubyte", IDX.file(dimensions: [0, 4, 3], values: []))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(error == .badHeader(path: path, offset: 4, reason: "dimension 0 has size 0"))
  }

  @Test func trainAndTestImageSizesMustAgree() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try IDX.writeFolder(folder, gzip: false)
    let path = try folder.write("t10k-images-idx3-ubyte", IDX.images(count: 10, rows: 5, cols: 5))
    let error = dataError {
      try DatasetSpec(.mnist, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(error == .shapeMismatch(path: path, expected: [1, 4, 3], found: [1, 5, 5]))
  }
}

@Suite struct GzipTests {
  @Test func roundTripsAndReadsConcatenatedMembers() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let first = Array("hello, ".utf8)
    let second = Array("world".utf8)
    let path = try folder.write("two.gz", FileBytes.gzip(first) + FileBytes.gzip(second))
    #expect(Array(try FileBytes.read(path)) == first + second)
  }

  @Test func growsPastAWrongSizeHint() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let bytes = (0..<300_000).map { UInt8(($0 * 31) % 251) }
    var compressed = FileBytes.gzip(bytes)
    let path = try folder.write("hint.gz", compressed)
    #expect(Array(try FileBytes.read(path)) == bytes)
    // A damaged size field in the trailer must be caught by zlib's length check.
    compressed[compressed.count - 1] ^= 0x01
    let damaged = try folder.write("damaged.gz", compressed)
    guard case .corruptGzip(let p, _, let reason)? = dataError({ try FileBytes.read(damaged) })
    else {
      Issue.record("expected corruptGzip")
      return
    }
    #expect(p == damaged)
    #expect(reason == "incorrect length check")
  }

  @Test func corruptDataNamesTheCompressedOffset() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var compressed = FileBytes.gzip(IDX.images(count: 50))
    for i in 20..<40 { compressed[i] = 0xFF }
    let path = try folder.write("bad.gz", compressed)
    let error = dataError { try FileBytes.read(path) }
    guard case .corruptGzip(let p, let offset, _)? = error else {
      Issue.record("expected corruptGzip, got \(String(describing: error))")
      return
    }
    #expect(p == path)
    #expect(offset > 0 && offset <= compressed.count)
    #expect(error?.exitCode == 65)
  }

  @Test func garbageAfterTheStreamIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let compressed = FileBytes.gzip(Array("data".utf8))
    let path = try folder.write("tail.gz", compressed + [1, 2, 3])
    #expect(
      dataError { try FileBytes.read(path) }
        == .corruptGzip(
          path: path, offset: compressed.count,
          reason: "3 bytes that are not gzip data follow the end of the stream"))
  }

  @Test func truncatedStreamIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    let compressed = FileBytes.gzip(IDX.images(count: 50))
    let path = try folder.write("cut.gz", Array(compressed.prefix(compressed.count / 2)))
    #expect(
      dataError { try FileBytes.read(path) }
        == .truncatedGzip(path: path, compressedBytes: compressed.count / 2))
  }
}
