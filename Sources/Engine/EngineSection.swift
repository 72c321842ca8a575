import Datasets
import Foundation
import NeuralNetworks
import Training

/// Where a command's data comes from and how it is split: what `--dataset` and its options
/// say, and what a spec's engine section carries to `discipline trial`.
public struct DataDescription: Equatable, Sendable {
  /// A name `DatasetSpec(parsing:)` reads: fashion-mnist, mnist, cifar10, cifar100, csv:PATH,
  /// spirals or blobs.
  public var dataset: String
  public var dataDirectory: String?
  public var labelColumn: String
  /// Share of the training set held out for validation (0 trains on all of it).
  public var validationSplit: Double
  /// spirals, blobs: the number of training samples and the noise level.
  public var samples: Int
  public var noise: Double?

  public init(
    dataset: String = "fashion-mnist", dataDirectory: String? = nil, labelColumn: String = "label",
    validationSplit: Double = 0.1, samples: Int = 1000, noise: Double? = nil
  ) {
    self.dataset = dataset
    self.dataDirectory = dataDirectory
    self.labelColumn = labelColumn
    self.validationSplit = validationSplit
    self.samples = samples
    self.noise = noise
  }

  public func specification(seed: UInt64) throws -> DatasetSpec {
    var options = DatasetOptions()
    options.dataDirectory = dataDirectory
    options.labelColumn = labelColumn
    options.sampleCount = samples
    options.noise = noise
    options.seed = seed
    return try DatasetSpec(parsing: dataset, options: options)
  }

  /// Loads, splits (validation held out, seeded) and normalizes the data set.
  public func load(seed: UInt64) throws -> DataSplits {
    try specification(seed: seed).load().prepared(validationFraction: validationSplit, seed: seed)
  }

  /// The same data with nothing held out for validation: a final run's.
  public var withoutValidation: DataDescription {
    var s = self
    s.validationSplit = 0
    return s
  }

  /// The same data with every path absolute: a trial run from another folder (a Slurm task)
  /// finds its files.
  public var absolute: DataDescription {
    var s = self
    func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
    s.dataDirectory = dataDirectory.map(absolute)
    if dataset.hasPrefix("csv:") { s.dataset = "csv:" + absolute(String(dataset.dropFirst(4))) }
    return s
  }
}

/// A spec's engine section (Docs/PROTOCOL.md): the data, split as the command that wrote the
/// spec split it, and the model, for `discipline trial` to rebuild. On the wire it is an
/// object of strings (`fields`); read back with `init(fields:)`, which names a bad field.
public struct EngineSection: Equatable, Sendable {
  public var data: DataDescription
  /// The seed the command split (and made) its data with: a spec under another seed (a noise
  /// repeat, an lr-find repeat) varies its model and data order, not the split. nil: the
  /// spec's own seed.
  public var dataSeed: UInt64?
  public var model: ModelArchitecture
  public var optimizer: OptimizerKind
  /// Batch size of the validation and test passes (default 1000).
  public var evaluationBatchSize: Int?

  public init(
    data: DataDescription, model: ModelArchitecture, optimizer: OptimizerKind = .sgd,
    dataSeed: UInt64?,
    evaluationBatchSize: Int? = nil
  ) {
    self.data = data.absolute
    self.model = model
    self.optimizer = optimizer
    self.dataSeed = dataSeed
    self.evaluationBatchSize = evaluationBatchSize
  }

  /// The section as a spec carries it.
  public var fields: [String: String] {
    var s = [
      "dataset": data.dataset, "label_column": data.labelColumn,
      "validation_split": "\(data.validationSplit)", "samples": "\(data.samples)",
      "model": model.description, "optimizer": optimizer.rawValue,
    ]
    s["data_seed"] = dataSeed.map(String.init)
    s["data_dir"] = data.dataDirectory
    s["noise"] = data.noise.map { "\($0)" }
    s["evaluation_batch_size"] = evaluationBatchSize.map(String.init)
    return s
  }

  /// Reads a spec's section; a missing or malformed field is named with what was wrong.
  public init(fields: [String: String]) throws {
    func value<T>(_ key: String, _ what: String, _ parse: (String) -> T?) throws -> T? {
      guard let text = fields[key] else { return nil }
      guard let v = parse(text) else {
        throw EngineSetupError(
          description: "the engine section's \"\(key)\" is not \(what): \"\(text)\"")
      }
      return v
    }
    guard let dataset = fields["dataset"] else {
      throw EngineSetupError(description: "the engine section names no \"dataset\"")
    }
    guard let modelName = fields["model"], let model = ModelArchitecture(modelName) else {
      throw EngineSetupError(
        description:
          "the engine section names no known model (\"model\": \(fields["model"].map { "\"\($0)\"" } ?? "missing"))"
      )
    }
    let split =
      try value("validation_split", "a share in [0, 1)") {
        Double($0).flatMap { $0 >= 0 && $0 < 1 ? $0 : nil }
      } ?? 0.1
    let samples = try value("samples", "a positive count") { Int($0).flatMap { $0 > 0 ? $0 : nil } }
    self.init(
      data: DataDescription(
        dataset: dataset, dataDirectory: fields["data_dir"],
        labelColumn: fields["label_column"] ?? "label", validationSplit: split,
        samples: samples ?? 1000, noise: try value("noise", "a number") { Double($0) }),
      model: model,
      optimizer: try value("optimizer", "sgd or adamw") { OptimizerKind(rawValue: $0) } ?? .sgd,
      dataSeed: try value("data_seed", "a seed") { UInt64($0) },
      evaluationBatchSize: try value("evaluation_batch_size", "a positive count") {
        Int($0).flatMap { $0 > 0 ? $0 : nil }
      })
  }
}

extension TrainingSetup {
  /// The setup of a data source: the data loaded and split under `seed`.
  public init(
    data: DataDescription, model: ModelArchitecture, optimizer: OptimizerKind = .sgd,
    nesterov: Bool = false, augment: String, seed: UInt64
  ) throws {
    try self.init(
      datasetName: data.dataset, splits: data.load(seed: seed), model: model,
      optimizer: optimizer, nesterov: nesterov, augment: augment)
  }
}
