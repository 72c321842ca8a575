import Foundation
import Testing

@testable import Datasets

@Suite struct CIFARTests {
  @Test func loadsTheFiveTrainingBatchesAndTheTestBatch() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try CIFAR.writeFolder(folder, perBatch: 3)
    let splits = try DatasetSpec(parsing: "cifar10", options: .init(dataDirectory: folder.path))
      .load()
    #expect(splits.train.count == 15)
    #expect(splits.test.count == 3)
    #expect(splits.train.sampleShape == [3, 32, 32])
    #expect(splits.train.classNames.first == "airplane")
    // Batch k's record i has label (k + i) mod 10 and pixel j = (j + i) mod 256.
    #expect(Array(splits.train.labels.prefix(4)) == [1, 2, 3, 2])
    #expect(splits.train.features[3072 + 1024] == Float((1024 + 1) % 256) / 255)
    #expect(splits.train.features.count == 15 * 3072)
  }

  @Test func labelOutsideTheTenClassesIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try CIFAR.writeFolder(folder, perBatch: 3)
    var records = CIFAR.records(count: 3)
    records[3073] = 11
    let path = try folder.write("data_batch_2.bin", records)
    let error = dataError {
      try DatasetSpec(.cifar10, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(error == .labelOutOfRange(path: path, offset: 3073, label: 11, classCount: 10))
  }

  @Test func partialRecordIsAnError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try CIFAR.writeFolder(folder, perBatch: 3)
    let path = try folder.write("test_batch.bin", Array(CIFAR.records(count: 3).dropLast(100)))
    let error = dataError {
      try DatasetSpec(.cifar10, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(
      error
        == .truncatedFile(
          path: path, expectedBytes: 3 * 3073, actualBytes: 3 * 3073 - 100,
          what: "record 3 (records are 3073 bytes)"))
  }

  @Test func missingBatchIsANoInputError() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    try CIFAR.writeFolder(folder, perBatch: 1)
    try FileManager.default.removeItem(atPath: folder.file("data_batch_4.bin"))
    let error = dataError {
      try DatasetSpec(.cifar10, options: .init(dataDirectory: folder.path)).load()
    }
    #expect(
      error
        == .missingFile(
          path: folder.file("data_batch_4.bin"),
          tried: [folder.file("data_batch_4.bin"), folder.file("data_batch_4.bin.gz")]))
    #expect(error?.exitCode == 66)
  }

  @Test func cifar100UsesTheFineLabel() throws {
    let folder = try TemporaryFolder()
    defer { folder.remove() }
    var record: [UInt8] = [3, 42] + [UInt8](repeating: 255, count: 3072)
    try folder.write("train.bin", record + record)
    record[1] = 99
    try folder.write("test.bin", record)
    let splits = try DatasetSpec(parsing: "cifar100", options: .init(dataDirectory: folder.path))
      .load()
    #expect(splits.train.labels == [42, 42])
    #expect(splits.test.labels == [99])
    #expect(splits.train.classCount == 100)
    #expect(splits.train.features.allSatisfy { $0 == 1 })
  }
}
