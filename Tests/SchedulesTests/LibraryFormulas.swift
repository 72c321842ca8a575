import Foundation

/// Line-by-line transcriptions of the reference libraries' published code, kept deliberately
/// close to the originals (including their step-by-step, chained updates) so that comparing
/// them with the combinator-built schedules checks the combinators, not a restatement of them.
///
/// PyTorch: `torch/optim/lr_scheduler.py` of PyTorch 2.15 (`get_lr` of each class, and `step`
/// for `CosineAnnealingWarmRestarts`); the values are those the optimizer holds before each
/// optimizer step when `scheduler.step()` follows it. fastai: `fastai/callback/schedule.py`
/// (`sched_cos`, `combine_scheds`, `combined_cos`, `fit_one_cycle`, `fit_flat_cos`, `fit_sgdr`)
/// and `TrainEvalCallback`'s `pct_train` bookkeeping in `fastai/callback/core.py`.
enum LibraryFormulas {
  // MARK: PyTorch

  /// `OneCycleLR.get_lr`.
  static func oneCycleLR(
    maxLR: Double, totalSteps: Int, pctStart: Double, cosine: Bool, divFactor: Double,
    finalDivFactor: Double, threePhase: Bool, baseMomentum: Double, maxMomentum: Double
  ) -> (rates: [Double], momenta: [Double]) {
    let total = Double(totalSteps)
    let initialLR = maxLR / divFactor
    let minLR = initialLR / finalDivFactor
    // (end_step, start_lr, end_lr, start_momentum, end_momentum)
    let phases: [(Double, Double, Double, Double, Double)] =
      threePhase
      ? [
        (pctStart * total - 1, initialLR, maxLR, maxMomentum, baseMomentum),
        (2 * pctStart * total - 2, maxLR, initialLR, baseMomentum, maxMomentum),
        (total - 1, initialLR, minLR, maxMomentum, maxMomentum),
      ]
      : [
        (pctStart * total - 1, initialLR, maxLR, maxMomentum, baseMomentum),
        (total - 1, maxLR, minLR, baseMomentum, maxMomentum),
      ]
    func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
      if cosine {
        let cosOut = cos(Double.pi * pct) + 1
        return end + (start - end) / 2.0 * cosOut
      }
      return (end - start) * pct + start
    }
    var rates: [Double] = []
    var momenta: [Double] = []
    for stepNum in 0..<totalSteps {
      var startStep = 0.0
      for (i, phase) in phases.enumerated() {
        let endStep = phase.0
        if Double(stepNum) <= endStep || i == phases.count - 1 {
          let pct = (Double(stepNum) - startStep) / (endStep - startStep)
          rates.append(anneal(phase.1, phase.2, pct))
          momenta.append(anneal(phase.3, phase.4, pct))
          break
        }
        startStep = phase.0
      }
    }
    return (rates, momenta)
  }

  /// `CyclicLR.get_lr` with `scale_fn` = nil (built-in modes).
  static func cyclicLR(
    baseLR: Double, maxLR: Double, stepSizeUp: Int, stepSizeDown: Int, mode: String,
    gamma: Double, baseMomentum: Double, maxMomentum: Double, totalSteps: Int
  ) -> (rates: [Double], momenta: [Double]) {
    let totalSize = Double(stepSizeUp) + Double(stepSizeDown)
    let stepRatio = Double(stepSizeUp) / totalSize
    func scaleFn(_ x: Double) -> Double {
      switch mode {
      case "triangular": return 1.0
      case "triangular2": return 1 / pow(2.0, x - 1)
      default: return pow(gamma, x)
      }
    }
    let scaleMode = mode == "exp_range" ? "iterations" : "cycle"
    var rates: [Double] = []
    var momenta: [Double] = []
    for lastEpoch in 0..<totalSteps {
      let cycle = floor(1 + Double(lastEpoch) / totalSize)
      let x = 1.0 + Double(lastEpoch) / totalSize - cycle
      let scaleFactor = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1)
      let scale = scaleMode == "cycle" ? scaleFn(cycle) : scaleFn(Double(lastEpoch))
      rates.append(baseLR + (maxLR - baseLR) * scaleFactor * scale)
      momenta.append(maxMomentum - (maxMomentum - baseMomentum) * scaleFactor * scale)
    }
    return (rates, momenta)
  }

  /// `StepLR.get_lr`, chained: the group's lr is multiplied by gamma at each multiple of
  /// `step_size`.
  static func stepLR(lr: Double, stepSize: Int, gamma: Double, totalSteps: Int) -> [Double] {
    var current = lr
    return (0..<totalSteps).map { lastEpoch in
      if lastEpoch != 0 && lastEpoch % stepSize == 0 { current *= gamma }
      return current
    }
  }

  /// `MultiStepLR.get_lr`, chained, with `Counter(milestones)`.
  static func multiStepLR(lr: Double, milestones: [Int], gamma: Double, totalSteps: Int)
    -> [Double]
  {
    var current = lr
    return (0..<totalSteps).map { lastEpoch in
      let count = milestones.filter { $0 == lastEpoch }.count
      if count > 0 { current *= pow(gamma, Double(count)) }
      return current
    }
  }

  /// `ExponentialLR.get_lr`, chained.
  static func exponentialLR(lr: Double, gamma: Double, totalSteps: Int) -> [Double] {
    var current = lr
    return (0..<totalSteps).map { lastEpoch in
      if lastEpoch > 0 { current *= gamma }
      return current
    }
  }

  /// `CosineAnnealingLR.get_lr`: the recursive form PyTorch steps with.
  static func cosineAnnealingLR(lr baseLR: Double, tMax: Int, etaMin: Double, totalSteps: Int)
    -> [Double]
  {
    let tMax = Double(tMax)
    var current = baseLR
    return (0..<totalSteps).map { step in
      let lastEpoch = Double(step)
      if step == 0 {
        current = baseLR
      } else if (step - 1 - Int(tMax)) % (2 * Int(tMax)) == 0 {
        current = current + (baseLR - etaMin) * (1 - cos(Double.pi / tMax)) / 2
      } else {
        current =
          (1 + cos(Double.pi * lastEpoch / tMax)) / (1 + cos(Double.pi * (lastEpoch - 1) / tMax))
          * (current - etaMin) + etaMin
      }
      return current
    }
  }

  /// `CosineAnnealingWarmRestarts.step` and `get_lr`.
  static func warmRestarts(lr baseLR: Double, t0: Int, tMult: Int, etaMin: Double, totalSteps: Int)
    -> [Double]
  {
    var tCur = 0
    var tI = t0
    var values: [Double] = []
    for step in 0..<totalSteps {
      if step > 0 {
        tCur += 1
        if tCur >= tI {
          tCur = tCur % tI
          tI = tI * tMult
        }
      }
      values.append(
        etaMin + (baseLR - etaMin) * (1 + cos(Double.pi * Double(tCur) / Double(tI))) / 2)
    }
    return values
  }

  /// `LinearLR.get_lr`, chained.
  static func linearLR(
    lr: Double, startFactor: Double, endFactor: Double, totalIters: Int, totalSteps: Int
  ) -> [Double] {
    var current = lr
    return (0..<totalSteps).map { lastEpoch in
      if lastEpoch == 0 {
        current = lr * startFactor
      } else if lastEpoch <= totalIters {
        current *=
          1.0 + (endFactor - startFactor)
          / (Double(totalIters) * startFactor + Double(lastEpoch - 1) * (endFactor - startFactor))
      }
      return current
    }
  }

  // MARK: fastai

  /// `sched_cos(start, end, pos)`.
  static func schedCos(_ start: Double, _ end: Double, _ pos: Double) -> Double {
    start + (1 + cos(Double.pi * (1 - pos))) * (end - start) / 2
  }

  /// `combine_scheds(pcts, scheds)`: `pcts` become a float32 tensor whose CPU cumsum
  /// accumulates in double; the position is compared and reduced in float32.
  static func combineScheds(_ pcts: [Double], _ scheds: [(Double) -> Double])
    -> (Double) -> Double
  {
    var cumulative: [Float] = [0]
    var running = 0.0
    for pct in pcts {
      running += Double(Float(pct))
      cumulative.append(Float(running))
    }
    let pctLim = cumulative.count - 2
    return { pos in
      let pos32 = Float(pos)
      let idx = min(cumulative.indices.filter { pos32 >= cumulative[$0] }.max() ?? 0, pctLim)
      let actualPos = (pos32 - cumulative[idx]) / (cumulative[idx + 1] - cumulative[idx])
      return scheds[idx](Double(actualPos))
    }
  }

  /// `combined_cos(pct, start, middle, end)`.
  static func combinedCos(_ pct: Double, _ start: Double, _ middle: Double, _ end: Double)
    -> (Double) -> Double
  {
    combineScheds(
      [pct, 1 - pct], [{ schedCos(start, middle, $0) }, { schedCos(middle, end, $0) }])
  }

  /// `Learner.fit` with a `ParamScheduler`: `pct_train` is reset to `epoch / n_epoch` before
  /// each epoch and grows by `1 / (n_iter × n_epoch)` after each batch.
  static func fit(epochs: Int, batches: Int, _ schedule: (Double) -> Double) -> [Double] {
    var values: [Double] = []
    for epoch in 0..<epochs {
      var pctTrain = Double(epoch) / Double(epochs)
      for _ in 0..<batches {
        values.append(schedule(pctTrain))
        pctTrain += 1.0 / Double(batches * epochs)
      }
    }
    return values
  }
}
