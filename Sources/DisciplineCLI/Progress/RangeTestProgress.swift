import Foundation
import RangeTests
import RunFolders

/// Shows range-test progress on stderr: one line redrawn in place on a terminal, a plain line
/// every tenth of a test otherwise.
final class RangeTestProgress {
  let total: Int
  let conditions: [String]
  let repeats: Int
  let interactive = standardErrorIsTerminal
  private var index = 0
  private var steps = 1
  private var label = ""
  private var started = Date()
  private var lastDraw = Date.distantPast
  /// Sweeps running side by side: their steps are counted as one (`startTogether`).
  private var together = false
  private var counted = 0

  init(total: Int, conditions: [String], repeats: Int) {
    self.total = total
    self.conditions = conditions
    self.repeats = repeats
  }

  func start(condition: Int, repeatIndex: Int, settings: RangeTestSettings) {
    if interactive && index > 0 { printError("") }
    index = condition * repeats + repeatIndex + 1
    steps = settings.steps
    var parts: [String] = []
    if conditions.count > 1 { parts.append(conditions[condition]) }
    if repeats > 1 { parts.append("repeat \(repeatIndex + 1)/\(repeats)") }
    label =
      total > 1
      ? "test \(index)/\(total)" + (parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))")
      : "range test"
    started = Date()
    lastDraw = .distantPast
  }

  /// Sweeps handed over all at once (`--parallel`, Slurm): one line counting all their steps.
  func startTogether(count: Int, steps: Int, slots: Int) {
    together = true
    self.steps = max(1, steps)
    label = "\(count) range tests, \(min(count, slots)) at a time"
    started = Date()
    lastDraw = .distantPast
  }

  func point(_ p: RangeTestPoint) {
    counted += 1
    let done = together ? counted : p.step + 1
    let now = Date()
    if interactive {
      guard now.timeIntervalSince(lastDraw) > 0.1 || done == steps else { return }
    } else {
      guard done % max(1, steps / 10) == 0 || done == steps else { return }
    }
    lastDraw = now
    let elapsed = now.timeIntervalSince(started)
    let eta = elapsed / Double(done) * Double(steps - done)
    var text = String(
      format: "%@  step %d/%d  lr %.3g  loss %.4f (smoothed %.4f)", label, done, steps,
      p.learningRate, p.loss, p.smoothedLoss)
    if let v = p.validationLoss { text += String(format: "  val %.4f", v) }
    text += "  ETA " + formatDuration(eta)
    printError(interactive ? "\r\u{1B}[K" + text : text, terminator: interactive ? "" : "\n")
  }

  func finish() {
    if interactive { printError("") }
  }
}
