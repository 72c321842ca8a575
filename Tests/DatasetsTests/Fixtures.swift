import Foundation
import Randomness

@testable import Datasets

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryFolder {
  let path: String

  init() throws {
    path = (NSTemporaryDirectory() as NSString).appendingPathComponent(
      "DatasetsTests-" + UUID().uuidString)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) throws -> String {
    let target = file(name)
    try Data(bytes).write(to: URL(fileURLWithPath: target))
    return target
  }

  @discardableResult
  func write(_ name: String, text: String) throws -> String {
    try write(name, Array(text.utf8))
  }

  func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Builds IDX files the way the MNIST site describes them.
enum IDX {
  static func file(dimensions: [Int], values: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
    for size in dimensions {
      let s = UInt32(size)
      bytes += [UInt8(s >> 24), UInt8((s >> 16) & 0xFF), UInt8((s >> 8) & 0xFF), UInt8(s & 0xFF)]
    }
    return bytes + values
  }

  /// `count` images of `rows`×`cols` whose pixel j of image i is (i × 7 + j) mod 256.
  static func images(count: Int, rows: Int = 4, cols: Int = 3) -> [UInt8] {
    let size = rows * cols
    let values = (0..<(count * size)).map { j in UInt8((j / size * 7 + j % size) % 256) }
    return file(dimensions: [count, rows, cols], values: values)
  }

  /// Labels i mod `classes`.
  static func labels(count: Int, classes: Int = 10) -> [UInt8] {
    file(dimensions: [count], values: (0..<count).map { UInt8($0 % classes) })
  }

  /// A folder with the four files of an MNIST-style data set, gzipped or raw.
  static func writeFolder(
    _ folder: TemporaryFolder, train: Int = 20, test: Int = 10, gzip: Bool
  ) throws {
    let files: [(String, [UInt8])] = [
      ("train-images-idx3-ubyte", images(count: train)),
      ("train-labels-idx1-ubyte", labels(count: train)),
      ("t10k-images-idx3-ubyte", images(count: test)),
      ("t10k-labels-idx1-ubyte", labels(count: test)),
    ]
    for (name, bytes) in files {
      if gzip {
        try folder.write(name + ".gz", FileBytes.gzip(bytes))
      } else {
        try folder.write(name, bytes)
      }
    }
  }
}

/// Builds CIFAR-10 binary records: label byte, then 3072 pixel bytes.
enum CIFAR {
  static func records(count: Int, firstLabel: Int = 0) -> [UInt8] {
    var bytes: [UInt8] = []
    for i in 0..<count {
      bytes.append(UInt8((firstLabel + i) % 10))
      bytes += (0..<3072).map { UInt8(($0 + i) % 256) }
    }
    return bytes
  }

  static func writeFolder(_ folder: TemporaryFolder, perBatch: Int = 3) throws {
    for k in 1...5 {
      try folder.write("data_batch_\(k).bin", records(count: perBatch, firstLabel: k))
    }
    try folder.write("test_batch.bin", records(count: perBatch))
  }
}

/// A small labelled set: `perClass` samples of each of `classes` classes, shape
/// [channels, height, width], values from a seeded generator.
func makeData(
  perClass: [Int], shape: [Int] = [1, 4, 4], seed: UInt64 = 1
) -> LabeledData {
  var generator = SeededGenerator(seed: seed)
  var labels: [Int32] = []
  for (label, count) in perClass.enumerated() {
    labels += [Int32](repeating: Int32(label), count: count)
  }
  let size = shape.reduce(1, *)
  let features = (0..<(labels.count * size)).map { _ in generator.nextUnitFloat() }
  return LabeledData(
    features: features, labels: labels, sampleShape: shape,
    classNames: (0..<perClass.count).map { "c\($0)" })
}

/// Runs `body` and returns the `DataError` it threw, or nil.
func dataError<T>(_ body: () throws -> T) -> DataError? {
  do {
    _ = try body()
    return nil
  } catch let error as DataError {
    return error
  } catch {
    return nil
  }
}
