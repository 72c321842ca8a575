import Foundation
import Testing

@testable import Datasets

@Suite struct SplitTests {
  @Test(arguments: [0.1, 0.25, 0.5])
  func stratifiedSplitKeepsClassProportions(fraction: Double) {
    let data = makeData(perClass: [200, 100, 40])
    let (kept, heldOut) = data.splitStratified(holdingOut: fraction, seed: 3)
    let expected = [200, 100, 40].map { Int((Double($0) * fraction).rounded()) }
    #expect(heldOut.classCounts() == expected)
    #expect(kept.classCounts() == zip([200, 100, 40], expected).map { $0 - $1 })
    // Together the parts are the whole, each sample once.
    var rows = Set<[Float]>()
    for part in [kept, heldOut] {
      for i in 0..<part.count { rows.insert(Array(part.features[(i * 16)..<((i + 1) * 16)])) }
    }
    #expect(rows.count == data.count)
  }

  @Test func splitIsSeededAndKeepsOrder() {
    let data = makeData(perClass: [50, 50])
    let a = data.splitStratified(holdingOut: 0.2, seed: 1)
    let b = data.splitStratified(holdingOut: 0.2, seed: 1)
    let c = data.splitStratified(holdingOut: 0.2, seed: 2)
    #expect(a.heldOut == b.heldOut && a.kept == b.kept)
    #expect(a.heldOut != c.heldOut)
    #expect(a.kept.labels == a.kept.labels.sorted())  // original order: class 0 then class 1
  }

  @Test func tinyClassesKeepATrainingSample() {
    let data = makeData(perClass: [1, 2, 10])
    let (kept, heldOut) = data.splitStratified(holdingOut: 0.6, seed: 1)
    #expect(kept.classCounts() == [1, 1, 4])
    #expect(heldOut.classCounts() == [0, 1, 6])
  }

  @Test func preparedHoldsOutValidationAndNormalizesFromTrainingOnly() throws {
    let train = makeData(perClass: [60, 40], seed: 1)
    var test = makeData(perClass: [10, 10], seed: 2)
    for i in test.features.indices { test.features[i] += 5 }  // a very different test set
    let raw = DataSplits(train: train, test: test)
    let splits = try raw.prepared(validationFraction: 0.1, seed: 9)
    let validation = try #require(splits.validation)
    #expect(validation.classCounts() == [6, 4])
    #expect(splits.train.count == 90)
    let statistics = try #require(splits.normalization)
    #expect(statistics.isScalar)
    // The statistics are those of the 90 remaining raw training samples, not of all 100 or
    // of the test set.
    let (kept, _) = train.splitStratified(holdingOut: 0.1, seed: 9)
    let expected = Normalization.scalar(of: kept)
    #expect(statistics == expected)
    #expect(statistics != Normalization.scalar(of: train))
    // So the normalized training features have mean 0 and deviation 1, and the test set not.
    let normalized = Normalization.scalar(of: splits.train)
    #expect(abs(normalized.mean[0]) < 1e-5)
    #expect(abs(normalized.standardDeviation[0] - 1) < 1e-4)
    #expect(Normalization.scalar(of: splits.test).mean[0] > 10)
  }

  @Test func zeroValidationFractionMeansNoValidationSet() throws {
    let splits = try DataSplits(
      train: makeData(perClass: [5, 5]), test: makeData(perClass: [2, 2])
    )
    .prepared(validationFraction: 0, normalization: .none)
    #expect(splits.validation == nil)
    #expect(splits.normalization == nil)
    #expect(splits.train == makeData(perClass: [5, 5]))
  }

  @Test(arguments: [-0.1, 1.0, .nan])
  func badValidationFractionIsAUsageError(fraction: Double) {
    let raw = DataSplits(train: makeData(perClass: [5, 5]), test: makeData(perClass: [2, 2]))
    #expect(dataError { try raw.prepared(validationFraction: fraction) }?.exitCode == 64)
  }
}

@Suite struct NormalizationTests {
  @Test func scalarStatisticsMatchTheFormula() {
    // Values 0, 1, 2, 3: mean 1.5, population variance 1.25.
    let data = LabeledData(
      features: [0, 1, 2, 3], labels: [0], sampleShape: [1, 2, 2], classNames: ["a"])
    let statistics = Normalization.scalar(of: data)
    #expect(statistics.mean == [1.5])
    #expect(statistics.standardDeviation == [Float(1.25.squareRoot())])
  }

  @Test func perFeatureStatisticsForTabularData() throws {
    // Feature 0 takes 1e6 ± 1 (a large offset), feature 1 is constant.
    let data = LabeledData(
      features: [1e6 - 1, 7, 1e6 + 1, 7], labels: [0, 1], sampleShape: [2, 1, 1],
      classNames: ["a", "b"])
    let splits = try DataSplits(train: data, test: data).prepared(validationFraction: 0)
    let statistics = try #require(splits.normalization)
    #expect(statistics.mean == [1e6, 7])
    #expect(statistics.standardDeviation == [1, 1])  // the constant feature's 0 becomes 1
    #expect(splits.train.features == [-1, 0, 1, 0])
  }

  @Test func perChannelStatisticsForImages() {
    // Two channels of 2 pixels: channel 0 holds 0 and 2, channel 1 holds 10 and 10.
    let data = LabeledData(
      features: [0, 2, 10, 10], labels: [0], sampleShape: [2, 1, 2], classNames: ["a"])
    let statistics = Normalization.perChannel(of: data)
    #expect(statistics.mean == [1, 10])
    #expect(statistics.standardDeviation == [1, 1])
    #expect(statistics.normalizedValue(of: 0, channel: 1) == -10)
  }

  @Test func travelsAsCheckpointMetadataAndJSON() throws {
    let statistics = Normalization(mean: 0.2860, standardDeviation: 0.3530)
    #expect(statistics.checkpointMetadata == ["input_mean": "0.286", "input_std": "0.353"])
    #expect(Normalization(checkpointMetadata: statistics.checkpointMetadata) == statistics)
    let channels = Normalization(mean: [0.49, 0.48], standardDeviation: [0.2, 0.25])
    #expect(Normalization(checkpointMetadata: channels.checkpointMetadata) == channels)
    #expect(Normalization(checkpointMetadata: ["input_mean": "x", "input_std": "1"]) == nil)
    let json = try JSONEncoder().encode(channels)
    #expect(String(decoding: json, as: UTF8.self).contains("\"std\""))
    #expect(try JSONDecoder().decode(Normalization.self, from: json) == channels)
  }

  @Test func checkpointStatisticsMustFitTheChannels() throws {
    let data = makeData(perClass: [2])
    let splits = DataSplits(train: data, test: data)
    let three = Normalization(mean: [0, 0, 0], standardDeviation: [1, 1, 1])
    #expect(dataError { try splits.normalized(with: three) }?.exitCode == 64)
    let shifted = try splits.normalized(with: Normalization(mean: 1, standardDeviation: 2))
    #expect(shifted.test.features[0] == (data.features[0] - 1) / 2)
  }
}
