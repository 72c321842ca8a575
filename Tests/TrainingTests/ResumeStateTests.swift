import Datasets
import Foundation
import NeuralNetworks
import Optimizers
import Randomness
import Testing
import Training

/// `snapshot()`/`restore(_:)` and the resume files promise that an interrupted run continues
/// bit for bit as if it had never stopped: weights, batch-norm statistics, optimizer buffers,
/// dropout generators and the position in the seeded (shuffled, augmented) batch stream.
///
/// Every test here trains the cnn on the bar images with dropout and crop-flip, so each of
/// those parts of the state matters, and stops mid-epoch (6 steps per epoch) so the continued
/// run crosses an epoch boundary.
@Suite struct ResumeStateTests {
  let splits: DataSplits
  let augmentation: Augmentation

  init() throws {
    splits = try Fixtures.bars()
    augmentation = try Fixtures.cropFlip(for: splits)
  }

  /// A session over the bars with the loader seeded by 21 and the model by `modelSeed`.
  func session(modelSeed: UInt64 = 21, optimizer: OptimizerKind = .sgd) throws -> EngineSession {
    try Fixtures.session(
      .cnn, on: splits, optimizer: optimizer, batchSize: 16, dropout: 0.25,
      augmentation: augmentation, seed: 21, modelSeed: modelSeed)
  }

  /// Momentum and learning rate change every step, as a one-cycle schedule's would, so a
  /// resumed optimizer holding stale hyper-parameters would show.
  static func hyperParameters(at step: Int) -> HyperParameters {
    HyperParameters(
      learningRate: 0.02 + 0.005 * Double(step % 4), momentum: 0.95 - 0.02 * Double(step % 3),
      weightDecay: 5e-4)
  }

  static func train(_ session: EngineSession, through end: Int) -> [Double] {
    (session.stepsTaken..<end).map { session.step(hyperParameters(at: $0)) }
  }

  /// An uninterrupted run's losses for steps 5..<14 and its final weights.
  func uninterrupted() throws -> (losses: [Double], weights: [String: [UInt32]]) {
    let reference = try session()
    let losses = Self.train(reference, through: 14)
    return (Array(losses[5...]), Fixtures.bits(of: reference.model))
  }

  @Test func restoredSnapshotContinuesAsTheUninterruptedRun() throws {
    let expected = try uninterrupted()

    let original = try session()
    _ = Self.train(original, through: 5)
    let state = original.snapshot()
    #expect(state.stepsTaken == 5)
    #expect(state.generators.count == 1)

    // Into a session whose model was initialized differently: everything comes from the state.
    let fresh = try session(modelSeed: 99)
    fresh.restore(state)
    #expect(fresh.stepsTaken == 5)
    #expect(fresh.epoch == 0)
    let continued = Self.train(fresh, through: 14)
    #expect(continued.bits == expected.losses.bits)
    #expect(Fixtures.bits(of: fresh.model) == expected.weights)
    #expect(fresh.epoch == 2)

    // Back into the original after it ran ahead: the batch stream rewinds too.
    _ = Self.train(original, through: 9)
    original.restore(state)
    #expect(original.stepsTaken == 5)
    #expect(Self.train(original, through: 14).bits == expected.losses.bits)
    #expect(Fixtures.bits(of: original.model) == expected.weights)

    // The dropout generators are part of what makes it exact: the same state with a fresh
    // mask generator continues differently.
    var otherMasks = state
    otherMasks.generators = [SeededGenerator(seed: 1)]
    original.restore(otherMasks)
    #expect(Self.train(original, through: 14).bits != expected.losses.bits)
  }

  @Test func savedResumeStateContinuesAsTheUninterruptedRun() throws {
    let expected = try uninterrupted()
    let folder = try Fixtures.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }

    let original = try session()
    var history = TrainingHistory()
    for (step, loss) in Self.train(original, through: 5).enumerated() {
      let h = Self.hyperParameters(at: step)
      history.steps.append(
        StepRecord(
          step: step + 1, epoch: 0, learningRate: h.learningRate, momentum: h.momentum, loss: loss))
    }
    history.evaluations.append(EvaluationRecord(step: 5, epoch: 5.0 / 6, loss: 0.9, accuracy: 0.5))
    let settings = ["model": "cnn", "dropout": "0.25", "augment": "crop-flip"]

    #expect(!ResumeRecord.exists(in: folder))
    try original.saveResumeState(to: folder, history: history, settings: settings)
    #expect(ResumeRecord.exists(in: folder))
    // The file names the documentation gives (`resume.json`, `resume.safetensors`).
    for name in ["resume.json", "resume.safetensors"] {
      #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path))
    }

    let resumed = try session(modelSeed: 99)
    let record = try resumed.loadResumeState(from: folder)
    #expect(record.stepsTaken == 5)
    #expect(record.history == history)
    #expect(record.settings == settings)
    #expect(resumed.stepsTaken == 5)
    #expect(Fixtures.bits(of: resumed.model) == Fixtures.bits(of: original.model))
    #expect(resumed.optimizer.snapshot() == original.optimizer.snapshot())
    #expect(
      resumed.model.dropoutLayers.map(\.generator) == original.model.dropoutLayers.map(\.generator))

    let continued = Self.train(resumed, through: 14)
    #expect(continued.bits == expected.losses.bits)
    #expect(Fixtures.bits(of: resumed.model) == expected.weights)

    ResumeRecord.remove(from: folder)
    #expect(!ResumeRecord.exists(in: folder))
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
  }

  @Test(arguments: OptimizerKind.allCases)
  func adamWAndSGDStatesBothResumeExactly(optimizer: OptimizerKind) throws {
    let folder = try Fixtures.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let reference = try session(optimizer: optimizer)
    _ = Self.train(reference, through: 4)
    try reference.saveResumeState(to: folder, history: TrainingHistory(), settings: [:])
    let expected = Self.train(reference, through: 8)

    let resumed = try session(modelSeed: 5, optimizer: optimizer)
    _ = try resumed.loadResumeState(from: folder)
    #expect(Self.train(resumed, through: 8).bits == expected.bits)
  }

  /// Weights from one step and `resume.json` from another (a kill between the two writes) are
  /// refused, naming both steps, and the session is left as it was.
  @Test func mismatchedHalvesAreRefused() throws {
    let early = try Fixtures.temporaryFolder()
    let late = try Fixtures.temporaryFolder()
    defer {
      try? FileManager.default.removeItem(at: early)
      try? FileManager.default.removeItem(at: late)
    }
    let original = try session()
    _ = Self.train(original, through: 3)
    try original.saveResumeState(to: early, history: TrainingHistory(), settings: [:])
    _ = Self.train(original, through: 5)
    try original.saveResumeState(to: late, history: TrainingHistory(), settings: [:])
    let json = early.appendingPathComponent("resume.json")
    try FileManager.default.removeItem(at: json)
    try FileManager.default.copyItem(at: late.appendingPathComponent("resume.json"), to: json)

    let target = try session(modelSeed: 7)
    let before = Fixtures.bits(of: target.model)
    let error = #expect(throws: CheckpointError.self) { try target.loadResumeState(from: early) }
    let message = error.map { "\($0)" } ?? ""
    #expect(message.contains("step 3") && message.contains("step 5"), "\(message)")
    #expect(target.stepsTaken == 0)
    #expect(Fixtures.bits(of: target.model) == before)
  }

  /// A state saved by another optimizer or another model is refused before anything is
  /// restored; a folder without a state and an unreadable `resume.json` are errors, not crashes.
  @Test func foreignOrMissingStatesAreRefused() throws {
    let folder = try Fixtures.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    // Nothing saved: the error says so, and is a missing input (exit 66), not a bad file.
    do {
      _ = try session().loadResumeState(from: folder)
      Issue.record("a folder without a saved state was read")
    } catch let error as CheckpointError {
      #expect(error.description.contains("there is no saved state in"), "\(error)")
      #expect(error.exitCode == 66)
    }

    let sgd = try session(optimizer: .sgd)
    _ = Self.train(sgd, through: 2)
    try sgd.saveResumeState(to: folder, history: TrainingHistory(), settings: [:])

    let adamw = try session(optimizer: .adamw)
    let adamwWeights = Fixtures.bits(of: adamw.model)
    #expect(throws: OptimizerStateError.self) { try adamw.loadResumeState(from: folder) }
    #expect(adamw.stepsTaken == 0)
    #expect(Fixtures.bits(of: adamw.model) == adamwWeights)

    // An mlp over the same images: the optimizer state's parameter sizes already differ.
    let mlp = try Fixtures.session(.mlp, on: splits, batchSize: 16, seed: 21)
    let mlpWeights = Fixtures.bits(of: mlp.model)
    #expect(throws: (any Error).self) { try mlp.loadResumeState(from: folder) }
    #expect(mlp.stepsTaken == 0)
    #expect(Fixtures.bits(of: mlp.model) == mlpWeights)

    // A cut-off resume.json is named as what it is, with what was wrong.
    try Data("{\"stepsTaken\": ".utf8).write(to: folder.appendingPathComponent("resume.json"))
    do {
      _ = try session().loadResumeState(from: folder)
      Issue.record("a cut-off resume.json was read")
    } catch let error as CheckpointError {
      #expect(error.description.contains("the saved resume state"), "\(error)")
      #expect(error.description.contains("resume.json cannot be read: not valid JSON"), "\(error)")
      #expect(error.exitCode == 65)
    }
  }
}
