import Randomness

/// One mini-batch: `count` samples' features, N × C × H × W contiguous, and their labels.
public struct Batch: Sendable, Equatable {
  /// The samples' values, `shape` = [N, C, H, W], contiguous.
  public var inputs: [Float]
  /// One label per sample.
  public var labels: [Int32]
  /// The number of samples, N.
  public var count: Int
  /// [N, C, H, W].
  public var shape: [Int]
}

/// Cuts a split into mini-batches: reshuffled each epoch, optionally augmented, prepared on a
/// background thread.
///
/// Everything random is a function of `seed`, the epoch and the batch index alone: epoch `e`'s
/// order comes from a generator derived from `seed` and `e`, and batch `k`'s augmentation from
/// one derived from `seed`, `e` and `k`. So batches are bit-for-bit the same whatever the
/// thread timing, and resuming at batch `k` of epoch `e` gives the batches an uninterrupted run
/// would have seen.
///
/// ```swift
/// let loader = try BatchLoader(splits.train, batchSize: 128, seed: 42, augmentation: .none)
/// for epoch in 0..<epochs {
///   for batch in loader.batches(epoch: epoch) { /* batch.inputs, batch.labels, batch.shape */ }
/// }
/// ```
public struct BatchLoader: Sendable {
  /// The samples batched.
  public let data: LabeledData
  /// Samples per batch (the last batch of an epoch may hold fewer).
  public let batchSize: Int
  /// Whether each epoch visits the samples in a fresh random order.
  public let shuffles: Bool
  /// Whether an epoch's last batch is dropped when it has fewer than `batchSize` samples.
  public let dropsLastPartialBatch: Bool
  /// Applied to training batches.
  public let augmentation: Augmentation
  /// The seed of the shuffles and augmentations.
  public let seed: UInt64
  /// How many batches the background thread may prepare ahead (0: prepare on the caller's
  /// thread).
  public let prefetchDepth: Int

  /// A loader over `data`.
  ///
  /// - Throws: `DataError.invalidOption` for a batch size below 1 or a negative prefetch depth.
  public init(
    _ data: LabeledData, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
    dropLast: Bool = false, augmentation: Augmentation = .none, prefetchDepth: Int = 2
  ) throws(DataError) {
    guard batchSize >= 1 else {
      throw .invalidOption(name: "batch size", value: "\(batchSize)", reason: "must be at least 1")
    }
    guard prefetchDepth >= 0 else {
      throw .invalidOption(
        name: "prefetch depth", value: "\(prefetchDepth)", reason: "must not be negative")
    }
    self.data = data
    self.batchSize = batchSize
    self.shuffles = shuffle
    self.dropsLastPartialBatch = dropLast
    self.augmentation = augmentation
    self.seed = seed
    self.prefetchDepth = prefetchDepth
  }

  /// A loader for evaluation: the samples in their stored order, no augmentation, every
  /// sample in some batch.
  public static func inOrder(_ data: LabeledData, batchSize: Int, prefetchDepth: Int = 2)
    throws(DataError) -> BatchLoader
  {
    try BatchLoader(data, batchSize: batchSize, shuffle: false, prefetchDepth: prefetchDepth)
  }

  /// Batches in each epoch.
  public var batchesPerEpoch: Int {
    dropsLastPartialBatch ? data.count / batchSize : (data.count + batchSize - 1) / batchSize
  }

  /// Samples in each epoch (fewer than `data.count` when the last partial batch is dropped).
  public var samplesPerEpoch: Int {
    dropsLastPartialBatch ? batchesPerEpoch * batchSize : data.count
  }

  /// The order in which epoch `epoch` visits the samples' indices.
  public func order(epoch: Int) -> [Int] {
    guard shuffles else { return Array(0..<data.count) }
    var generator = SeededGenerator(seed: seed).derived(stream: UInt64(truncatingIfNeeded: epoch))
    return Shuffling.permutation(data.count, using: &generator)
  }

  /// Batch `index` of epoch `epoch`, prepared on the calling thread.
  ///
  /// - Precondition: `0 ≤ index < batchesPerEpoch`.
  public func batch(_ index: Int, epoch: Int) -> Batch {
    precondition(
      index >= 0 && index < batchesPerEpoch, "batch \(index) outside 0..<\(batchesPerEpoch)")
    return makeBatch(index, epoch: epoch, order: order(epoch: epoch))
  }

  /// The batches of epoch `epoch` from batch `first` on, prepared `prefetchDepth` ahead on a
  /// background thread. Stopping early (leaving the loop, dropping the iterator) stops the
  /// thread; `first` past the end gives no batches.
  public func batches(epoch: Int, startingAt first: Int = 0) -> EpochBatches {
    EpochBatches(loader: self, epoch: epoch, first: max(0, first))
  }

  /// Assembles batch `index` of an epoch that visits samples in `order`.
  func makeBatch(_ index: Int, epoch: Int, order: [Int]) -> Batch {
    let start = index * batchSize
    let end = min(start + batchSize, order.count)
    let count = end - start
    let size = data.sampleSize
    var inputs = [Float](repeating: 0, count: count * size)
    var labels = [Int32](repeating: 0, count: count)
    data.features.withUnsafeBufferPointer { source in
      inputs.withUnsafeMutableBufferPointer { destination in
        for row in 0..<count {
          let sample = order[start + row]
          (destination.baseAddress! + row * size).update(
            from: source.baseAddress! + sample * size, count: size)
          labels[row] = data.labels[sample]
        }
      }
    }
    if augmentation != .none {
      var generator = SeededGenerator(seed: seed ^ 0xA5A5_5A5A_C3C3_3C3C)
        .derived(stream: UInt64(truncatingIfNeeded: epoch))
        .derived(stream: UInt64(index))
      augmentation.apply(to: &inputs, count: count, shape: data.sampleShape, using: &generator)
    }
    return Batch(inputs: inputs, labels: labels, count: count, shape: [count] + data.sampleShape)
  }
}
