import Foundation
import Testing

@testable import Schedules

/// Defaults, validation and storage of whole schedules.
@Suite("Schedule values, defaults, errors and coding")
struct ScheduleTests {
  @Test func variantDefaults() {
    let pytorch = OneCycle(maxLearningRate: 1)
    #expect(pytorch.variant == .pytorch && pytorch.pctStart == 0.3 && pytorch.annealing == .cosine)
    #expect(pytorch.divFactor == 25 && pytorch.finalDivFactor == 1e4 && !pytorch.threePhase)
    #expect(pytorch.baseMomentum == 0.85 && pytorch.maxMomentum == 0.95)
    #expect(isClose(pytorch.finalLearningRate, 1 / 25 / 1e4))
    let fastai = OneCycle(variant: .fastai, maxLearningRate: 1)
    #expect(fastai.pctStart == 0.25 && fastai.divFactor == 25 && fastai.finalDivFactor == 1e5)
    #expect(isClose(fastai.finalLearningRate, 1e-5))
    let cyclic = CyclicRate(baseLearningRate: 0.1, maxLearningRate: 1)
    #expect(cyclic.stepSizeUp == 2000 && cyclic.stepSizeDown == 2000 && cyclic.scaleMode == .cycle)
    #expect(
      CyclicRate(baseLearningRate: 0.1, maxLearningRate: 1, mode: .expRange).scaleMode
        == .iterations)
    #expect(FlatCosine(learningRate: 1).pctStart == 0.75)
  }

  @Test func constantAndMomentumAbsence() throws {
    let schedule = try Schedule(.constant(ConstantRate(learningRate: 0.05)), totalSteps: 3)
    #expect(
      schedule.values() == [
        ScheduleValue(step: 0, learningRate: 0.05, momentum: nil),
        ScheduleValue(step: 1, learningRate: 0.05, momentum: nil),
        ScheduleValue(step: 2, learningRate: 0.05, momentum: nil),
      ])
  }

  @Test func warmupHoldsTheNextPolicysFirstMomentum() throws {
    let cyclic = CyclicRate(baseLearningRate: 0.1, maxLearningRate: 1, stepSizeUp: 2)
    let schedule = try Schedule(.warmup(Warmup(steps: 3, then: .cyclic(cyclic))), totalSteps: 8)
    expectClose(schedule.momenta, [0.9, 0.9, 0.9, 0.9, 0.85, 0.8, 0.85, 0.9])
    expectClose(schedule.rates, [0.1 / 3, 0.1 * 5 / 9, 0.1 * 7 / 9, 0.1, 0.55, 1, 0.55, 0.1])
  }

  static let invalid: [(Policy, Int, ScheduleError)] = [
    (.constant(ConstantRate(learningRate: 0.1)), 0, .noSteps(totalSteps: 0)),
    (
      .oneCycle(OneCycle(maxLearningRate: -1)), 10,
      .notPositive(parameter: "maxLearningRate", value: -1)
    ),
    (
      .oneCycle(OneCycle(maxLearningRate: .infinity)), 10,
      .notPositive(parameter: "maxLearningRate", value: .infinity)
    ),
    (
      .oneCycle(OneCycle(maxLearningRate: 1, pctStart: 1)), 10,
      .outOfRange(parameter: "pctStart", value: 1, range: "(0, 1)")
    ),
    (
      .oneCycle(OneCycle(variant: .fastai, maxLearningRate: 1, threePhase: true)), 10,
      .onlyFor(parameter: "threePhase", scope: "the pytorch variant", got: "fastai")
    ),
    (
      .oneCycle(OneCycle(maxLearningRate: 1, annihilation: 0.1)), 10,
      .onlyFor(parameter: "annihilation", scope: "the smith variant", got: "pytorch")
    ),
    (
      .oneCycle(OneCycle(variant: .smith, maxLearningRate: 1, pctStart: 0.95)), 10,
      .outOfRange(parameter: "pctStart", value: 0.95, range: "(0, 0.9)")
    ),
    (
      .oneCycle(OneCycle(maxLearningRate: 1, baseMomentum: 0.99)), 10,
      .baseAboveMax(base: "baseMomentum", baseValue: 0.99, max: "maxMomentum", maxValue: 0.95)
    ),
    (
      .cyclic(CyclicRate(baseLearningRate: 0.2, maxLearningRate: 0.1)), 10,
      .baseAboveMax(base: "baseLearningRate", baseValue: 0.2, max: "maxLearningRate", maxValue: 0.1)
    ),
    (
      .cyclic(CyclicRate(baseLearningRate: 0.01, maxLearningRate: 0.1, stepSizeUp: 0)), 10,
      .tooSmall(parameter: "stepSizeUp", value: 0, minimum: 1)
    ),
    (
      .step(StepDecay(learningRate: 0.1, stepSize: 0)), 10,
      .tooSmall(parameter: "stepSize", value: 0, minimum: 1)
    ),
    (
      .exponential(ExponentialDecay(learningRate: 0.1, gamma: .nan)), 10,
      .notPositive(parameter: "gamma", value: .nan)
    ),
    (
      .warmup(Warmup(steps: 10, then: .constant(ConstantRate(learningRate: 0.1)))), 10,
      .notFewer(parameter: "warmupSteps", value: 10, limit: "totalSteps", limitValue: 10)
    ),
  ]

  @Test(arguments: invalid) func invalidParametersThrow(
    policy: Policy, totalSteps: Int, expected: ScheduleError
  ) {
    do {
      _ = try Schedule(policy, totalSteps: totalSteps)
      Issue.record("expected \(expected)")
    } catch {
      // NaN never equals itself; compare the sentences instead.
      #expect(error.description == expected.description)
      #expect(!error.description.contains("\n"))
    }
  }

  @Test func errorSentencesName() {
    let error = ScheduleError.baseAboveMax(
      base: "baseLearningRate", baseValue: 0.2, max: "maxLearningRate", maxValue: 0.1)
    #expect(error.description == "baseLearningRate (0.2) must not be above maxLearningRate (0.1).")
    #expect(error.message(naming: { "--" + $0 }).hasPrefix("--baseLearningRate (0.2)"))
  }

  @Test(arguments: [
    Policy.oneCycle(OneCycle(variant: .smith, maxLearningRate: 0.3, annealing: .cosine)),
    .cyclic(
      CyclicRate(
        baseLearningRate: 0.01, maxLearningRate: 0.1, stepSizeUp: 5, mode: .expRange, gamma: 0.99)),
    .multiStep(MultiStepDecay(learningRate: 0.1, milestones: [3, 7])),
    .warmup(Warmup(steps: 2, then: .sgdr(SGDR(maxLearningRate: 0.1, cycles: 2)))),
    .custom(ScheduleCurves(learningRate: .constant(0.1), momentum: .constant(0.9))),
  ])
  func jsonRoundTrip(policy: Policy) throws {
    let schedule = try Schedule(policy, totalSteps: 12)
    let data = try JSONEncoder().encode(schedule)
    let decoded = try JSONDecoder().decode(Schedule.self, from: data)
    #expect(decoded == schedule)
    #expect(decoded.rates == schedule.rates)
    let json = String(decoding: data, as: UTF8.self)
    #expect(json.contains("\"name\":\"\(policy.name)\""))
  }

  @Test func decodingRejectsUnknownPolicyAndBadParameters() {
    let unknown = #"{"policy":{"name":"triangle","parameters":{}},"totalSteps":3}"#
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(Schedule.self, from: Data(unknown.utf8))
    }
    let bad = #"{"policy":{"name":"constant","parameters":{"learningRate":-1}},"totalSteps":3}"#
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(Schedule.self, from: Data(bad.utf8))
    }
  }
}
