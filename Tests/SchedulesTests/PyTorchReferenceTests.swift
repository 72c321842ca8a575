import Testing

@testable import Schedules

/// Each expectation here was recorded from PyTorch 2.15.0's own scheduler (see
/// `ReferenceValues.swift` for the exact calls).
@Suite("Schedules equal PyTorch's recorded values")
struct PyTorchReferenceTests {
  @Test func oneCycleDefaults() throws {
    let schedule = try Schedule(.oneCycle(OneCycle(maxLearningRate: 0.1)), totalSteps: 20)
    expectClose(schedule.rates, Reference.oneCycleDefaultRates, "lr")
    expectClose(schedule.momenta, Reference.oneCycleDefaultMomenta, "momentum")
  }

  @Test func oneCycleThreePhaseLinear() throws {
    let policy = OneCycle(
      maxLearningRate: 0.5, pctStart: 0.25, annealing: .linear, divFactor: 10,
      finalDivFactor: 100, threePhase: true, baseMomentum: 0.8, maxMomentum: 0.9)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 17)
    expectClose(schedule.rates, Reference.oneCycleThreePhaseLinearRates, "lr")
    expectClose(schedule.momenta, Reference.oneCycleThreePhaseLinearMomenta, "momentum")
  }

  /// pct_start × total_steps < 1: PyTorch's first phase ends before step 0.
  @Test func oneCycleShorterThanOneStepOfWarmup() throws {
    let policy = OneCycle(maxLearningRate: 1, pctStart: 0.1)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 7)
    expectClose(schedule.rates, Reference.oneCycleShortWarmupRates, "lr")
    expectClose(schedule.momenta, Reference.oneCycleShortWarmupMomenta, "momentum")
  }

  @Test func cyclicTriangular() throws {
    let policy = CyclicRate(baseLearningRate: 0.08, maxLearningRate: 0.8, stepSizeUp: 2)
    let schedule = try Schedule(.cyclic(policy), totalSteps: 11)
    expectClose(schedule.rates, Reference.cyclicTriangularRates, "lr")
    expectClose(schedule.momenta, Reference.cyclicTriangularMomenta, "momentum")
  }

  @Test func cyclicTriangular2() throws {
    let policy = CyclicRate(
      baseLearningRate: 0.01, maxLearningRate: 0.1, stepSizeUp: 3, stepSizeDown: 5,
      mode: .triangular2)
    let schedule = try Schedule(.cyclic(policy), totalSteps: 30)
    expectClose(schedule.rates, Reference.cyclicTriangular2Rates, "lr")
    expectClose(schedule.momenta, Reference.cyclicTriangular2Momenta, "momentum")
  }

  @Test func cyclicExpRange() throws {
    let policy = CyclicRate(
      baseLearningRate: 0.001, maxLearningRate: 0.006, stepSizeUp: 4, mode: .expRange,
      gamma: 0.97, baseMomentum: 0.85, maxMomentum: 0.95)
    let schedule = try Schedule(.cyclic(policy), totalSteps: 25)
    expectClose(schedule.rates, Reference.cyclicExpRangeRates, "lr")
    expectClose(schedule.momenta, Reference.cyclicExpRangeMomenta, "momentum")
  }

  @Test func stepDecay() throws {
    let schedule = try Schedule(
      .step(StepDecay(learningRate: 0.1, stepSize: 3, gamma: 0.5)), totalSteps: 12)
    expectClose(schedule.rates, Reference.stepDecayRates)
    #expect(!schedule.cyclesMomentum)
  }

  @Test func multiStepDecayWithRepeatedMilestone() throws {
    let policy = MultiStepDecay(learningRate: 0.1, milestones: [9, 5, 2, 5], gamma: 0.3)
    let schedule = try Schedule(.multiStep(policy), totalSteps: 12)
    expectClose(schedule.rates, Reference.multiStepDecayRates)
  }

  @Test func exponentialDecay() throws {
    let schedule = try Schedule(
      .exponential(ExponentialDecay(learningRate: 0.1, gamma: 0.9)), totalSteps: 10)
    expectClose(schedule.rates, Reference.exponentialDecayRates)
  }

  /// Runs past T_max, where PyTorch's cosine climbs back up.
  @Test func cosineAnnealingPastTMax() throws {
    let policy = CosineAnnealing(learningRate: 0.1, tMax: 6, etaMin: 0.001)
    let schedule = try Schedule(.cosine(policy), totalSteps: 15)
    expectClose(schedule.rates, Reference.cosineAnnealingRates)
  }

  @Test func warmRestartsGrowing() throws {
    let policy = CosineWarmRestarts(learningRate: 0.1, t0: 3, tMult: 2, etaMin: 0.01)
    let schedule = try Schedule(.warmRestarts(policy), totalSteps: 25)
    expectClose(schedule.rates, Reference.warmRestartsGrowingRates)
  }

  @Test func warmRestartsEqual() throws {
    let schedule = try Schedule(
      .warmRestarts(CosineWarmRestarts(learningRate: 0.1, t0: 4)), totalSteps: 13)
    expectClose(schedule.rates, Reference.warmRestartsEqualRates)
  }

  @Test func linearRamp() throws {
    let policy = LinearRamp(learningRate: 0.1, startFactor: 0.25, endFactor: 0.9, totalIters: 4)
    let schedule = try Schedule(.linear(policy), totalSteps: 8)
    expectClose(schedule.rates, Reference.linearRampRates)
  }

  @Test func warmupThenCosine() throws {
    let policy = Warmup(
      steps: 3, startFactor: 0.1, then: .cosine(CosineAnnealing(learningRate: 0.1, tMax: 7)))
    let schedule = try Schedule(.warmup(policy), totalSteps: 10)
    expectClose(schedule.rates, Reference.warmupCosineRates)
  }

  @Test func warmupThenMultiStepWithMilestoneAtZero() throws {
    let policy = Warmup(
      steps: 3, startFactor: 0.5,
      then: .multiStep(MultiStepDecay(learningRate: 0.1, milestones: [0, 4], gamma: 0.5)))
    let schedule = try Schedule(.warmup(policy), totalSteps: 9)
    expectClose(schedule.rates, Reference.warmupMultiStepRates)
  }

  @Test func warmupThenStep() throws {
    let policy = Warmup(
      steps: 4, then: .step(StepDecay(learningRate: 0.1, stepSize: 2, gamma: 0.5)))
    let schedule = try Schedule(.warmup(policy), totalSteps: 10)
    expectClose(schedule.rates, Reference.warmupStepRates)
  }
}

/// Each expectation here comes from a transcription of fastai's `callback/schedule.py` and of
/// its `pct_train` bookkeeping, run with PyTorch 2.15.0 (see `ReferenceValues.swift`).
@Suite("Schedules equal fastai's values")
struct FastaiReferenceTests {
  @Test func fitOneCycleDefaults() throws {
    let policy = OneCycle(variant: .fastai, maxLearningRate: 0.01)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 25)
    expectClose(schedule.rates, Reference.fastaiOneCycleRates, "lr")
    expectClose(schedule.momenta, Reference.fastaiOneCycleMomenta, "momentum")
  }

  @Test func fitOneCycleCustom() throws {
    let policy = OneCycle(
      variant: .fastai, maxLearningRate: 0.3, pctStart: 0.3, divFactor: 10, finalDivFactor: 1e4,
      baseMomentum: 0.8, maxMomentum: 0.9)
    let schedule = try Schedule(.oneCycle(policy), totalSteps: 28)
    expectClose(schedule.rates, Reference.fastaiOneCycleCustomRates, "lr")
    expectClose(schedule.momenta, Reference.fastaiOneCycleCustomMomenta, "momentum")
  }

  @Test func fitFlatCos() throws {
    let schedule = try Schedule(.flatCosine(FlatCosine(learningRate: 0.02)), totalSteps: 20)
    expectClose(schedule.rates, Reference.fastaiFlatCosRates)
  }

  @Test func fitSGDR() throws {
    let policy = SGDR(maxLearningRate: 0.1, cycles: 3)
    #expect(policy.epochs == 7)
    let schedule = try Schedule(.sgdr(policy), totalSteps: 21)
    expectClose(schedule.rates, Reference.fastaiSGDRRates)
  }
}
