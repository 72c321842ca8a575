import Foundation

/// Where a data set's samples come from.
public enum DataSource: Sendable, Hashable {
  /// Zalando's Fashion-MNIST: 60 000 + 10 000 grey 28×28 images of 10 kinds of clothing.
  case fashionMNIST
  /// LeCun's handwritten digits, in the same IDX format as Fashion-MNIST.
  case mnist
  /// CIFAR-10, binary version: 50 000 + 10 000 colour 32×32 images of 10 classes.
  case cifar10
  /// CIFAR-100, binary version, with its 100 fine labels.
  case cifar100
  /// A CSV file with a header row, numeric feature columns and a label column.
  case csv(path: String)
  /// Interleaved spiral arms in the plane (synthetic, seeded).
  case spirals
  /// Gaussian blobs (synthetic, seeded).
  case blobs
}

/// Settings for loading a data set; each applies only to the sources it names.
public struct DatasetOptions: Sendable, Equatable, Codable {
  /// The folder holding the files (IDX and CIFAR sources). Fashion-MNIST defaults to
  /// `/usr/share/datasets/fashion-mnist`, MNIST to `/usr/share/datasets/mnist`, CIFAR-10 to
  /// `/usr/share/datasets/cifar-10-batches-bin`, CIFAR-100 to
  /// `/usr/share/datasets/cifar-100-binary`.
  public var dataDirectory: String?
  /// CSV: the name of the label column (matched exactly, then ignoring case).
  public var labelColumn: String
  /// CSV: a separate test file with the same header; without it a stratified `testFraction`
  /// of the file is held out, always with the same seed.
  public var testFile: String?
  /// CSV without a test file: the share of each class held out as the test set, in [0, 1).
  public var testFraction: Double
  /// Synthetic: the number of training samples.
  public var sampleCount: Int
  /// Synthetic: the number of test samples (default a quarter of `sampleCount`).
  public var testSampleCount: Int?
  /// Synthetic: the noise's standard deviation (default 0.2 for spirals, 1 for blobs).
  public var noise: Double?
  /// Synthetic: the number of classes.
  public var classCount: Int
  /// Blobs: the number of features (dimensions).
  public var featureCount: Int
  /// Synthetic: the seed the samples are drawn with.
  public var seed: UInt64

  /// Options with every setting at its default unless given.
  public init(
    dataDirectory: String? = nil, labelColumn: String = "label", testFile: String? = nil,
    testFraction: Double = 0.2, sampleCount: Int = 1000, testSampleCount: Int? = nil,
    noise: Double? = nil, classCount: Int = 3, featureCount: Int = 2, seed: UInt64 = 0
  ) {
    self.dataDirectory = dataDirectory
    self.labelColumn = labelColumn
    self.testFile = testFile
    self.testFraction = testFraction
    self.sampleCount = sampleCount
    self.testSampleCount = testSampleCount
    self.noise = noise
    self.classCount = classCount
    self.featureCount = featureCount
    self.seed = seed
  }
}

/// A data set to load: a source parsed from text such as `"fashion-mnist"` or
/// `"csv:iris.csv"`, and the options that go with it. Encodes as
/// `{"dataset": "fashion-mnist", "options": {…}}`, for trial records.
///
/// ```swift
/// let splits = try DatasetSpec(parsing: "fashion-mnist").load()
///   .prepared(validationFraction: 0.1, seed: 42)
/// // splits.train.count == 54_000, splits.validation?.count == 6_000, splits.test.count == 10_000
/// ```
public struct DatasetSpec: Sendable, Equatable, CustomStringConvertible, Codable {
  /// Where the samples come from.
  public var source: DataSource
  /// How to load them.
  public var options: DatasetOptions

  /// The spec names `parsing` understands, for help texts.
  public static let names = [
    "fashion-mnist", "mnist", "cifar10", "cifar100", "csv:PATH", "spirals", "blobs",
  ]

  /// A spec for `source`.
  public init(_ source: DataSource, options: DatasetOptions = DatasetOptions()) {
    self.source = source
    self.options = options
  }

  /// Parses `"fashion-mnist"`, `"mnist"`, `"cifar10"`, `"cifar100"`, `"csv:PATH"`,
  /// `"spirals"` or `"blobs"` (names ignore case; `-` and `_` are optional).
  public init(parsing text: String, options: DatasetOptions = DatasetOptions()) throws(DataError) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed.lowercased().hasPrefix("csv:") {
      let path = String(trimmed.dropFirst(4))
      guard !path.isEmpty else {
        throw .invalidSpec(text, reason: "csv: needs a file path, as in csv:data.csv")
      }
      self.init(.csv(path: path), options: options)
      return
    }
    let key = trimmed.lowercased().filter { $0 != "-" && $0 != "_" }
    let source: DataSource
    switch key {
    case "fashionmnist": source = .fashionMNIST
    case "mnist": source = .mnist
    case "cifar10": source = .cifar10
    case "cifar100": source = .cifar100
    case "spirals", "spiral": source = .spirals
    case "blobs": source = .blobs
    default:
      throw .invalidSpec(text, reason: "expected one of " + Self.names.joined(separator: ", "))
    }
    self.init(source, options: options)
  }

  enum CodingKeys: String, CodingKey {
    case dataset, options
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let text = try container.decode(String.self, forKey: .dataset)
    let options = try container.decodeIfPresent(DatasetOptions.self, forKey: .options)
    do {
      try self.init(parsing: text, options: options ?? DatasetOptions())
    } catch {
      throw DecodingError.dataCorruptedError(
        forKey: .dataset, in: container, debugDescription: error.description)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(description, forKey: .dataset)
    try container.encode(options, forKey: .options)
  }

  /// The text `init(parsing:)` reads back to this source.
  public var description: String {
    switch source {
    case .fashionMNIST: "fashion-mnist"
    case .mnist: "mnist"
    case .cifar10: "cifar10"
    case .cifar100: "cifar100"
    case .csv(let path): "csv:" + path
    case .spirals: "spirals"
    case .blobs: "blobs"
    }
  }

  /// Whether the source is synthetic (generated from `options.seed`, no files).
  public var isSynthetic: Bool { source == .spirals || source == .blobs }

  /// The folder the source is read from: `options.dataDirectory` or the source's default.
  public var directory: String? {
    if let directory = options.dataDirectory { return directory }
    switch source {
    case .fashionMNIST: return "/usr/share/datasets/fashion-mnist"
    case .mnist: return "/usr/share/datasets/mnist"
    case .cifar10: return "/usr/share/datasets/cifar-10-batches-bin"
    case .cifar100: return "/usr/share/datasets/cifar-100-binary"
    case .csv, .spirals, .blobs: return nil
    }
  }

  /// Reads (or generates) the training and test sets: image pixels scaled to [0, 1] as
  /// `byte / 255`, no validation split, not normalized; see `DataSplits.prepared(…)`.
  ///
  /// - Throws: `DataError` naming the file and position of anything wrong, never returning a
  ///   silently shortened data set.
  public func load() throws(DataError) -> DataSplits {
    switch source {
    case .fashionMNIST:
      return try IDXFormat.loadFolder(directory!, classNames: Self.fashionMNISTClassNames)
    case .mnist:
      return try IDXFormat.loadFolder(directory!, classNames: (0..<10).map(String.init))
    case .cifar10:
      return try CIFARFormat.loadCIFAR10(directory!)
    case .cifar100:
      return try CIFARFormat.loadCIFAR100(directory!)
    case .csv(let path):
      let fraction = options.testFraction
      if options.testFile == nil {
        guard fraction >= 0 && fraction < 1 else {
          throw .invalidOption(
            name: "test fraction", value: "\(fraction)", reason: "must be in [0, 1)")
        }
      }
      return try CSVFormat.load(
        path, testPath: options.testFile, labelColumn: options.labelColumn, testFraction: fraction)
    case .spirals, .blobs:
      return try SyntheticData.load(source, options: options)
    }
  }

  /// Fashion-MNIST's class names, by label.
  public static let fashionMNISTClassNames = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
  ]
}

extension DataSplits {
  /// Holds out a stratified validation set from the training set, computes normalization
  /// statistics from the remaining training samples only, and applies them to every split.
  ///
  /// - Parameters:
  ///   - validationFraction: the share of each class to hold out, in [0, 1); 0 means no
  ///     validation set.
  ///   - seed: chooses which samples are held out.
  ///   - normalization: which statistics to compute (`.automatic`: one scalar for images,
  ///     per feature for tabular data).
  /// Works in place: with no other copy of these splits alive (as in
  /// `try spec.load().prepared()`), no sample is copied except those held out.
  ///
  /// - Precondition: these splits are raw (`normalization` is nil, `validation` is nil).
  public consuming func prepared(
    validationFraction: Double = 0.1, seed: UInt64 = 0,
    normalization kind: NormalizationKind = .automatic
  ) throws(DataError) -> DataSplits {
    precondition(normalization == nil && validation == nil, "prepared(…) expects raw splits")
    guard validationFraction >= 0 && validationFraction < 1 else {
      throw .invalidOption(
        name: "validation fraction", value: "\(validationFraction)", reason: "must be in [0, 1)")
    }
    guard train.count > 0 else {
      throw .tooFewSamples(what: "the training set", count: 0, needed: 1)
    }
    var result = consume self
    if validationFraction > 0 {
      let trainCount = result.train.count
      let heldOut = result.train.removeStratified(fraction: validationFraction, seed: seed)
      guard heldOut.count > 0 else {
        throw .tooFewSamples(
          what: "a validation split of \(validationFraction) of \(trainCount) training samples",
          count: 0, needed: 1)
      }
      result.validation = heldOut
    }
    if let statistics = Normalization.compute(kind, from: result.train) {
      statistics.apply(to: &result.train)
      if result.validation != nil { statistics.apply(to: &result.validation!) }
      statistics.apply(to: &result.test)
      result.normalization = statistics
    }
    return result
  }

  /// Every split normalized with `statistics` (for example read back from a checkpoint's
  /// `input_mean` / `input_std`).
  ///
  /// - Throws: `DataError.invalidOption` when the statistics are per channel and their count
  ///   differs from the samples' channel count.
  public func normalized(with statistics: Normalization) throws(DataError) -> DataSplits {
    let channels = train.sampleShape[0]
    guard statistics.isScalar || statistics.mean.count == channels else {
      throw .invalidOption(
        name: "normalization", value: "\(statistics.mean.count) channel statistics",
        reason: "the samples have \(channels) channels")
    }
    var result = self
    statistics.apply(to: &result.train)
    if result.validation != nil { statistics.apply(to: &result.validation!) }
    statistics.apply(to: &result.test)
    result.normalization = statistics
    return result
  }
}
