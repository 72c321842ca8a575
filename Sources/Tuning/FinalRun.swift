import Foundation
import Schedules
import Sessions
import TrialProtocol

/// How the final run spends what is left of the budget: its epochs, how often it evaluates,
/// and the time kept for what follows it (the test evaluation, report and checkpoint).
struct FinalRunPlan: Sendable, Equatable {
  var epochs: Int
  var reason: String
  /// Evaluations happen after every `evaluationEvery` epochs (and after the last).
  var evaluationEvery: Int
  /// Seconds kept at the end of the budget for the work after the run.
  var reserve: Double

  /// Evaluation cadence for a run of `epochs`: at most `limit` evaluations. A 1,000-epoch run
  /// on a small table evaluates 40 times, not 1,000 (each pass over its validation split costs
  /// about as much as an epoch), and a 20-epoch run still evaluates after every epoch.
  static func evaluationEvery(epochs: Int, limit: Int) -> Int {
    max(1, Int((Double(epochs) / Double(max(1, limit))).rounded(.up)))
  }

  /// Epochs that fit into `seconds` at `epochSeconds` of training per epoch plus one
  /// evaluation of `evaluationSeconds` every `evaluationEvery(...)` epochs.
  static func epochs(
    fitting seconds: Double, epochSeconds: Double, evaluationSeconds: Double, limit: Int
  ) -> Int {
    var epochs = max(1, Int(seconds / (epochSeconds + evaluationSeconds)))
    // Fewer evaluations leave room for more epochs; a couple of passes settle it.
    for _ in 0..<3 {
      let every = Double(evaluationEvery(epochs: epochs, limit: limit))
      epochs = max(1, Int(seconds / (epochSeconds + evaluationSeconds / every)))
    }
    return epochs
  }
}

/// What the final run measured.
struct FinalTrainingOutcome {
  var history: TrainingHistory
  var epochs: Choice<Int>
  var test: Evaluation
  var stepsPerEpoch: Int
  /// The steps the run was first planned at (before re-plans), and the seconds it took.
  var plannedSteps: Int
  var seconds: Double
}

extension Recipe {
  /// Epochs of the final run: what the rest of the budget allows at the throughput of the
  /// final session itself, from a few steps that are then undone (the trials' sessions may
  /// have run under other load), and one evaluation, timed; less the time the test
  /// evaluation, report and checkpoint take after it.
  func plannedEpochs<B: SessionBackend>(_ b: B, _ final: B.Session, plan: FinalRunRecord.Plan)
    throws -> FinalRunPlan
  {
    let size = plan.batchSize
    let saved = final.snapshot()
    let probe = HyperParameters(
      learningRate: plan.maxLearningRate / settings.divFactor, momentum: plan.maxMomentum,
      weightDecay: plan.weightDecay)
    _ = final.step(probe)
    let p0 = b.now()
    let probeSteps = min(40, max(5, final.stepsPerEpoch / 10))
    for _ in 0..<probeSteps { _ = final.step(probe) }
    let probeSeconds = b.now() - p0
    final.restore(saved)
    let rate = probeSeconds > 0 ? Double(probeSteps * size) / probeSeconds : throughput(size)
    let e0 = b.now()
    _ = final.evaluate(.validation, maxBatches: nil)
    let evaluation = b.now() - e0
    let reserve = finalReserve(evaluationSeconds: evaluation)
    let train = Double(final.stepsPerEpoch * size) / rate
    let remaining = settings.budget - elapsed - reserve
    let epochs = FinalRunPlan.epochs(
      fitting: remaining, epochSeconds: train, evaluationSeconds: evaluation,
      limit: settings.finalEvaluations)
    let every = FinalRunPlan.evaluationEvery(epochs: epochs, limit: settings.finalEvaluations)
    let reason = String(
      format:
        "what the remaining %.0f s of the budget allow at the measured %.0f samples/s (%.2f s per epoch, %.2f s per evaluation%@)",
      max(0, remaining), rate, train, evaluation, every > 1 ? ", one every \(every) epochs" : "")
    return FinalRunPlan(epochs: epochs, reason: reason, evaluationEvery: every, reserve: reserve)
  }

  /// Seconds kept after the final run: its test evaluation (as long as one evaluation), and
  /// two seconds or 1% of the budget for the report and checkpoint (a one-minute tune of a
  /// small table with 4,000 epochs of history ended 1.2 s past its budget with one second).
  func finalReserve(evaluationSeconds: Double) -> Double {
    evaluationSeconds + max(2, 0.01 * settings.budget)
  }

  /// The final one-cycle run at the recipe's choices, continued from a saved state when the
  /// choices are the same. At `settings.finalReplans` (fractions of its steps) it measures
  /// what an epoch really costs — training, evaluations, saves, progress, a machine slower
  /// than at the probe — and re-plans its epochs to end within the budget: a slower machine
  /// costs epochs, not overrun.
  func finalTraining<B: SessionBackend>(_ b: B, _ plan: FinalRunRecord.Plan, policy: Policy) throws
    -> FinalTrainingOutcome
  {
    let final = try b.makeFinalSession(
      batchSize: plan.batchSize, regularization: plan.regularization, seed: settings.seed)
    let perEpoch = final.stepsPerEpoch
    var runPlan: FinalRunPlan
    var history = TrainingHistory()
    /// The re-plans so far, each stretching the rest of the schedule over the new length.
    var stretches: [Schedule.Stretch] = []
    let fresh = final.snapshot()
    if let saved = try b.loadFinalState(into: final), saved.plan == plan {
      runPlan = FinalRunPlan(
        epochs: saved.epochs, reason: saved.epochsReason,
        evaluationEvery: FinalRunPlan.evaluationEvery(
          epochs: saved.epochs, limit: settings.finalEvaluations),
        reserve: finalReserve(evaluationSeconds: 0))
      history = saved.history
      stretches = saved.stretches ?? []
      finalSecondsBefore = saved.seconds
      onEvent?(
        .note(
          "continuing the final training after epoch \(final.stepsTaken / perEpoch) of \(saved.epochs)"
        ))
    } else {
      final.restore(fresh)  // a state saved with other choices may have been loaded
      runPlan = try plannedEpochs(b, final, plan: plan)
      b.removeFinalState()
    }
    onEvent?(.finalStarted(batchSize: plan.batchSize, epochs: runPlan.epochs))
    let firstPlannedSteps = runPlan.epochs * perEpoch
    let finalStart = b.now()
    let secondsBefore = finalSecondsBefore
    var saveError: Error?
    var lastSave = finalStart
    // After an epoch (not the last), the state to continue from after a crash or kill: every
    // epoch of a Fashion-MNIST run (about 28 s), every few of small data sets' short ones.
    // A save writes the whole history, which grows with the run: saves are at least 20 times
    // as far apart as the last one took, so they never cost more than 5% of the run.
    var saveInterval = min(20, settings.budget / 40)
    var replans = settings.finalReplans.sorted()
    /// Where the stretch since the last re-plan began, and what an epoch cost in the one before.
    var window: (steps: Int, start: Double, epochSeconds: Double?) = (
      final.stepsTaken, finalStart, nil
    )
    while true {
      let epochs = runPlan.epochs
      let schedule: Schedule
      do {
        schedule = try Schedule(policy, totalSteps: epochs * perEpoch, stretches: stretches)
      } catch {
        throw RecipeError(
          description:
            "cannot make the final one-cycle schedule (max LR \(plan.maxLearningRate), \(epochs) epochs): \(error)"
        )
      }
      let trainer = Trainer(
        session: final, schedule: schedule, epochs: epochs, constantMomentum: plan.maxMomentum,
        weightDecay: plan.weightDecay, evaluationInterval: runPlan.evaluationEvery * perEpoch,
        history: history)
      let reason = runPlan.reason
      trainer.onEvent = { [weak self] e in
        guard let self else { return }
        self.onEvent?(.finalEpoch(e))
        if case .epochFinished(let epoch) = e, epoch + 1 < epochs, saveError == nil,
          b.now() - lastSave >= saveInterval
        {
          let saveStart = b.now()
          let record = FinalRunRecord(
            plan: plan, epochs: epochs, epochsReason: reason, history: trainer.history,
            seconds: secondsBefore + b.now() - finalStart,
            stretches: stretches.isEmpty ? nil : stretches)
          do { try b.saveFinalState(final, record) } catch { saveError = error }
          lastSave = b.now()
          saveInterval = max(saveInterval, 20 * (lastSave - saveStart))
        }
      }
      // The next re-plan: the first epoch end at or after its fraction of the steps.
      while let first = replans.first,
        Int((first * Double(epochs)).rounded(.up)) * perEpoch <= final.stepsTaken
      {
        replans.removeFirst()
      }
      let replanAt = replans.first.map { Int(($0 * Double(epochs)).rounded(.up)) * perEpoch }
      let outcome = trainer.run(shouldStop: { [shouldStop] in
        shouldStop() || saveError != nil || replanAt.map { final.stepsTaken >= $0 } ?? false
      })
      history = trainer.history
      if let saveError {
        throw RecipeError(description: "cannot save the final run's state: \(saveError)")
      }
      if case .diverged(let step) = outcome {
        throw RecipeError(
          description:
            "the final training diverged at step \(step) (learning rate \(Self.format(trainer.history.steps.last?.learningRate ?? 0)))"
        )
      }
      if case .interrupted = outcome {
        if shouldStop() { throw Interrupted() }
        replans.removeFirst()
        // The cost of an epoch in the last stretch; when it grew since the stretch before
        // (a busier machine, slower arithmetic late in the run), it is taken to go on growing,
        // by at most a tenth: a passing stall (another process for a minute) must not be
        // extrapolated into a run cut by a third.
        let stepsRun = final.stepsTaken - window.steps
        let seconds = b.now() - window.start
        guard stepsRun > 0, seconds > 0 else { continue }
        let recent = seconds / Double(stepsRun) * Double(perEpoch)
        let epochSeconds =
          window.epochSeconds.map { recent * min(1.1, max(1, recent / $0)) } ?? recent
        window = (final.stepsTaken, b.now(), recent)
        let done = final.stepsTaken / perEpoch
        let left = settings.budget - elapsed - runPlan.reserve
        let replanned = max(done + 1, done + Int(left / epochSeconds))
        // Longer or shorter, the rest of the schedule is stretched over the new length from
        // here, so the learning rate goes on from where it is (a machine that sped up after a
        // slow start gets its epochs back; one that slowed down ends within the budget).
        // A change of more than 3% of the epochs still to run (a late re-plan moves few).
        if replanned != epochs && abs(Double(replanned - epochs)) > 0.03 * Double(epochs - done) {
          onEvent?(
            .note(
              String(
                format:
                  "final training re-planned to %d epochs (from %d): an epoch takes %.3g s in all, and %.0f s are left",
                replanned, epochs, epochSeconds, max(0, left))))
          runPlan.reason += String(
            format: "; re-planned after epoch %d to %d epochs at the %.3g s an epoch really took",
            done, replanned, epochSeconds)
          stretches.append(
            Schedule.Stretch(from: final.stepsTaken, totalStepsBefore: epochs * perEpoch))
          runPlan.epochs = replanned
          runPlan.evaluationEvery = FinalRunPlan.evaluationEvery(
            epochs: replanned, limit: settings.finalEvaluations)
        }
        continue
      }
      b.removeFinalState()
      let test = final.evaluate(.test, maxBatches: nil)
      return FinalTrainingOutcome(
        history: history, epochs: Choice(runPlan.epochs, runPlan.reason), test: test,
        stepsPerEpoch: perEpoch, plannedSteps: firstPlannedSteps,
        seconds: secondsBefore + b.now() - finalStart)
    }
  }
}
