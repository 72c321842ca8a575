import Foundation
import Testing

@testable import Datasets

@Suite(.serialized) struct PrefetchTests {
  func loader(prefetch: Int, seed: UInt64 = 21) throws -> BatchLoader {
    try BatchLoader(
      makeData(perClass: [70, 60, 57], shape: [3, 8, 8]), batchSize: 16, seed: seed,
      augmentation: .cropFlip(padding: 4, fill: [-1, 0, 1]), prefetchDepth: prefetch)
  }

  @Test(arguments: [1, 2, 3, 8])
  func backgroundBatchesEqualSynchronousBatches(depth: Int) throws {
    let synchronous = try loader(prefetch: 0)
    let background = try loader(prefetch: depth)
    for epoch in 0..<3 {
      let expected = (0..<synchronous.batchesPerEpoch).map { synchronous.batch($0, epoch: epoch) }
      #expect(Array(background.batches(epoch: epoch)) == expected)
      #expect(Array(synchronous.batches(epoch: epoch)) == expected)
    }
  }

  @Test func slowConsumerGetsTheSameBatches() throws {
    let background = try loader(prefetch: 2)
    var received: [Batch] = []
    for batch in background.batches(epoch: 5) {
      received.append(batch)
      if received.count % 3 == 0 { Thread.sleep(forTimeInterval: 0.002) }
    }
    #expect(received == Array(try loader(prefetch: 0).batches(epoch: 5)))
  }

  @Test func droppingTheIteratorEndsTheThread() throws {
    let background = try loader(prefetch: 2)
    for taken in [0, 1, 2, 5] {
      var iterator: BatchIterator? = background.batches(epoch: taken).makeIterator()
      let queue = try #require(iterator?.queue)
      for _ in 0..<taken { _ = iterator?.next() }
      // Give the producer time to fill the queue and block on it.
      Thread.sleep(forTimeInterval: 0.01)
      #expect(!queue.hasFinished)
      iterator = nil  // what leaving a for-in loop early does
      #expect(queue.hasFinished)
    }
  }

  @Test func cancelEndsTheThreadAndTheIteration() throws {
    let iterator = try loader(prefetch: 2).batches(epoch: 1).makeIterator()
    #expect(iterator.next() != nil)
    iterator.cancel()
    #expect(try #require(iterator.queue).hasFinished)
    #expect(iterator.next() == nil)
    iterator.cancel()  // twice is harmless
  }

  @Test func finishedIterationEndsTheThread() throws {
    let iterator = try loader(prefetch: 3).batches(epoch: 1).makeIterator()
    var count = 0
    while iterator.next() != nil { count += 1 }
    #expect(count == 12)
    #expect(try #require(iterator.queue).hasFinished)
  }

  @Test func startingPastTheEndGivesNothing() throws {
    let background = try loader(prefetch: 2)
    #expect(Array(background.batches(epoch: 0, startingAt: 1000)).isEmpty)
  }
}
