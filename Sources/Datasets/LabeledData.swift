/// Samples and their class labels, as plain arrays ready to be copied into tensors.
///
/// `features` holds `count` samples one after another, each `sampleShape` = `[C, H, W]`
/// floats in channel-major order (N × C × H × W overall). Tabular data has `C` = the number
/// of features and `H` = `W` = 1.
public struct LabeledData: Sendable, Equatable {
  /// All samples' values, N × C × H × W, contiguous.
  public var features: [Float]
  /// One label per sample, each in `0..<classCount`.
  public var labels: [Int32]
  /// The shape of one sample, `[C, H, W]`.
  public var sampleShape: [Int]
  /// A readable name for each class, indexed by label.
  public var classNames: [String]

  /// Wraps arrays that already agree with each other.
  ///
  /// - Precondition: `sampleShape` has three positive sizes, `features.count` is
  ///   `labels.count` times their product, and every label is in `0..<classNames.count`.
  public init(features: [Float], labels: [Int32], sampleShape: [Int], classNames: [String]) {
    precondition(
      sampleShape.count == 3 && sampleShape.allSatisfy { $0 > 0 },
      "sampleShape must be [C, H, W] with positive sizes, got \(sampleShape)")
    let size = sampleShape.reduce(1, *)
    precondition(
      features.count == labels.count * size,
      "\(features.count) features do not make \(labels.count) samples of shape \(sampleShape)")
    precondition(
      labels.allSatisfy { $0 >= 0 && Int($0) < classNames.count },
      "labels must lie in 0..<\(classNames.count)")
    self.features = features
    self.labels = labels
    self.sampleShape = sampleShape
    self.classNames = classNames
  }

  /// The number of samples.
  public var count: Int { labels.count }

  /// The number of classes (labels lie in `0..<classCount`).
  public var classCount: Int { classNames.count }

  /// The number of floats in one sample, C × H × W.
  public var sampleSize: Int { sampleShape.reduce(1, *) }

  /// How many samples each class has, indexed by label.
  public func classCounts() -> [Int] {
    var counts = [Int](repeating: 0, count: classCount)
    for label in labels { counts[Int(label)] += 1 }
    return counts
  }

  /// The samples at `indices`, in that order.
  ///
  /// - Complexity: O(`indices.count` × `sampleSize`).
  public func subset(_ indices: [Int]) -> LabeledData {
    let size = sampleSize
    var newFeatures = [Float](repeating: 0, count: indices.count * size)
    var newLabels = [Int32](repeating: 0, count: indices.count)
    features.withUnsafeBufferPointer { source in
      newFeatures.withUnsafeMutableBufferPointer { destination in
        for (row, index) in indices.enumerated() {
          precondition(index >= 0 && index < count, "sample index \(index) outside 0..<\(count)")
          let from = source.baseAddress! + index * size
          (destination.baseAddress! + row * size).update(from: from, count: size)
          newLabels[row] = labels[index]
        }
      }
    }
    return LabeledData(
      uncheckedFeatures: newFeatures, labels: newLabels, sampleShape: sampleShape,
      classNames: classNames)
  }

  /// Keeps only the samples at `sortedIndices` (ascending, distinct), moving them forward in
  /// place: no second copy of the features, unlike `subset(_:)`.
  mutating func keepOnly(sortedIndices: [Int]) {
    let size = sampleSize
    features.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      for (row, index) in sortedIndices.enumerated() where row != index {
        (base + row * size).update(from: base + index * size, count: size)
      }
    }
    labels.withUnsafeMutableBufferPointer { buffer in
      for (row, index) in sortedIndices.enumerated() { buffer[row] = buffer[index] }
    }
    features.removeLast(features.count - sortedIndices.count * size)
    labels.removeLast(labels.count - sortedIndices.count)
  }

  /// For loaders that have already checked every label: skips the O(N) label scan.
  init(
    uncheckedFeatures features: [Float], labels: [Int32], sampleShape: [Int], classNames: [String]
  ) {
    self.features = features
    self.labels = labels
    self.sampleShape = sampleShape
    self.classNames = classNames
  }
}

/// A data set's splits: training, optional validation (held out from training), and test,
/// with the normalization applied to all of them, if any.
///
/// `DatasetSpec.load()` returns raw splits (image pixels scaled to [0, 1], no validation set,
/// no normalization); `prepared(validationFraction:seed:normalization:)` finishes them.
public struct DataSplits: Sendable, Equatable {
  /// The samples to train on.
  public var train: LabeledData
  /// Samples held out from training to tune hyper-parameters on, if a fraction was asked for.
  public var validation: LabeledData?
  /// The samples to report final results on.
  public var test: LabeledData
  /// The statistics the features were normalized with (computed from `train` only), if any.
  public var normalization: Normalization?

  /// Bundles splits; `load()` and `prepared(…)` are the usual ways to get one.
  public init(
    train: LabeledData, validation: LabeledData? = nil, test: LabeledData,
    normalization: Normalization? = nil
  ) {
    self.train = train
    self.validation = validation
    self.test = test
    self.normalization = normalization
  }
}
