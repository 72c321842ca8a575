import Datasets
import Foundation
import NeuralNetworks
import Optimizers
import Randomness
import Tensors

/// Which optimizer a session trains with.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
  case sgd, adamw
}

/// A training run of the built-in engine: a model, its optimizer, and a seeded stream of
/// training batches (epoch e's order is fixed by the seed and e, so a position is just a step
/// count).
public final class EngineSession: TrainingSession {
  public let model: Module
  public let optimizer: any Optimizer
  public let splits: DataSplits
  public let loader: BatchLoader
  public let evaluationBatchSize: Int
  public private(set) var stepsTaken = 0
  /// When set, every step and evaluation advances it (time counted from the work done).
  public var workClock: WorkClock?
  private var iterator: BatchIterator?
  private var iteratorEpoch = -1

  /// A session over prepared (split and normalized) data.
  public init(
    model: Module, optimizer: OptimizerKind, nesterov: Bool = false, splits: DataSplits,
    batchSize: Int,
    augmentation: Augmentation = .none, seed: UInt64, evaluationBatchSize: Int = 1000
  ) throws(DataError) {
    self.model = model
    switch optimizer {
    case .sgd:
      self.optimizer = SGD(
        parameters: model.parameters, learningRate: 0.01, momentum: 0.9, nesterov: nesterov)
    case .adamw:
      self.optimizer = AdamW(parameters: model.parameters, learningRate: 0.001)
    }
    self.splits = splits
    loader = try BatchLoader(
      splits.train, batchSize: batchSize, shuffle: true, seed: seed, augmentation: augmentation)
    self.evaluationBatchSize = evaluationBatchSize
  }

  deinit { iterator?.cancel() }

  public var stepsPerEpoch: Int { loader.batchesPerEpoch }

  /// What `evaluate(.validation)` reads: the validation split, or the test split when the
  /// run holds none out (`--validation-split 0`, as the PyTorch reference run).
  public var validationSplitName: String { splits.validation == nil ? "test" : "validation" }
  public var epoch: Int { stepsTaken / stepsPerEpoch }

  /// The next batch in the seeded stream, prefetched on a background thread.
  private func nextBatch() -> Batch {
    let epoch = stepsTaken / stepsPerEpoch
    let index = stepsTaken % stepsPerEpoch
    if iterator == nil || iteratorEpoch != epoch {
      iterator?.cancel()
      iterator = loader.batches(epoch: epoch, startingAt: index).makeIterator()
      iteratorEpoch = epoch
    }
    guard let batch = iterator?.next() else {
      preconditionFailure(
        "batch \(index) of epoch \(epoch) missing: the loader has \(stepsPerEpoch) per epoch")
    }
    return batch
  }

  public func step(_ h: HyperParameters) -> Double {
    optimizer.learningRate = h.learningRate
    optimizer.momentum = h.momentum
    optimizer.weightDecay = h.weightDecay
    let batch = nextBatch()
    stepsTaken += 1
    workClock?.trained(samples: batch.labels.count)
    optimizer.zeroGradients()
    let loss = model(Tensor(batch: batch)).crossEntropy(labels: batch.labels)
    let value = Double(loss.scalar)
    guard value.isFinite else { return value }
    loss.backward()
    optimizer.step()
    return value
  }

  public func evaluate(_ split: DataSplit, maxBatches: Int? = nil) -> Evaluation {
    let data: LabeledData
    switch split {
    case .train: data = splits.train
    case .validation: data = splits.validation ?? splits.test
    case .test: data = splits.test
    }
    let e = Self.evaluate(model, on: data, batchSize: evaluationBatchSize, maxBatches: maxBatches)
    workClock?.evaluated(samples: e.samples)
    return e
  }

  /// Mean loss and accuracy of `model` on `data`, in evaluation mode.
  public static func evaluate(
    _ model: Module, on data: LabeledData, batchSize: Int = 1000, maxBatches: Int? = nil
  ) -> Evaluation {
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    guard data.count > 0, let loader = try? BatchLoader.inOrder(data, batchSize: batchSize) else {
      return Evaluation(loss: .nan, accuracy: .nan, samples: 0)
    }
    var totalLoss = 0.0
    var correct = 0
    var seen = 0
    withoutGradients {
      for (i, batch) in loader.batches(epoch: 0).enumerated() {
        if let maxBatches, i >= maxBatches { break }
        let logits = model(Tensor(batch: batch))
        totalLoss += Double(logits.crossEntropy(labels: batch.labels).scalar) * Double(batch.count)
        correct += zip(logits.argmaxRows(), batch.labels).filter { $0 == Int($1) }.count
        seen += batch.count
      }
    }
    return Evaluation(
      loss: totalLoss / Double(seen), accuracy: Double(correct) / Double(seen), samples: seen)
  }

  /// Weights, buffers, optimizer state, dropout generators and position.
  public struct State {
    public var model: ModuleState
    public var optimizer: OptimizerState
    public var generators: [SeededGenerator]
    public var stepsTaken: Int
  }

  public func snapshot() -> State {
    State(
      model: model.snapshot(), optimizer: optimizer.snapshot(),
      generators: model.dropoutLayers.map(\.generator), stepsTaken: stepsTaken)
  }

  public func restore(_ state: State) {
    model.restore(state.model)
    optimizer.restore(state.optimizer)
    for (layer, g) in zip(model.dropoutLayers, state.generators) { layer.generator = g }
    if state.stepsTaken != stepsTaken {
      stepsTaken = state.stepsTaken
      iterator?.cancel()
      iterator = nil
    }
  }
}

extension Tensor {
  /// A batch's inputs as an NCHW tensor (one copy into aligned storage).
  public convenience init(batch: Batch) {
    let storage = Storage(count: batch.inputs.count)
    batch.inputs.withUnsafeBufferPointer {
      storage.pointer.update(from: $0.baseAddress!, count: $0.count)
    }
    self.init(shape: batch.shape, storage: storage)
  }
}
