import ArgumentParser
import Datasets
import Foundation
import NeuralNetworks
import Training

/// What every training command builds from its options: the prepared data, the model's
/// specification, the augmentation, and fresh seeded sessions over them.
struct TrainingSetup {
  let datasetName: String
  let splits: DataSplits
  let architecture: ModelArchitecture
  let optimizer: OptimizerKind
  let nesterov: Bool
  let augmentation: Augmentation

  init(
    data: DataOptions, model: ModelArchitecture, optimizer: OptimizerKind = .sgd,
    nesterov: Bool = false,
    augment: String, seed: UInt64
  ) throws {
    datasetName = data.dataset
    splits = try data.load(seed: seed)
    let shape = splits.train.sampleShape
    guard shape.count == 3, model == .mlp || shape[1] == shape[2] else {
      throw CommandError(
        "model \(model) needs square images; \(data.dataset) has samples of shape \(shape)",
        exitCode: 64)
    }
    architecture = model
    self.optimizer = optimizer
    self.nesterov = nesterov
    augmentation = try Augmentation.named(
      augment, sampleShape: shape, normalization: splits.normalization)
  }

  func specification(dropout: Float) -> ModelSpecification {
    let shape = splits.train.sampleShape
    return ModelSpecification(
      architecture: architecture, inputChannels: shape[0], inputSize: shape[1],
      classes: splits.train.classCount, dropout: dropout)
  }

  /// A fresh model (initialized from `seed`) and a session over the data (shuffled by `seed`).
  func session(
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
  var hasImages: Bool {
    let shape = splits.train.sampleShape
    return shape.count == 3 && shape[1] > 1 && shape[2] > 1
  }

  /// "12,000 training, 6,000 validation, 10,000 test samples".
  var sizes: String {
    "\(splits.train.count) training, \(splits.validation?.count ?? 0) validation, \(splits.test.count) test samples"
  }
}

/// A comma-separated list of values for an option, e.g. `--weight-decay 1e-3,1e-4,0`.
struct ValueList<Element: ExpressibleByArgument>: ExpressibleByArgument {
  var values: [Element]
  init?(argument: String) {
    let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    var values: [Element] = []
    for part in parts {
      guard let value = Element(argument: part) else { return nil }
      values.append(value)
    }
    guard !values.isEmpty else { return nil }
    self.values = values
  }
  init(_ values: [Element]) { self.values = values }
  var isOverlay: Bool { values.count > 1 }
  /// As a user would type it: "0.99,0.97,0.95".
  var defaultValueDescription: String {
    values.map(\.defaultValueDescription).joined(separator: ",")
  }
}
