import Foundation
import RunFolders
import Training
import Tuning

/// Shows the recipe's progress on stderr: the phase, the trial and its steps, and the time
/// left in the whole budget; the final training with the fit progress bar.
final class TuneProgress {
  let budget: Double
  let elapsed: () -> Double
  let interactive = standardErrorIsTerminal
  private var label = ""
  private var steps = 1
  private var phase = ""
  private var lastDraw = Date.distantPast
  private var started = Date()
  private var epochDisplay: ProgressDisplay?
  private var lastBudgetLine = Date.distantPast

  init(budget: Double, elapsed: @escaping () -> Double) {
    self.budget = budget
    self.elapsed = elapsed
  }

  private var budgetText: String {
    let e = elapsed()
    guard budget.isFinite else { return "\(formatDuration(e)) elapsed" }
    return
      "\(formatDuration(e)) of \(formatDuration(budget)) used, \(formatDuration(max(0, budget - e))) left"
  }

  func handle(_ event: TuneEvent) {
    switch event {
    case .phase(let name, let index, let count):
      phase = name
      printError(
        "\(interactive ? "\r\u{1B}[K" : "")── phase \(index)/\(count): \(name) ── (\(budgetText))")
    case .started(_, let label, let steps):
      self.label = label
      self.steps = max(1, steps)
      started = Date()
      lastDraw = .distantPast
    case .step(let k, let loss):
      let now = Date()
      let done = k + 1
      if interactive {
        guard now.timeIntervalSince(lastDraw) > 0.2 else { return }
      } else {
        guard done % max(1, steps / 4) == 0 else { return }
      }
      lastDraw = now
      let text = String(format: "  %@: step %d  loss %.4f  (%@)", label, done, loss, budgetText)
      printError(interactive ? "\r\u{1B}[K" + text : text, terminator: interactive ? "" : "\n")
    case .finished(let entry, let reused):
      let text = "  \(reused ? "reused" : "done  ") \(entry.label): \(describe(entry))"
      printError(interactive ? "\r\u{1B}[K" + text : text)
    case .note(let text):
      printError((interactive ? "\r\u{1B}[K" : "") + "  note: " + text)
    case .finalStarted(let batchSize, let epochs):
      printError(
        "  \(epochs) epoch\(epochs == 1 ? "" : "s") of one-cycle at batch \(batchSize) on all the training data"
      )
      let display = ProgressDisplay(batchSize: batchSize)
      display.evaluationName = "test"
      epochDisplay = display
    case .finalEpoch(let e):
      epochDisplay?.handle(e)
      if case .epochFinished = e, Date().timeIntervalSince(lastBudgetLine) >= 5 {
        lastBudgetLine = Date()
        printError("  (\(budgetText))")
      }
    }
  }

  func describe(_ entry: JournalEntry) -> String {
    if let r = entry.result {
      if let failure = r.failure { return "failed: \(failure)" }
      if r.diverged {
        return String(format: "diverged after %d steps (%.0f s)", r.losses.count, entry.seconds)
      }
      return String(
        format: "validation loss %.4f%@ after %d steps (%.0f s)",
        r.finalValidationLoss,
        r.finalValidationAccuracy.map { String(format: ", accuracy %.2f%%", 100 * $0) } ?? "",
        r.losses.count, entry.seconds)
    }
    if let c = entry.rangeTest {
      let lr = c.suggestedMaximumLearningRate.map { "max LR \(formatLR($0))" } ?? "no reading"
      return "\(lr) (\(String(format: "%.0f s", entry.seconds)))"
    }
    return ""
  }
}
