import Foundation
import RunFolders
import Training

/// Shows training progress on stderr: on a terminal, one bar per epoch redrawn in place with
/// ETA, throughput, loss and learning rate; otherwise a plain line every tenth of an epoch.
/// Lines are kept by time, not by epoch: runs of thousands of sub-second epochs (a small
/// table) keep a line at most every second on a terminal and every 2 s in a log, and the last.
final class ProgressDisplay {
  let batchSize: Int
  let label: String
  let interactive = standardErrorIsTerminal
  private var epochStart = Date()
  /// When the first step was seen, and its number.
  private var runStart: (Date, Int)?
  private var lastDraw = Date.distantPast
  private var stepsInEpoch = 0
  private var stepsPerEpoch = 1
  private var epoch = 0
  private var totalEpochs = 1
  private var smoothedLoss: Double?
  private var firstStepInEpoch = 0
  /// When the last line that stays (an epoch's end, an evaluation) was written.
  private var lastKept = Date.distantPast
  private var lastEvaluationKept = Date.distantPast
  private var keepEvery: Double { interactive ? 1 : 2 }
  private var isLastEpoch: Bool { epoch + 1 >= totalEpochs }

  /// Names the split that per-epoch evaluations read ("validation", or "test" when none is held out).
  var evaluationName = "validation"

  init(batchSize: Int, label: String = "epoch") {
    self.batchSize = batchSize
    self.label = label
  }

  func handle(_ event: TrainingEvent) {
    switch event {
    case .epochStarted(let e, let total, let perEpoch):
      epoch = e
      totalEpochs = total
      stepsPerEpoch = perEpoch
      epochStart = Date()
      stepsInEpoch = 0
      firstStepInEpoch = -1
    case .stepFinished(let record):
      if runStart == nil { runStart = (Date(), record.step) }
      if firstStepInEpoch < 0 { firstStepInEpoch = record.step % stepsPerEpoch }
      stepsInEpoch = record.step % stepsPerEpoch + 1
      if record.loss.isFinite {
        smoothedLoss = smoothedLoss.map { 0.9 * $0 + 0.1 * record.loss } ?? record.loss
      }
      draw(record, force: stepsInEpoch == stepsPerEpoch)
    case .evaluated(let e):
      let now = Date()
      guard isLastEpoch || now.timeIntervalSince(lastEvaluationKept) >= keepEvery else { return }
      lastEvaluationKept = now
      let line = String(
        format: "  %@ loss %.4f%@ (after %.2f epochs)", evaluationName, e.loss,
        e.accuracy.map { String(format: ", accuracy %.2f%%", 100 * $0) } ?? "", e.epoch)
      if interactive { printError("\r\u{1B}[K" + line) } else { printError(line) }
      lastDraw = .distantPast
    case .epochFinished:
      break
    }
  }

  private func draw(_ record: StepRecord, force: Bool) {
    let now = Date()
    let plainEvery = max(1, stepsPerEpoch / 10)
    // An epoch's end stays on its own line only if the last one is old enough (or it ends
    // the run); otherwise it is drawn like any other step.
    let keep = force && (isLastEpoch || now.timeIntervalSince(lastKept) >= keepEvery)
    if interactive {
      guard keep || now.timeIntervalSince(lastDraw) > 0.1 else { return }
    } else {
      guard keep || (stepsInEpoch % plainEvery == 0 && now.timeIntervalSince(lastDraw) >= keepEvery)
      else { return }
    }
    lastDraw = now
    if keep { lastKept = now }
    let elapsed = now.timeIntervalSince(epochStart)
    let done = stepsInEpoch - max(firstStepInEpoch, 0)
    // An epoch shorter than a second (or a program's steps read in bursts) says little: then
    // the rate since the run's first step.
    var rate = elapsed > 0 ? Double(done * batchSize) / elapsed : 0
    if elapsed < 1, let (start, first) = runStart, now.timeIntervalSince(start) > 0 {
      rate = Double((record.step - first + 1) * batchSize) / now.timeIntervalSince(start)
    }
    let remaining = done > 0 ? elapsed / Double(done) * Double(stepsPerEpoch - stepsInEpoch) : 0
    let fraction = Double(stepsInEpoch) / Double(stepsPerEpoch)
    let width = 24
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
    let loss = smoothedLoss.map { String(format: "%.4f", $0) } ?? "nan"
    let text = String(
      format: "%@ %d/%d %@ %d/%d  %@ %@  %.0f samples/s  loss %@  lr %.3g  mom %.3g", label,
      epoch + 1,
      totalEpochs, bar, stepsInEpoch, stepsPerEpoch, keep ? "took" : "ETA",
      formatDuration(keep ? elapsed : remaining),
      rate, loss, record.learningRate, record.momentum)
    if interactive {
      printError("\r\u{1B}[K" + text, terminator: keep ? "\n" : "")
    } else {
      printError(text)
    }
  }
}
