import Foundation
import Schedules
import Sessions
import TrialProtocol

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
    let stepsPerEpoch = (finalTrainSamples ?? program?.trainSamples).map { max(1, $0 / b) }
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
    // Kept for what follows the last step (its validation and the test pass, the files): the
    // planned passes, or two passes as long as this run was seen to take where that is more
    // (a Lightning run whose passes took 4-5 s, planned at 1.5, ended a second past its budget).
    var lastTrain = 0.0
    var seenPass = 0.0
    var reserve: Double {
      max(Double(evaluations / 2 + 1) * evaluationSeconds, 2 * seenPass)
        + max(2, 0.01 * settings.budget)
    }
    let result = try run(spec) { [weak self] event in
      guard let self else { return .proceed }
      if case .start(_, let facts, _) = event { extendable = facts.extendable }
      if case .validation(_, let t) = event { seenPass = max(seenPass, t - lastTrain) }
      if case .train(_, _, _, let t) = event { lastTrain = t }
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
