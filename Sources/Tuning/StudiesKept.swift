import Foundation

// Which studies a budget too short for the whole recipe keeps (the floor): each study costed
// at its smallest with room to decide, kept in the order of `studiesKeptFirst` where it fits,
// the rest left out with their reasons.

extension Recipe {
  /// The studies a budget too short for the whole recipe keeps, in this order, each where it
  /// fits beside those kept before it: the batch size first (at a short budget it decides how
  /// many updates the final run gets: on Fashion-MNIST's cnn batch 64 led 128 by 6–26% in
  /// trials of 3 to 29 s, past noise of 3–13%, where momentum and weight decay tied inside
  /// theirs), then momentum (Smith's usual 0.95 → 0.85 settles its ties), then weight decay
  /// (its ties settle at the prior, and its two range tests make it dear). What is left at the
  /// least is the first LR range test and the final run: fastai's `lr_find` and
  /// `fit_one_cycle`, with the priors said as such.
  public static var studiesKeptFirst: [Phase] { [.batchSize, .momentum, .weightDecay] }

  /// The range-test sweeps (their batch sizes) and trials of a study at its smallest.
  func smallestWork(of phase: Phase) -> (sweeps: [Int], trials: Int) {
    switch phase {
    case .batchSize:
      // The candidates the phase would sweep and try with trials this short (one whose equal
      // time gives fewer than `minimumTrialSteps` is neither: batch 512's sweep beside a
      // 100-step trial at 128 was a fifth of a 3-minute tune's plan, and never ran).
      let tried = settings.batchSizes.filter {
        $0 == settings.startBatchSize
          || trialSteps(seconds: smallestTrialSeconds, batchSize: $0)
            >= settings.minimumTrialSteps
      }
      return tried.count < 2 ? ([], 0) : (tried, tried.count + noiseRepeats)
    case .momentum: return ([], momentumTrials)
    case .weightDecay:
      return ([settings.startBatchSize, settings.startBatchSize], weightDecayTrials)
    default: return ([], 0)
    }
  }

  /// The smallest budget that holds the first range test and the studies `phases` (those the
  /// program applies) at the measured throughput: the time already spent (loading the data, a
  /// throughput probe), range tests at full length beside studies (`minimumRangeTestSteps`
  /// without any; no regularization study) and trials of `studiedTrialSteps`, as the tuning's share of the budget, and a final run at
  /// least as long as all that (below it, the choices would cost more than the training they
  /// are for) that keeps its own share.
  func minimumBudget(studying phases: [Phase] = studiesKeptFirst) -> Double {
    minimumTuningSeconds(studying: phases) / min(0.5, 1 - settings.finalShare)
  }

  /// The steps a study's trials get at the least where the budget keeps it: twice the fewest
  /// that can separate anything (`minimumTrialSteps`). Near the bare minimum the trials tie
  /// within their noise, the stated defaults settle them, and their time is lost to the final
  /// run: a 20-minute tune of a PyTorch script, 1.3 times the budget the whole recipe needs
  /// at that minimum, ran momentum trials of 93 steps and weight-decay trials of 124, every
  /// choice of both a tie, and lost to the script's own defaults by its final run's epochs.
  var studiedTrialSteps: Int { 2 * settings.minimumTrialSteps }

  /// Seconds of the tuning at its smallest with the studies `phases`, the time already spent
  /// included.
  /// Range tests are costed at the length they will run: `rangeTestSteps` beside a study (a
  /// study is left out before any range test is shortened: the learning rate matters more
  /// than the momentum or weight decay a short sweep's trials would choose), the fewest that
  /// read a curve (`minimumRangeTestSteps`) where none is kept.
  func minimumTuningSeconds(studying phases: [Phase] = studiesKeptFirst) -> Double {
    let work = phases.filter { notApplied($0) == nil }.map(smallestWork(of:))
    let sweeps = [settings.startBatchSize] + work.flatMap(\.sweeps)
    let steps = work.isEmpty ? settings.minimumRangeTestSteps : settings.rangeTestSteps
    // The first study's noise measurement repeats two trials (`firstNoiseExtra`).
    let trials = work.map(\.trials).reduce(0, +)
    let extra = trials > 0 && settings.measuresNoise ? 1 : 0
    return elapsed + sweepSeconds(sweeps, firstSteps: steps)
      + Double(trials + extra) * smallestTrialSeconds
  }

  /// Seconds of a study's trial at its smallest: `studiedTrialSteps` at the starting batch
  /// size with one pass; a program starts once per trial.
  var smallestTrialSeconds: Double {
    let b = settings.startBatchSize
    return Double(studiedTrialSteps * b) / throughput(b) * Self.rangeTestOverhead
      + costs.overhead(evaluations: 1)
  }

  /// Keeps, in the order of `studiesKeptFirst`, each study the budget holds beside those kept
  /// before it (`minimumBudget`), and leaves out the rest, each with the reason its phase
  /// reports.
  /// Throws when even the first range test and a final run do not fit, naming the smallest
  /// budget that would and the one the whole recipe needs. A resumed run never throws (it has
  /// shown it fits), and its phases with journaled work run whatever this decides.
  func fitStudiesToBudget() throws {
    let optional = Self.studiesKeptFirst.filter { notApplied($0) == nil }
    let whole = minimumBudget(studying: optional)
    guard settings.budget < whole else { return }
    func rounded(_ s: Double) -> Double { (s / 10).rounded(.up) * 10 }
    // The studies kept first where the budget holds them (`studiesKeptFirst`), each the others
    // kept so far leave room for.
    var kept: [Phase] = []
    for phase in Self.studiesKeptFirst where optional.contains(phase) {
      if minimumBudget(studying: kept + [phase]) <= settings.budget { kept.append(phase) }
    }
    guard minimumBudget(studying: kept) <= settings.budget else {
      guard journal.entries.isEmpty else { return }
      throw RecipeError(
        description: String(
          format:
            "a budget of %.0f s cannot hold even the first LR range test and a final run as long as it here: at the measured %.0f samples/s a range test of %d steps takes about %.0f s with the %.0f s already spent (loading, a throughput probe)%@; the smallest budget that would is about %.0f s (--budget %.0fs), and the whole recipe (batch size, momentum and weight decay studied) needs about %.0f s",
          settings.budget, throughput(settings.startBatchSize),
          settings.minimumRangeTestSteps, minimumTuningSeconds(studying: []), elapsed,
          costs.evaluationPassSeconds.map {
            String(
              format:
                "; each run of your program takes %.1f s to start and %.1f s per validation pass",
              startupSeconds, $0)
          } ?? "", rounded(minimumBudget(studying: [])), rounded(minimumBudget(studying: [])),
          rounded(whole)))
    }
    let left = optional.filter { !kept.contains($0) }
    keptStudiesSeconds = minimumTuningSeconds(studying: kept)
    let holds = (["the first LR range test"] + kept.map(\.rawValue)).joined(separator: ", ")
    for phase in left where !journal.entries.contains(where: { $0.phase == phase }) {
      let work = smallestWork(of: phase)
      let cost = [
        work.sweeps.isEmpty
          ? nil : "\(work.sweeps.count) range test\(work.sweeps.count == 1 ? "" : "s")",
        "\(work.trials) trial\(work.trials == 1 ? "" : "s")",
      ].compactMap { $0 }.joined(separator: " and ")
      leftOut[phase] = String(
        format:
          "not studied: a budget of %.0f s holds %@ and a final run, not the %@ study's %@ too (the whole recipe needs about %.0f s here)",
        settings.budget, holds, phase.rawValue, cost, rounded(whole))
    }
    onEvent?(
      .note(
        String(
          format:
            "a budget of %.0f s holds %@ and a final run: %@ not studied, the stated defaults taken (the whole recipe needs about %.0f s here, --budget %.0fs)",
          settings.budget, holds,
          left.map(\.rawValue).joined(separator: ", "), rounded(whole),
          rounded(whole))))
  }
}
