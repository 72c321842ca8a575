import ArgumentParser
import Foundation
import Schedules

/// The schedule a training command uses: `--policy POLICY` and the policy's parameters.
///
/// ```swift
/// struct Fit: ParsableCommand {
///   @OptionGroup(title: "Schedule") var schedule: PolicyOptions
///   func run() throws {
///     let schedule = try schedule.makeSchedule(totalSteps: epochs * batchesPerEpoch)
///   }
/// }
/// ```
struct PolicyOptions: ParsableArguments {
  @Option(
    name: .customLong("policy"),
    help: ArgumentHelp(
      "The learning-rate policy (default one-cycle).",
      valueName: PolicyName.allCases.map(\.rawValue).joined(separator: "|")))
  var policy = ChoiceArgument(PolicyName.oneCycle)

  @OptionGroup var parameters: PolicyParameters

  /// The schedule over `totalSteps` optimizer steps.
  ///
  /// - Throws: `ValidationError` with a one-line message naming the flag at fault.
  func makeSchedule(totalSteps: Int) throws -> Schedule {
    try parameters.makeSchedule(try policy.value(for: "--policy"), totalSteps: totalSteps)
  }
}
