import Foundation
import Randomness

/// Small seeded data sets for tests and demonstrations, tabular (shape [features, 1, 1]) with
/// balanced classes (sample i has class i mod K).
enum SyntheticData {
  /// `classCount` interleaved spiral arms in the plane (after the CS231n example): a point of
  /// class k at radius r ~ U(0, 1) has angle 4r + 2πk/K + noise × N(0, 1) and coordinates
  /// (r sin θ, r cos θ).
  static func spirals(
    count: Int, classCount: Int, noise: Double, using generator: inout SeededGenerator
  ) -> LabeledData {
    var features = [Float](repeating: 0, count: 2 * count)
    var labels = [Int32](repeating: 0, count: count)
    for i in 0..<count {
      let k = i % classCount
      let r = generator.nextUnitDouble()
      let theta =
        4 * r + 2 * Double.pi * Double(k) / Double(classCount)
        + noise * Double(generator.nextNormal())
      features[2 * i] = Float(r * sin(theta))
      features[2 * i + 1] = Float(r * cos(theta))
      labels[i] = Int32(k)
    }
    return LabeledData(
      uncheckedFeatures: features, labels: labels, sampleShape: [2, 1, 1],
      classNames: names(classCount))
  }

  /// Centres drawn uniformly from [−5, 5]^`featureCount`, one per class (as scikit-learn's
  /// `make_blobs` does with a box of ±5).
  static func blobCentres(
    classCount: Int, featureCount: Int, using generator: inout SeededGenerator
  )
    -> [[Float]]
  {
    (0..<classCount).map { _ in
      (0..<featureCount).map { _ in Float(generator.nextUnitDouble() * 10 - 5) }
    }
  }

  /// Gaussian blobs: a point of class k is centre k plus noise × N(0, I).
  static func blobs(
    count: Int, centres: [[Float]], noise: Double, using generator: inout SeededGenerator
  ) -> LabeledData {
    let featureCount = centres[0].count
    var features = [Float](repeating: 0, count: featureCount * count)
    var labels = [Int32](repeating: 0, count: count)
    for i in 0..<count {
      let k = i % centres.count
      for f in 0..<featureCount {
        features[i * featureCount + f] = centres[k][f] + Float(noise) * generator.nextNormal()
      }
      labels[i] = Int32(k)
    }
    return LabeledData(
      uncheckedFeatures: features, labels: labels, sampleShape: [featureCount, 1, 1],
      classNames: names(centres.count))
  }

  /// Train and test sets from `options` (train from stream 1, test from stream 2 of the seed,
  /// blob centres from stream 0, so that both splits share them).
  static func load(_ source: DataSource, options: DatasetOptions) throws(DataError) -> DataSplits {
    let trainCount = options.sampleCount
    let testCount = options.testSampleCount ?? max(options.classCount, trainCount / 4)
    guard trainCount >= options.classCount else {
      throw .invalidOption(
        name: "sample count", value: "\(trainCount)",
        reason: "needs at least one sample for each of the \(options.classCount) classes")
    }
    guard testCount >= 0 else {
      throw .invalidOption(
        name: "test sample count", value: "\(testCount)", reason: "must not be negative")
    }
    guard options.classCount >= 2 else {
      throw .invalidOption(
        name: "class count", value: "\(options.classCount)", reason: "needs at least 2 classes")
    }
    let root = SeededGenerator(seed: options.seed)
    var trainGenerator = root.derived(stream: 1)
    var testGenerator = root.derived(stream: 2)
    switch source {
    case .spirals:
      let noise = options.noise ?? 0.2
      try checkNoise(noise)
      return DataSplits(
        train: spirals(
          count: trainCount, classCount: options.classCount, noise: noise, using: &trainGenerator),
        test: spirals(
          count: testCount, classCount: options.classCount, noise: noise, using: &testGenerator))
    default:
      let noise = options.noise ?? 1
      try checkNoise(noise)
      guard options.featureCount >= 1 else {
        throw .invalidOption(
          name: "feature count", value: "\(options.featureCount)",
          reason: "needs at least 1 feature")
      }
      var centreGenerator = root.derived(stream: 0)
      let centres = blobCentres(
        classCount: options.classCount, featureCount: options.featureCount, using: &centreGenerator)
      return DataSplits(
        train: blobs(count: trainCount, centres: centres, noise: noise, using: &trainGenerator),
        test: blobs(count: testCount, centres: centres, noise: noise, using: &testGenerator))
    }
  }

  private static func checkNoise(_ noise: Double) throws(DataError) {
    guard noise.isFinite && noise >= 0 else {
      throw .invalidOption(name: "noise", value: "\(noise)", reason: "must be a finite number ≥ 0")
    }
  }

  private static func names(_ classCount: Int) -> [String] {
    (0..<classCount).map(String.init)
  }
}
