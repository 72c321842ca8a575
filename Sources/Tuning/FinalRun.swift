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

extension Recipe {
  /// The final run as one spec for a backend that runs specs only (the user's program): its
  /// steps fill the rest of the budget at the throughput the trials measured, less the time a
  /// run takes to start and its evaluations; the program trains on all the training data,
  /// measures the test split at `validate_at` (the curve of the report) and at the end, and
  /// saves its model as `model.pt` in the run's folder. It starts over on `--resume`.
  func specFinalTraining(_ plan: FinalRunRecord.Plan, policy: Policy) throws -> FinalTrainingOutcome
  {
    let b = plan.batchSize
    let rate = throughput(b)
    // An evaluation reads the whole test split: about a third as long as training on as many
    // samples, or what a validation pass of the program measured, if longer. At most a tenth
    // of the time left goes to them (a program whose passes are slow evaluates fewer times).
    let testSamples = Double(program?.trainSamples ?? 10_000) / 5
    let evaluationSeconds = max(costs.evaluationPassSeconds ?? 0, testSamples / rate / 3)
    let evaluations = max(
      2, min(10, Int(0.1 * (settings.budget - elapsed) / max(1e-9, evaluationSeconds))))
    let remaining =
      settings.budget - elapsed - startupSeconds - Double(evaluations + 1) * evaluationSeconds
      - max(1, 0.01 * settings.budget)
    let steps = max(10, Int(remaining * rate / Double(b)))
    let stepsPerEpoch = program?.trainSamples.map { max(1, $0 / b) }
    let epochs = stepsPerEpoch.map { max(1, Int((Double(steps) / Double($0)).rounded())) } ?? 1
    let schedule: Schedule
    do { schedule = try Schedule(policy, totalSteps: steps) } catch {
      throw RecipeError(
        description:
          "cannot make the final one-cycle schedule (max LR \(plan.maxLearningRate), \(steps) steps): \(error)"
      )
    }
    let plannedRows = TrialSpec.Row.rows(of: schedule, momentum: plan.maxMomentum)
    let every = max(1, steps / evaluations)
    var spec = TrialSpec(
      kind: .final, key: "final", batchSize: b, seed: settings.seed, weightDecay: plan.weightDecay,
      dropout: plan.regularization.dropout, augmentation: plan.regularization.augmentation,
      schedule: plannedRows,
      validateAt: Array(stride(from: every, to: steps, by: every)) + [steps], validationBatches: nil
    )
    spec.final = true
    spec.saveModel = backend.finalModelFile
    let plannedReason = String(
      format:
        "%d steps (%@): what the remaining %.0f s of the budget allow at the %.0f samples/s the trials measured, less %.0f s to start the program",
      steps,
      stepsPerEpoch.map { String(format: "%.2g epochs", Double(steps) / Double($0)) }
        ?? "epochs unknown: the program did not say how many training samples it has",
      max(0, remaining), rate, startupSeconds)
    onEvent?(.finalStarted(batchSize: b, epochs: epochs))
    let perEpoch = stepsPerEpoch ?? steps
    onEvent?(.finalEpoch(.epochStarted(epoch: 0, totalEpochs: epochs, stepsPerEpoch: perEpoch)))
    var history = TrainingHistory()
    var test: Evaluation?
    var rows = plannedRows
    var reason = plannedReason
    // Re-plans: at these fractions of the steps, the program's own clock says what a step
    // really costs; a run that would end past the budget is shortened (its schedule rewritten,
    // which the helper re-reads: the rest of the one-cycle stretched over the new length from
    // the current step, so the learning rate goes on from where it is). A program whose start
    // event says it is `extendable` (it ends when the spec's steps are done, as the helper's
    // `attach` does) is lengthened too when it runs faster than planned; one that loops over
    // the steps it was first given is only ever shortened.
    var extendable = false
    var currentSchedule = schedule
    var replans = settings.finalReplans.sorted().map { Int($0 * Double(steps)) }.filter { $0 > 0 }
    var window: (step: Int, time: Double)?
    var current = spec
    let folder = directory(for: spec)
    var replanError: Error?
    let reserve = Double(evaluations / 2 + 1) * evaluationSeconds + max(2, 0.01 * settings.budget)
    let result = try run(spec) { [weak self] event in
      guard let self else { return .proceed }
      if case .start(_, let facts, _) = event { extendable = facts.extendable }
      if case .train(let k, _, _, let t) = event {
        if window == nil { window = (k, t) }
        if let at = replans.first, k + 1 >= at, let w = window, t > w.time, k > w.step {
          replans.removeFirst()
          let stepSeconds = (t - w.time) / Double(k - w.step)
          let left = self.settings.budget - self.elapsed - reserve
          let fits = k + 1 + Int(max(0, left) / stepSeconds)
          window = (k, t)
          let shorter = fits < Int(0.97 * Double(current.steps))
          let longer = extendable && fits > Int(1.03 * Double(current.steps))
          if shorter || longer, k + 1 < current.steps, let folder {
            // Longer by at most half the steps still to run at a time: one fast window (a
            // tiny program's steps time noisily) must not stretch the run past what the next
            // re-plan can take back.
            let total = max(k + 2, min(fits, k + 1 + (3 * (current.steps - k - 1)) / 2))
            // The later re-plans at their fractions of the new length, so the last stretch of
            // a lengthened run is measured too.
            replans = self.settings.finalReplans.sorted().map { Int($0 * Double(total)) }
              .filter { $0 > k + 1 }
            do {
              currentSchedule = currentSchedule.stretched(from: k + 1, totalSteps: total)
              rows = TrialSpec.Row.rows(of: currentSchedule, momentum: plan.maxMomentum)
              let old = current.steps
              current.schedule = rows
              // The evaluations left spaced as the first plan spaced them: as many over the
              // new length.
              let spacing = max(1, total / evaluations)
              current.validateAt =
                Array(stride(from: k + 1 + spacing, to: total, by: spacing)) + [total]
              try current.rewrite(in: folder)
              reason += String(
                format: "; re-planned after step %d to %d steps at the %.1f ms a step really took",
                k + 1, total, 1000 * stepSeconds)
              self.onEvent?(
                .note(
                  String(
                    format:
                      "final training re-planned to %d steps (from %d): a step takes %.1f ms, and %.0f s are left",
                    total, old, 1000 * stepSeconds, max(0, left))))
            } catch { replanError = error }
          }
        }
      }
      switch event {
      case .train(let k, let loss, _, _):
        if k > 0 && k % perEpoch == 0 {
          self.onEvent?(.finalEpoch(.epochFinished(epoch: k / perEpoch - 1)))
          self.onEvent?(
            .finalEpoch(
              .epochStarted(epoch: k / perEpoch, totalEpochs: epochs, stepsPerEpoch: perEpoch)))
        }
        let record = StepRecord(
          step: k, epoch: k / perEpoch, learningRate: rows[min(k, rows.count - 1)].learningRate,
          momentum: rows[min(k, rows.count - 1)].momentum, loss: loss)
        history.steps.append(record)
        self.onEvent?(.finalEpoch(.stepFinished(record)))
      case .validation(let m, _):
        let record = EvaluationRecord(
          step: m.step, epoch: Double(m.step) / Double(perEpoch), loss: m.loss,
          accuracy: m.accuracy, metrics: m.metrics)
        history.evaluations.append(record)
        self.onEvent?(.finalEpoch(.evaluated(record)))
      case .test(let m, _):
        test = Evaluation(loss: m.loss, accuracy: m.accuracy, samples: 0, metrics: m.metrics)
      default: break
      }
      return .proceed
    }
    switch result.status {
    case .interrupted: throw Interrupted()
    case .failed:
      throw RecipeError(description: "the final run failed: \(result.message ?? "no reason given")")
    case .diverged:
      throw RecipeError(
        description:
          "the final training diverged at step \(result.steps) (learning rate \(Self.format(rows[max(0, result.steps - 1)].learningRate)))"
      )
    case .finished, .stopped: break
    }
    if let replanError {
      throw RecipeError(description: "cannot re-plan the final run: \(replanError)")
    }
    guard let test else {
      throw RecipeError(
        description:
          "the final run reported no \"test\" event: a program must measure the test split after the last step of a spec with \"final\": true"
      )
    }
    let ranEpochs = max(1, Int((Double(history.steps.count) / Double(perEpoch)).rounded()))
    return FinalTrainingOutcome(
      history: history, epochs: Choice(stepsPerEpoch == nil ? epochs : ranEpochs, reason),
      test: test, stepsPerEpoch: perEpoch, plannedSteps: steps, seconds: result.seconds)
  }
}
