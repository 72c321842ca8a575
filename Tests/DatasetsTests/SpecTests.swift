import Foundation
import Testing

@testable import Datasets

@Suite struct SpecTests {
  @Test(arguments: [
    ("fashion-mnist", DataSource.fashionMNIST), ("Fashion_MNIST", .fashionMNIST),
    ("mnist", .mnist), ("cifar10", .cifar10), ("CIFAR-10", .cifar10), ("cifar100", .cifar100),
    ("csv:data/iris.csv", .csv(path: "data/iris.csv")), ("spirals", .spirals), ("blobs", .blobs),
  ])
  func parses(text: String, source: DataSource) throws {
    let spec = try DatasetSpec(parsing: text)
    #expect(spec.source == source)
    #expect(try DatasetSpec(parsing: spec.description).source == source)
  }

  @Test(arguments: ["imagenet", "csv:", ""])
  func rejectsUnknownSpecs(text: String) {
    let error = dataError { try DatasetSpec(parsing: text) }
    #expect(error?.exitCode == 64)
  }

  @Test func unknownSpecListsTheChoices() {
    #expect(
      dataError { try DatasetSpec(parsing: "imagenet") }?.description
        == "Unknown data set \"imagenet\": expected one of fashion-mnist, mnist, cifar10, "
        + "cifar100, csv:PATH, spirals, blobs.")
  }

  @Test func encodesAsTheSpecTextAndOptions() throws {
    let spec = try DatasetSpec(
      parsing: "csv:data/x.csv", options: .init(labelColumn: "species", seed: 3))
    let json = try JSONEncoder().encode(spec)
    #expect(String(decoding: json, as: UTF8.self).contains("\"dataset\":\"csv:data\\/x.csv\""))
    #expect(try JSONDecoder().decode(DatasetSpec.self, from: json) == spec)
    let bad = Data(#"{"dataset": "imagenet"}"#.utf8)
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(DatasetSpec.self, from: bad) }
  }

  @Test func defaultDirectories() throws {
    #expect(
      try DatasetSpec(parsing: "fashion-mnist").directory == "/usr/share/datasets/fashion-mnist")
    let custom = try DatasetSpec(
      parsing: "fashion-mnist", options: .init(dataDirectory: "/data/fm"))
    #expect(custom.directory == "/data/fm")
  }
}

@Suite struct SyntheticTests {
  @Test(arguments: ["spirals", "blobs"])
  func seededBalancedAndSized(name: String) throws {
    let options = DatasetOptions(sampleCount: 300, testSampleCount: 90, classCount: 3, seed: 5)
    let first = try DatasetSpec(parsing: name, options: options).load()
    let again = try DatasetSpec(parsing: name, options: options).load()
    #expect(first == again)
    #expect(first.train.count == 300 && first.test.count == 90)
    #expect(first.train.classCounts() == [100, 100, 100])
    #expect(first.train.sampleShape == [2, 1, 1])
    #expect(first.train.features.allSatisfy { $0.isFinite })
    var other = options
    other.seed = 6
    #expect(try DatasetSpec(parsing: name, options: other).load() != first)
  }

  @Test func spiralsLieInTheUnitDisc() throws {
    let splits = try DatasetSpec(.spirals, options: .init(sampleCount: 200, noise: 0.5)).load()
    let f = splits.train.features
    for i in 0..<200 {
      #expect(f[2 * i] * f[2 * i] + f[2 * i + 1] * f[2 * i + 1] <= 1.0001)
    }
  }

  @Test func blobsClusterAroundSharedCentres() throws {
    // With tiny noise, train and test samples of a class sit on the same centre.
    let options = DatasetOptions(
      sampleCount: 40, testSampleCount: 8, noise: 1e-4, classCount: 4, featureCount: 3)
    let splits = try DatasetSpec(.blobs, options: options).load()
    #expect(splits.train.sampleShape == [3, 1, 1])
    for k in 0..<4 {
      for f in 0..<3 {
        #expect(abs(splits.train.features[k * 3 + f] - splits.test.features[k * 3 + f]) < 0.01)
      }
    }
  }

  @Test func badOptionsAreUsageErrors() {
    let tooFew = dataError {
      try DatasetSpec(.spirals, options: .init(sampleCount: 2, classCount: 3)).load()
    }
    #expect(tooFew?.exitCode == 64)
    let noise = dataError { try DatasetSpec(.blobs, options: .init(noise: -1)).load() }
    #expect(
      noise == .invalidOption(name: "noise", value: "-1.0", reason: "must be a finite number ≥ 0"))
  }
}
