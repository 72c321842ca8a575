import Datasets
import Foundation
import NeuralNetworks
import Testing
import Training

/// The built-in engine behind the session protocol: it learns, it is a function of its seed,
/// it uses the hyper-parameters it is given, and its regularization acts in training only.
@Suite struct EngineSessionTests {
  @Test(arguments: OptimizerKind.allCases)
  func lossFallsAndBlobsAreLearned(optimizer: OptimizerKind) throws {
    let splits = try Fixtures.blobs()
    let session = try Fixtures.session(
      .mlp, on: splits, optimizer: optimizer, batchSize: 30, seed: 1)
    let before = session.evaluate(.validation, maxBatches: nil)
    let losses = Fixtures.train(
      session, steps: 48, optimizer == .sgd ? Fixtures.sgd : Fixtures.adamw)
    let after = session.evaluate(.validation, maxBatches: nil)

    #expect(losses.areFinite)
    // Three classes: an untrained network's first loss is near ln 3 ≈ 1.10. The blobs are
    // nearly separable (centres about 5 apart, unit noise), so eight epochs bring it far below.
    #expect(abs(losses[0] - log(3)) < 0.3, "first loss \(losses[0])")
    #expect(losses.suffix(6).mean < 0.1 * losses[0], "last losses \(losses.suffix(6))")
    #expect(after.loss < 0.1 * before.loss, "validation loss \(before.loss) → \(after.loss)")
    #expect((after.accuracy ?? 0) > 0.95, "validation accuracy \(after.accuracy)")
    #expect(after.samples == 60)
  }

  @Test func stepsAndEpochsCountThroughTheSeededStream() throws {
    let session = try Fixtures.session(.mlp, on: Fixtures.blobs(), batchSize: 40, seed: 1)
    // 180 training samples in batches of 40: four full batches and one of 20.
    #expect(session.stepsPerEpoch == 5)
    #expect(session.stepsTaken == 0 && session.epoch == 0)
    _ = Fixtures.train(session, steps: 12)
    #expect(session.stepsTaken == 12)
    #expect(session.epoch == 2)
  }

  /// Two sessions built from one seed take bit-identical steps: initial weights, shuffles,
  /// augmentation crops and flips and dropout masks all come from it. Another seed differs.
  @Test func sameSeedGivesBitIdenticalLosses() throws {
    let splits = try Fixtures.bars()
    let augmentation = try Fixtures.cropFlip(for: splits)
    func losses(seed: UInt64) throws -> (losses: [Double], weights: [String: [UInt32]]) {
      let session = try Fixtures.session(
        .cnn, on: splits, batchSize: 16, dropout: 0.25, augmentation: augmentation, seed: seed)
      let losses = Fixtures.train(session, steps: 15)  // two and a half epochs
      return (losses, Fixtures.bits(of: session.model))
    }
    let first = try losses(seed: 5)
    let second = try losses(seed: 5)
    let other = try losses(seed: 6)
    #expect(first.losses.areFinite)
    #expect(first.losses.bits == second.losses.bits)
    #expect(first.weights == second.weights)
    #expect(first.losses.bits != other.losses.bits)
  }

  /// The step sets the optimizer's hyper-parameters to the ones given; with a learning rate of
  /// 0 no weight moves (SGD's L2 term and AdamW's decoupled decay both scale with it).
  @Test(arguments: OptimizerKind.allCases)
  func stepUsesTheHyperParametersGiven(optimizer: OptimizerKind) throws {
    let session = try Fixtures.session(
      .mlp, on: Fixtures.blobs(), optimizer: optimizer, batchSize: 30, seed: 2)
    let initial = Fixtures.bits(of: session.model)
    let still = HyperParameters(learningRate: 0, momentum: 0.8, weightDecay: 0.1)
    let loss = session.step(still)
    #expect(loss.isFinite)
    #expect(session.stepsTaken == 1)
    #expect(session.optimizer.learningRate == 0)
    #expect(session.optimizer.momentum == 0.8)
    #expect(session.optimizer.weightDecay == 0.1)
    #expect(Fixtures.bits(of: session.model) == initial)

    let moving = HyperParameters(learningRate: 0.01, momentum: 0.85, weightDecay: 1e-4)
    _ = session.step(moving)
    #expect(session.optimizer.learningRate == 0.01)
    #expect(session.optimizer.momentum == 0.85)
    #expect(session.optimizer.weightDecay == 1e-4)
    #expect(Fixtures.bits(of: session.model) != initial)
  }

  /// A step whose loss is NaN or infinite reports it and leaves the weights as they were (no
  /// backward pass, no update), so a range test can stop on a model that is still readable.
  @Test func divergedStepReportsItsLossAndSkipsTheUpdate() throws {
    let session = try Fixtures.session(.mlp, on: Fixtures.blobs(), batchSize: 30, seed: 3)
    let huge = HyperParameters(learningRate: 1e30, momentum: 0, weightDecay: 0)
    var loss = 0.0
    var weights = Fixtures.bits(of: session.model)
    var steps = 0
    while steps < 10 {
      weights = Fixtures.bits(of: session.model)
      loss = session.step(huge)
      steps += 1
      if !loss.isFinite { break }
    }
    #expect(!loss.isFinite, "a learning rate of 1e30 should diverge within 10 steps")
    #expect(session.stepsTaken == steps)
    #expect(Fixtures.bits(of: session.model) == weights)
  }

  /// Evaluation reads the split asked for in evaluation mode, at most `maxBatches` batches,
  /// and changes nothing: a session that evaluates between steps trains exactly as one that
  /// does not, dropout masks included.
  @Test func evaluationReadsTheSplitAndChangesNothing() throws {
    let splits = try Fixtures.blobs()
    let a = try Fixtures.session(.mlp, on: splits, batchSize: 30, dropout: 0.5, seed: 4)
    let b = try Fixtures.session(.mlp, on: splits, batchSize: 30, dropout: 0.5, seed: 4)
    #expect(a.validationSplitName == "validation")

    var lossesA: [Double] = []
    for _ in 0..<3 {
      lossesA += Fixtures.train(a, steps: 4)
      let validation = a.evaluate(.validation, maxBatches: nil)
      #expect(validation.samples == 60)
      #expect(a.evaluate(.test, maxBatches: nil).samples == 60)
      // Batches of 64: one batch is 64 of the 180 training samples.
      #expect(a.evaluate(.train, maxBatches: 1).samples == 64)
      #expect(a.evaluate(.train, maxBatches: nil).samples == 180)
      // Twice the same: no dropout and no state change in evaluation.
      #expect(a.evaluate(.validation, maxBatches: nil) == validation)
      #expect(a.model.isTraining)
    }
    let lossesB = Fixtures.train(b, steps: 12)
    #expect(lossesA.bits == lossesB.bits)
    #expect(Fixtures.bits(of: a.model) == Fixtures.bits(of: b.model))
    #expect(a.model.dropoutLayers.map(\.generator) == b.model.dropoutLayers.map(\.generator))
  }

  /// Without a validation split (`--validation-split 0`) `.validation` reads the test split.
  @Test func withoutAValidationSplitValidationReadsTheTestSplit() throws {
    let splits = try Fixtures.bars()
    #expect(splits.validation == nil)
    let session = try Fixtures.session(.cnn, on: splits, batchSize: 16, seed: 1)
    _ = Fixtures.train(session, steps: 3)
    #expect(session.validationSplitName == "test")
    #expect(
      session.evaluate(.validation, maxBatches: nil) == session.evaluate(.test, maxBatches: nil))
    #expect(session.evaluate(.validation, maxBatches: nil).samples == 30)
  }

  /// Dropout acts on training steps only: a model built with dropout has the same weights as
  /// one without (its layer holds none) and evaluates identically, but its first training
  /// loss differs, and its mask generator advances.
  @Test func dropoutActsInTrainingOnly() throws {
    let splits = try Fixtures.blobs()
    let plain = try Fixtures.session(.mlp, on: splits, batchSize: 30, seed: 8)
    let dropped = try Fixtures.session(.mlp, on: splits, batchSize: 30, dropout: 0.5, seed: 8)
    #expect(plain.model.dropoutLayers.isEmpty)
    #expect(dropped.model.dropoutLayers.map(\.probability) == [0.5])
    #expect(Fixtures.bits(of: plain.model) == Fixtures.bits(of: dropped.model))
    #expect(plain.evaluate(.train, maxBatches: nil) == dropped.evaluate(.train, maxBatches: nil))

    let generator = dropped.model.dropoutLayers[0].generator
    let step = HyperParameters(learningRate: 0, momentum: 0, weightDecay: 0)
    #expect(plain.step(step) != dropped.step(step))
    #expect(dropped.model.dropoutLayers[0].generator != generator)
  }

  /// Augmentation changes the training batches only: with crop-flip the first training loss
  /// differs from the plain session's (same weights, same shuffle), evaluation does not.
  @Test func augmentationActsOnTrainingBatchesOnly() throws {
    let splits = try Fixtures.bars()
    let plain = try Fixtures.session(.cnn, on: splits, batchSize: 16, seed: 9)
    let augmented = try Fixtures.session(
      .cnn, on: splits, batchSize: 16, augmentation: Fixtures.cropFlip(for: splits), seed: 9)
    #expect(try augmented.loader.augmentation == Fixtures.cropFlip(for: splits))
    #expect(plain.evaluate(.train, maxBatches: nil) == augmented.evaluate(.train, maxBatches: nil))
    let step = HyperParameters(learningRate: 0, momentum: 0, weightDecay: 0)
    let plainLosses = Fixtures.train(plain, steps: 3, step)
    let augmentedLosses = Fixtures.train(augmented, steps: 3, step)
    #expect(zip(plainLosses, augmentedLosses).allSatisfy { $0 != $1 })
    // Learning rate 0 moved no weight, but batch norm's running statistics saw different
    // batches; evaluation on the same data now differs, as it should.
    #expect(plain.evaluate(.train, maxBatches: nil) != augmented.evaluate(.train, maxBatches: nil))
  }
}
