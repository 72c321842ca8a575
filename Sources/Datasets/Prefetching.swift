import Foundation

/// The batches of one epoch, from some batch on; iterating prepares them on a background
/// thread (see `BatchLoader.batches(epoch:startingAt:)`).
public struct EpochBatches: Sequence, Sendable {
  let loader: BatchLoader
  let epoch: Int
  let first: Int

  /// The number of batches the sequence yields.
  public var underestimatedCount: Int { Swift.max(0, loader.batchesPerEpoch - first) }

  /// An iterator that starts its producer thread at once (or none when `prefetchDepth` is 0).
  public func makeIterator() -> BatchIterator {
    BatchIterator(
      loader: loader, epoch: epoch, range: first..<Swift.max(first, loader.batchesPerEpoch))
  }
}

/// Hands out the batches a background thread prepares, at most `prefetchDepth` ahead.
///
/// Dropping the iterator, or calling `cancel()`, stops the thread and waits for it to end, so
/// a consumer that leaves early leaks nothing.
public final class BatchIterator: IteratorProtocol {
  let queue: BatchQueue?
  private let loader: BatchLoader
  private let epoch: Int
  private var position: Int
  private let end: Int
  private var order: [Int]?

  init(loader: BatchLoader, epoch: Int, range: Range<Int>) {
    self.loader = loader
    self.epoch = epoch
    self.position = range.lowerBound
    self.end = range.upperBound
    if loader.prefetchDepth > 0 && !range.isEmpty {
      let queue = BatchQueue(capacity: loader.prefetchDepth)
      self.queue = queue
      queue.start { (deliver: (Batch) -> Bool) in
        let order = loader.order(epoch: epoch)
        for index in range {
          if !deliver(loader.makeBatch(index, epoch: epoch, order: order)) { return }
        }
      }
    } else {
      self.queue = nil
    }
  }

  /// The next batch, waiting for the background thread if it is behind.
  public func next() -> Batch? {
    if let queue { return queue.take() }
    guard position < end else { return nil }
    if order == nil { order = loader.order(epoch: epoch) }
    defer { position += 1 }
    return loader.makeBatch(position, epoch: epoch, order: order!)
  }

  /// Stops preparing batches and waits for the background thread to end; `next()` then
  /// returns nil.
  public func cancel() {
    if let queue { queue.cancel() } else { position = end }
  }

  deinit { queue?.cancel() }
}

/// A bounded queue between one producer thread and one consumer, guarded by a condition
/// variable; every field is read and written with `condition` locked.
final class BatchQueue: @unchecked Sendable {
  private let condition = NSCondition()
  private let capacity: Int
  private var items: [Batch] = []
  private var head = 0
  private var cancelled = false
  private var finished = false

  init(capacity: Int) { self.capacity = capacity }

  /// Runs `produce` on a new thread; it hands each batch to `deliver`, which blocks while the
  /// queue is full and returns false once the consumer has cancelled.
  func start(_ produce: @escaping @Sendable (_ deliver: (Batch) -> Bool) -> Void) {
    let thread = Thread { [self] in
      produce { batch in put(batch) }
      condition.lock()
      finished = true
      condition.broadcast()
      condition.unlock()
    }
    thread.name = "Datasets.BatchQueue"
    thread.start()
  }

  private func put(_ batch: Batch) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    while items.count - head >= capacity && !cancelled { condition.wait() }
    if cancelled { return false }
    items.append(batch)
    condition.broadcast()
    return true
  }

  /// The oldest prepared batch, waiting for one; nil once the producer has finished (or the
  /// queue was cancelled) and the queue is empty.
  func take() -> Batch? {
    condition.lock()
    defer { condition.unlock() }
    while items.count == head && !finished && !cancelled { condition.wait() }
    guard items.count > head, !cancelled else { return nil }
    let batch = items[head]
    head += 1
    if head == items.count {
      items.removeAll(keepingCapacity: true)
      head = 0
    }
    condition.broadcast()
    return batch
  }

  /// Whether the producer thread has ended.
  var hasFinished: Bool {
    condition.lock()
    defer { condition.unlock() }
    return finished
  }

  /// Tells the producer to stop and waits until its thread has ended.
  func cancel() {
    condition.lock()
    defer { condition.unlock() }
    cancelled = true
    items.removeAll()
    head = 0
    condition.broadcast()
    while !finished { condition.wait() }
  }
}
