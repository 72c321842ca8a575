import Datasets
import Foundation
import NeuralNetworks
import Randomness
import Training

/// Small seeded problems for the engine: each step takes well under a millisecond, so a test
/// can train, snapshot and replay dozens of steps.
enum Fixtures {
  /// Gaussian blobs (3 classes, 4 features, 240 training samples, 60 test samples), with a
  /// stratified quarter of the training samples held out for validation and per-feature
  /// normalization: 180 training samples.
  static func blobs() throws -> DataSplits {
    let options = DatasetOptions(
      sampleCount: 240, testSampleCount: 60, classCount: 3, featureCount: 4, seed: 7)
    return try DatasetSpec(.blobs, options: options).load()
      .prepared(validationFraction: 0.25, seed: 0)
  }

  /// 1 × 8 × 8 images of three classes: a horizontal bar, a vertical bar, a diagonal, each at
  /// a random offset, plus N(0, 0.3²) noise; 96 training and 30 test samples, no validation
  /// split, scalar normalization. Not symmetric left–right, so a flip changes a sample.
  static func bars() throws -> DataSplits {
    var generator = SeededGenerator(seed: 11)
    func images(_ count: Int) -> LabeledData {
      var features: [Float] = []
      var labels: [Int32] = []
      for i in 0..<count {
        let label = i % 3
        let offset = Int.random(in: 1...5, using: &generator)
        for y in 0..<8 {
          for x in 0..<8 {
            let on: Bool
            switch label {
            case 0: on = y == offset
            case 1: on = x == offset
            default: on = x == y + offset - 3 && x >= 4
            }
            features.append((on ? 1 : 0) + 0.3 * generator.nextNormal())
          }
        }
        labels.append(Int32(label))
      }
      return LabeledData(
        features: features, labels: labels, sampleShape: [1, 8, 8],
        classNames: ["horizontal", "vertical", "diagonal"])
    }
    let train = images(96)
    return try DataSplits(train: train, test: images(30)).prepared(validationFraction: 0)
  }

  /// A fresh session as the CLI's `TrainingSetup.session` builds one: a zoo model sized for
  /// the data, initialized from `modelSeed` (default `seed`), and a loader shuffled by `seed`.
  static func session(
    _ architecture: ModelArchitecture, on splits: DataSplits, optimizer: OptimizerKind = .sgd,
    batchSize: Int, dropout: Float = 0, augmentation: Augmentation = .none, seed: UInt64,
    modelSeed: UInt64? = nil
  ) throws -> EngineSession {
    let shape = splits.train.sampleShape
    let specification = ModelSpecification(
      architecture: architecture, inputChannels: shape[0], inputSize: shape[1],
      classes: splits.train.classCount, dropout: dropout)
    return try EngineSession(
      model: specification.build(seed: modelSeed ?? seed), optimizer: optimizer, splits: splits,
      batchSize: batchSize, augmentation: augmentation, seed: seed, evaluationBatchSize: 64)
  }

  /// The flip-and-crop augmentation the CLI's `--augment crop-flip` builds for `splits`.
  static func cropFlip(for splits: DataSplits) throws -> Augmentation {
    try Augmentation.named(
      "crop-flip", sampleShape: splits.train.sampleShape, normalization: splits.normalization)
  }

  /// Takes `count` steps with fixed hyper-parameters; returns their losses.
  static func train(
    _ session: EngineSession, steps count: Int,
    _ hyperParameters: HyperParameters = sgd
  ) -> [Double] {
    (0..<count).map { _ in session.step(hyperParameters) }
  }

  /// SGD's settings in these tests: learning rate 0.05, momentum 0.9, weight decay 5e-4.
  static let sgd = HyperParameters(learningRate: 0.05, momentum: 0.9, weightDecay: 5e-4)
  /// AdamW's: learning rate 2e-3, β₁ 0.9, weight decay 1e-2.
  static let adamw = HyperParameters(learningRate: 2e-3, momentum: 0.9, weightDecay: 1e-2)

  /// Every parameter and buffer of a model, by name, as bit patterns (so NaN equals NaN and
  /// −0 differs from +0: "the same" means bit for bit).
  static func bits(of model: Module) -> [String: [UInt32]] {
    Dictionary(
      uniqueKeysWithValues: model.stateDictionary().map { ($0.0, $0.1.values.map(\.bitPattern)) })
  }

  /// A new empty folder under the temporary directory.
  static func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("discipline-training-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

extension Collection where Element == Double {
  /// The values' bit patterns, to compare runs bit for bit.
  var bits: [UInt64] { map(\.bitPattern) }

  /// The mean of the values.
  var mean: Double { reduce(0, +) / Double(count) }

  /// Whether every value is finite.
  var areFinite: Bool { allSatisfy { $0.isFinite } }
}
