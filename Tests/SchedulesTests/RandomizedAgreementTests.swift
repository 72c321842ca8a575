import Foundation
import Testing

@testable import Schedules

/// Randomized arguments: every policy against the transcription of its library's code in
/// `LibraryFormulas.swift`, to the agreement of 1e-6 relative or 1e-9 absolute.
@Suite("Policies agree with their libraries on random arguments")
struct RandomizedAgreementTests {
  static let seeds: [UInt64] = Array(1...40)

  @Test(arguments: seeds) func pytorchOneCycle(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let totalSteps = Int.random(in: 1...600, using: &rng)
    let maxLR = rng.logUniform(1e-4, 10)
    let pctStart = Double.random(in: 0.01...0.99, using: &rng)
    let cosine = Bool.random(using: &rng)
    let divFactor = rng.logUniform(1, 100)
    let finalDivFactor = rng.logUniform(1, 1e5)
    let threePhase = Bool.random(using: &rng)
    let baseMomentum = Double.random(in: 0.5...0.9, using: &rng)
    let maxMomentum = Double.random(in: baseMomentum...0.999, using: &rng)
    // PyTorch divides by zero when a phase has no length; such draws are not comparable.
    let peak = pctStart * Double(totalSteps) - 1
    guard peak != 0, 2 * pctStart * Double(totalSteps) - 2 != Double(totalSteps) - 1 else {
      return
    }

    let policy = OneCycle(
      maxLearningRate: maxLR, pctStart: pctStart, annealing: cosine ? .cosine : .linear,
      divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase,
      baseMomentum: baseMomentum, maxMomentum: maxMomentum)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: totalSteps)
    let expected = LibraryFormulas.oneCycleLR(
      maxLR: maxLR, totalSteps: totalSteps, pctStart: pctStart, cosine: cosine,
      divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase,
      baseMomentum: baseMomentum, maxMomentum: maxMomentum)
    expectClose(schedule.rates, expected.rates, "seed \(seed) lr")
    expectClose(schedule.momenta, expected.momenta, "seed \(seed) momentum")
  }

  @Test(arguments: seeds) func pytorchCyclic(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let baseLR = rng.logUniform(1e-5, 1)
    let maxLR = baseLR * rng.logUniform(1, 100)
    let up = Int.random(in: 1...50, using: &rng)
    let down = Int.random(in: 1...50, using: &rng)
    let mode = CyclicRate.Mode.allCases.randomElement(using: &rng)!
    let gamma = Double.random(in: 0.9...1, using: &rng)
    let baseMomentum = Double.random(in: 0.5...0.9, using: &rng)
    let maxMomentum = Double.random(in: baseMomentum...0.999, using: &rng)
    let totalSteps = Int.random(in: 1...500, using: &rng)

    let policy = CyclicRate(
      baseLearningRate: baseLR, maxLearningRate: maxLR, stepSizeUp: up, stepSizeDown: down,
      mode: mode, gamma: gamma, baseMomentum: baseMomentum, maxMomentum: maxMomentum)
    let schedule = try Schedule(.cyclic(policy), totalSteps: totalSteps)
    let expected = LibraryFormulas.cyclicLR(
      baseLR: baseLR, maxLR: maxLR, stepSizeUp: up, stepSizeDown: down, mode: mode.rawValue,
      gamma: gamma, baseMomentum: baseMomentum, maxMomentum: maxMomentum, totalSteps: totalSteps)
    expectClose(schedule.rates, expected.rates, "seed \(seed) \(mode) lr")
    expectClose(schedule.momenta, expected.momenta, "seed \(seed) \(mode) momentum")
  }

  @Test(arguments: seeds) func pytorchDecays(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let lr = rng.logUniform(1e-4, 1)
    let gamma = Double.random(in: 0.05...1, using: &rng)
    let totalSteps = Int.random(in: 1...400, using: &rng)

    let stepSize = Int.random(in: 1...60, using: &rng)
    let step = try Schedule(
      .step(StepDecay(learningRate: lr, stepSize: stepSize, gamma: gamma)), totalSteps: totalSteps)
    expectClose(
      step.rates,
      LibraryFormulas.stepLR(lr: lr, stepSize: stepSize, gamma: gamma, totalSteps: totalSteps),
      "seed \(seed) StepLR")

    let milestones = (0..<Int.random(in: 0...5, using: &rng)).map { _ in
      Int.random(in: 0...totalSteps, using: &rng)
    }
    let multiStep = try Schedule(
      .multiStep(MultiStepDecay(learningRate: lr, milestones: milestones, gamma: gamma)),
      totalSteps: totalSteps)
    expectClose(
      multiStep.rates,
      LibraryFormulas.multiStepLR(
        lr: lr, milestones: milestones, gamma: gamma, totalSteps: totalSteps),
      "seed \(seed) MultiStepLR \(milestones)")

    let exponentialGamma = Double.random(in: 0.95...1, using: &rng)
    let exponential = try Schedule(
      .exponential(ExponentialDecay(learningRate: lr, gamma: exponentialGamma)),
      totalSteps: totalSteps)
    expectClose(
      exponential.rates,
      LibraryFormulas.exponentialLR(lr: lr, gamma: exponentialGamma, totalSteps: totalSteps),
      "seed \(seed) ExponentialLR")
  }

  @Test(arguments: seeds) func pytorchCosines(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let lr = rng.logUniform(1e-4, 1)
    let etaMin = Bool.random(using: &rng) ? 0 : lr * rng.logUniform(1e-4, 0.5)
    let totalSteps = Int.random(in: 1...400, using: &rng)

    let tMax = Int.random(in: 1...totalSteps, using: &rng)
    let cosine = try Schedule(
      .cosine(CosineAnnealing(learningRate: lr, tMax: tMax, etaMin: etaMin)),
      totalSteps: totalSteps)
    expectClose(
      cosine.rates,
      LibraryFormulas.cosineAnnealingLR(
        lr: lr, tMax: tMax, etaMin: etaMin, totalSteps: totalSteps),
      "seed \(seed) CosineAnnealingLR T_max \(tMax)")

    let t0 = Int.random(in: 1...40, using: &rng)
    let tMult = Int.random(in: 1...3, using: &rng)
    let restarts = try Schedule(
      .warmRestarts(CosineWarmRestarts(learningRate: lr, t0: t0, tMult: tMult, etaMin: etaMin)),
      totalSteps: totalSteps)
    expectClose(
      restarts.rates,
      LibraryFormulas.warmRestarts(
        lr: lr, t0: t0, tMult: tMult, etaMin: etaMin, totalSteps: totalSteps),
      "seed \(seed) CosineAnnealingWarmRestarts T_0 \(t0) T_mult \(tMult)")
  }

  /// `LinearLR` alone, and chained as a warm-up before `CosineAnnealingLR` the way
  /// `SequentialLR` runs them: `LinearLR` for the first W steps, then the next scheduler from
  /// its own step 0.
  @Test(arguments: seeds) func pytorchLinearAndWarmup(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let lr = rng.logUniform(1e-4, 1)
    let totalSteps = Int.random(in: 2...300, using: &rng)
    let startFactor = Double.random(in: 0.01...1, using: &rng)
    let endFactor = Double.random(in: 0...1, using: &rng)
    let totalIters = Int.random(in: 1...totalSteps, using: &rng)
    let linear = try Schedule(
      .linear(
        LinearRamp(
          learningRate: lr, startFactor: startFactor, endFactor: endFactor,
          totalIters: totalIters)), totalSteps: totalSteps)
    expectClose(
      linear.rates,
      LibraryFormulas.linearLR(
        lr: lr, startFactor: startFactor, endFactor: endFactor, totalIters: totalIters,
        totalSteps: totalSteps),
      "seed \(seed) LinearLR")

    let warmupSteps = Int.random(in: 1..<totalSteps, using: &rng)
    let rest = totalSteps - warmupSteps
    let warmup = try Schedule(
      .warmup(
        Warmup(
          steps: warmupSteps, startFactor: startFactor,
          then: .cosine(CosineAnnealing(learningRate: lr, tMax: rest)))), totalSteps: totalSteps)
    let expected =
      Array(
        LibraryFormulas.linearLR(
          lr: lr, startFactor: startFactor, endFactor: 1, totalIters: warmupSteps,
          totalSteps: warmupSteps))
      + LibraryFormulas.cosineAnnealingLR(lr: lr, tMax: rest, etaMin: 0, totalSteps: rest)
    expectClose(warmup.rates, expected, "seed \(seed) SequentialLR(LinearLR, CosineAnnealingLR)")
  }

  @Test(arguments: seeds) func fastaiOneCycle(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let epochs = Int.random(in: 1...12, using: &rng)
    let batches = Int.random(in: 1...60, using: &rng)
    let maxLR = rng.logUniform(1e-4, 10)
    let pctStart = Double.random(in: 0.05...0.95, using: &rng)
    let div = rng.logUniform(1, 100)
    let divFinal = rng.logUniform(10, 1e6)
    let baseMomentum = Double.random(in: 0.5...0.9, using: &rng)
    let maxMomentum = Double.random(in: baseMomentum...0.999, using: &rng)

    let policy = OneCycle(
      variant: .fastai, maxLearningRate: maxLR, pctStart: pctStart, divFactor: div,
      finalDivFactor: divFinal, baseMomentum: baseMomentum, maxMomentum: maxMomentum)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: epochs * batches)
    let rates = LibraryFormulas.fit(
      epochs: epochs, batches: batches,
      LibraryFormulas.combinedCos(pctStart, maxLR / div, maxLR, maxLR / divFinal))
    let momenta = LibraryFormulas.fit(
      epochs: epochs, batches: batches,
      LibraryFormulas.combinedCos(pctStart, maxMomentum, baseMomentum, maxMomentum))
    expectClose(schedule.rates, rates, "seed \(seed) fit_one_cycle lr")
    expectClose(schedule.momenta, momenta, "seed \(seed) fit_one_cycle momentum")
  }

  @Test(arguments: seeds) func fastaiFlatCosAndSGDR(seed: UInt64) throws {
    var rng = TestGenerator(seed: seed)
    let batches = Int.random(in: 1...40, using: &rng)
    let lr = rng.logUniform(1e-4, 10)

    let epochs = Int.random(in: 1...12, using: &rng)
    let pctStart = Double.random(in: 0.05...0.95, using: &rng)
    let divFinal = rng.logUniform(10, 1e6)
    let flat = try Schedule(
      .flatCosine(FlatCosine(learningRate: lr, pctStart: pctStart, finalDivFactor: divFinal)),
      totalSteps: epochs * batches)
    expectClose(
      flat.rates,
      LibraryFormulas.fit(
        epochs: epochs, batches: batches,
        LibraryFormulas.combinedCos(pctStart, lr, lr, lr / divFinal)),
      "seed \(seed) fit_flat_cos")

    let cycles = Int.random(in: 1...4, using: &rng)
    let cycleLength = Int.random(in: 1...3, using: &rng)
    let cycleMult = Int.random(in: 2...3, using: &rng)
    let sgdr = SGDR(
      maxLearningRate: lr, cycles: cycles, cycleLength: cycleLength, cycleMult: cycleMult)
    // fastai: n_epoch = cycle_len * (cycle_mult**n_cycles-1)//(cycle_mult-1)
    var power = 1
    for _ in 0..<cycles { power *= cycleMult }
    let nEpoch = cycleLength * (power - 1) / (cycleMult - 1)
    #expect(sgdr.epochs == nEpoch)
    var pcts: [Double] = []
    var multiple = 1
    for _ in 0..<cycles {
      pcts.append(Double(cycleLength * multiple) / Double(nEpoch))
      multiple *= cycleMult
    }
    let schedule = try Schedule(.sgdr(sgdr), totalSteps: nEpoch * batches)
    expectClose(
      schedule.rates,
      LibraryFormulas.fit(
        epochs: nEpoch, batches: batches,
        LibraryFormulas.combineScheds(
          pcts, Array(repeating: { LibraryFormulas.schedCos(lr, 0, $0) }, count: cycles))),
      "seed \(seed) fit_sgdr")
  }
}
