import Foundation

/// What one run of the user's program costs outside its training steps, measured from its own
/// events: starting (interpreter, imports, data) and one validation pass. The built-in engine
/// in-process reads `validationBatches` batches per pass, which `Recipe.rangeTestOverhead`
/// covers; a program may read its whole split whatever the spec asks. A real epoch-loop script
/// spent 1 s starting and 5.6 s per pass over 6,000 validation images, so its "10-step" trials
/// cost 25–35 s each where the plan had counted one, and an 8-minute tune ran 17:32 (issue 24).
public struct RunCosts: Codable, Sendable, Equatable {
  /// The longest a run took to start training.
  public var startupSeconds = 0.0
  /// The longest one validation pass took (mean over a run's passes); nil until a program's
  /// run measured one (never in-process).
  public var evaluationPassSeconds: Double?

  public init(startupSeconds: Double = 0, evaluationPassSeconds: Double? = nil) {
    self.startupSeconds = startupSeconds
    self.evaluationPassSeconds = evaluationPassSeconds
  }

  /// Learns from a run of a program: its start and its passes (`evaluationSeconds` over
  /// `passes`). In-process runs (no start-up measured) teach nothing here.
  public mutating func record(startup: Double?, evaluationSeconds: Double, passes: Int) {
    guard let startup else { return }
    startupSeconds = max(startupSeconds, startup)
    if passes > 0 {
      let pass = evaluationSeconds / Double(passes)
      evaluationPassSeconds = max(evaluationPassSeconds ?? 0, pass)
    }
  }

  /// How a run of `seconds` in all divides between its passes and its training: at most
  /// `limit` passes, and passes taking at most half as long as the training (at least one, at
  /// the end, which a trial is read by). Without a measured pass, `limit` passes that cost
  /// nothing here.
  ///
  ///     RunCosts(startupSeconds: 1, evaluationPassSeconds: 5.6)
  ///       .split(seconds: 30, limit: 3)   // (evaluations: 2, training: 17.8)
  public func split(seconds: Double, limit: Int) -> (evaluations: Int, training: Double) {
    let usable = max(0, seconds - startupSeconds)
    guard let pass = evaluationPassSeconds, pass > 0 else { return (limit, usable) }
    // Passes at most a third of the run are at most half its training.
    let evaluations = max(1, min(limit, Int(usable / 3 / pass)))
    return (evaluations, max(0, usable - Double(evaluations) * pass))
  }

  /// Passes for a trial whose training takes `trainingSeconds`: `limit` without a measured
  /// pass, else as many as take at most half as long as the training (at least one).
  public func evaluations(trainingSeconds: Double, limit: Int) -> Int {
    guard let pass = evaluationPassSeconds, pass > 0 else { return limit }
    return max(1, min(limit, Int(trainingSeconds / 2 / pass)))
  }

  /// Validation passes for a range test whose training takes `trainingSeconds`: `limit`
  /// without a measured pass, else as many as take no longer than the training, between 3
  /// (fewer cannot show where the validation loss turns) and `limit`.
  public func rangeTestValidations(trainingSeconds: Double, limit: Int) -> Int {
    guard let pass = evaluationPassSeconds, pass > 0 else { return limit }
    return max(min(3, limit), min(limit, Int(trainingSeconds / pass)))
  }

  /// Seconds a run spends outside training with `evaluations` passes.
  public func overhead(evaluations: Int) -> Double {
    startupSeconds + Double(evaluations) * (evaluationPassSeconds ?? 0)
  }
}
