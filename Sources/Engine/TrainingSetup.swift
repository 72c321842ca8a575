import Datasets
import Foundation
import NeuralNetworks
import Training

/// What every training command builds from its options: the prepared data, the model's
/// specification, the augmentation, and fresh seeded sessions over them.
public struct TrainingSetup {
  public let datasetName: String
  public let splits: DataSplits
  public let architecture: ModelArchitecture
  public let optimizer: OptimizerKind
  public let nesterov: Bool
  public let augmentation: Augmentation

  public init(
    datasetName: String, splits: DataSplits, model: ModelArchitecture,
    optimizer: OptimizerKind = .sgd, nesterov: Bool = false, augment: String
  ) throws {
    self.datasetName = datasetName
    self.splits = splits
    let shape = splits.train.sampleShape
    guard shape.count == 3, model == .mlp || shape[1] == shape[2] else {
      throw EngineSetupError(
        description:
          "model \(model) needs square images; \(datasetName) has samples of shape \(shape)")
    }
    architecture = model
    self.optimizer = optimizer
    self.nesterov = nesterov
    augmentation = try Augmentation.named(
      augment, sampleShape: shape, normalization: splits.normalization)
  }

  public func specification(dropout: Float) -> ModelSpecification {
    let shape = splits.train.sampleShape
    return ModelSpecification(
      architecture: architecture, inputChannels: shape[0], inputSize: shape[1],
      classes: splits.train.classCount, dropout: dropout)
  }

  /// A fresh model (initialized from `seed`) and a session over the data (shuffled by `seed`).
  public func session(
    batchSize: Int, dropout: Float = 0, augment: String? = nil, seed: UInt64,
    evaluationBatchSize: Int = 1000
  ) throws -> EngineSession {
    let chosen =
      try augment.map {
        try Augmentation.named(
          $0, sampleShape: splits.train.sampleShape, normalization: splits.normalization)
      } ?? augmentation
    return try EngineSession(
      model: specification(dropout: dropout).build(seed: seed), optimizer: optimizer,
      nesterov: nesterov,
      splits: splits, batchSize: batchSize, augmentation: chosen, seed: seed,
      evaluationBatchSize: evaluationBatchSize)
  }

  /// Whether the samples are images (channels, height, width with both above 1), which the
  /// flip and crop augmentations need.
  public var hasImages: Bool {
    let shape = splits.train.sampleShape
    return shape.count == 3 && shape[1] > 1 && shape[2] > 1
  }

  /// "12,000 training, 6,000 validation, 10,000 test samples".
  public var sizes: String {
    "\(splits.train.count) training, \(splits.validation?.count ?? 0) validation, \(splits.test.count) test samples"
  }
}

/// A model the data cannot feed (non-square images for a convolutional network).
public struct EngineSetupError: Error, CustomStringConvertible {
  public var description: String
}
