import Foundation
import Schedules
import Sessions

public struct RecipeError: Error, CustomStringConvertible {
  public var description: String
}

/// What the final validation curve says (Smith: the goal is a curve that goes horizontal).
public struct Diagnosis: Codable, Sendable, Equatable {
  public enum Verdict: String, Codable, Sendable {
    case underfitting, overfitting
    case onTarget = "on target"
    /// The final run trained less than an epoch, or was cut to under half its plan.
    case tooShort = "too short"
    /// The training loss stayed near where it started.
    case notLearning = "not learning"
    case unknown
  }
  public var verdict: Verdict
  public var explanation: String
  public var suggestion: String

  public init(verdict: Verdict, explanation: String, suggestion: String) {
    self.verdict = verdict
    self.explanation = explanation
    self.suggestion = suggestion
  }

  /// Reads the evaluation losses of the last third of the run — after checking that the run
  /// trained enough to read: a run of under one epoch, or cut to under half of the
  /// `plannedSteps` it started with, is "too short", and one whose training loss ended within a
  /// tenth of where it began is "not learning", whatever its curve's shape (a flat curve of a
  /// network that never learned is not a curve gone horizontal). `budgetAdvice` says what
  /// budget would do, for the suggestion.
  public init(
    history: TrainingHistory, stepsPerEpoch: Int, plannedSteps: Int? = nil,
    budgetAdvice: String? = nil
  ) {
    let advice = budgetAdvice.map { " (\($0))" } ?? ""
    let stepsRun = history.steps.count
    let epochsRun = Double(stepsRun) / Double(max(1, stepsPerEpoch))
    if stepsRun > 0 && epochsRun < 1 {
      self.init(
        verdict: .tooShort,
        explanation: String(
          format: "the final run trained %d steps, %.2f of an epoch: too little to read a curve",
          stepsRun, epochsRun),
        suggestion: "give it a larger budget\(advice)")
      return
    }
    if let plannedSteps, plannedSteps > 0, stepsRun > 0, 2 * stepsRun < plannedSteps {
      self.init(
        verdict: .tooShort,
        explanation: String(
          format:
            "the final run was cut to %d steps of the %d it was planned at: the tuning and a slower machine took its time",
          stepsRun, plannedSteps),
        suggestion: "give it a larger budget\(advice)")
      return
    }
    let trainLosses = history.steps.map(\.loss).filter(\.isFinite)
    if trainLosses.count >= 20 {
      // Where it started: its first few steps (a tenth of a long run has long converged).
      let k0 = max(1, min(10, trainLosses.count / 100))
      let k = max(1, trainLosses.count / 10)
      let first = trainLosses.prefix(k0).reduce(0, +) / Double(k0)
      let last = trainLosses.suffix(k).reduce(0, +) / Double(k)
      if first > 0 && last >= 0.9 * first {
        self.init(
          verdict: .notLearning,
          explanation: String(
            format:
              "the training loss stayed near where it started (%.4f over the first %d steps, %.4f over the last tenth)",
            first, k0, last),
          suggestion:
            "check the learning rate and the program's use of the schedule; a larger budget gives the tuning longer trials\(advice)"
        )
        return
      }
    }
    let losses = history.evaluations.map(\.loss).filter(\.isFinite)
    guard losses.count >= 3 else {
      self.init(
        verdict: .unknown,
        explanation: "too few evaluations (\(losses.count)) to read the validation curve",
        suggestion: "train for more epochs to see the curve")
      return
    }
    let tail = Array(losses.suffix(max(3, losses.count / 3)))
    let lowest = losses.min()!
    let last = losses.last!
    let lowestIndex = losses.lastIndex(of: lowest)!
    let fall = (tail.first! - last) / tail.first!
    if last > lowest * 1.03 && lowestIndex < losses.count - 1 {
      self = Diagnosis(
        verdict: .overfitting,
        explanation: String(
          format:
            "the validation loss rose from its lowest %.4f (evaluation %d) to %.4f at the end",
          lowest, lowestIndex + 1, last),
        suggestion:
          "more regularization (a larger weight decay, dropout or augmentation) or fewer epochs; a learning rate that is too small can also cause this"
      )
    } else if fall > 0.03 {
      self = Diagnosis(
        verdict: .underfitting,
        explanation: String(
          format:
            "the validation loss was still falling over the last %d evaluations (%.4f → %.4f, %.1f%%)",
          tail.count, tail.first!, last, 100 * fall),
        suggestion: "train for more epochs (a larger budget), or reduce the weight decay")
    } else {
      self = Diagnosis(
        verdict: .onTarget,
        explanation: String(
          format: "the validation loss went horizontal: %.4f → %.4f over the last %d evaluations",
          tail.first!, last, tail.count),
        suggestion: "no change needed; more epochs would add little")
    }
  }
}

/// 0 as "0", others as %g (1e-4 → "0.0001", 3e-05 → "3e-05").
func plainNumber(_ v: Double) -> String { v == 0 ? "0" : String(format: "%g", v) }
