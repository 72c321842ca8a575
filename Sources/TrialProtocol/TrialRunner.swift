import Foundation

/// Carries out trial specs — the one abstraction every way of training conforms to: the
/// built-in engine in this process (`SessionRunner`), the user's program or `discipline trial`
/// as local processes (`CommandRunner`), Slurm tasks (`SlurmRunner`), a test's fake. A runner
/// takes a batch of independent jobs, runs them (side by side where it has slots), hands each
/// job's events to its consumer as they come, and returns their results in the jobs' order.
public protocol TrialRunner {
  /// Jobs run at once; the recipe plans a phase's trials in rounds of this many.
  var slots: Int { get }
  /// Runs independent jobs (results in the jobs' order). A job whose directory holds a finished
  /// run of the same spec is not run again (`TrialJob.finishedEarlier`). `shouldStop` is asked
  /// while they run: when it says so, runs end as `interrupted` and jobs not started are not.
  func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws -> [TrialRunResult]
}

extension TrialRunner {
  public var slots: Int { 1 }

  /// Runs one spec (writing its files into `directory`, when given), handing every event to
  /// `observe` as it happens and stopping the run when it answers `.stop`.
  public func run(
    _ spec: TrialSpec, directory: URL?, shouldStop: @escaping () -> Bool = { false },
    observe: (TrialEvent) -> TrialDecision
  ) throws -> TrialRunResult {
    try withoutActuallyEscaping(observe) { observe in
      try runAll(
        [TrialJob(spec: spec, directory: directory, observe: observe)], shouldStop: shouldStop)[0]
    }
  }

  /// The jobs one after another through `runOne`, reusing finished runs, and not starting
  /// another once `shouldStop` says so.
  public func runEach(
    _ jobs: [TrialJob], shouldStop: () -> Bool, _ runOne: (TrialJob) throws -> TrialRunResult
  ) rethrows -> [TrialRunResult] {
    try jobs.map { job in
      if let done = job.finishedEarlier() { return done }
      if shouldStop() { return .interrupted(job.spec) }
      return try runOne(job)
    }
  }
}

extension TrialRunResult {
  /// The result of a spec that was never started because discipline was stopped.
  public static func interrupted(_ spec: TrialSpec) -> TrialRunResult {
    var result = TrialRunResult(key: spec.key, kind: spec.kind)
    result.status = .interrupted
    return result
  }
}
