import ArgumentParser
import Foundation
import RunFolders
import Schedules
import TrialProtocol

/// `discipline schedule POLICY …`: print or write a schedule's learning rate and momentum for
/// every step, as CSV, JSON or an SVG chart.
struct ScheduleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schedule",
    abstract: "Print or plot a learning-rate (and momentum) schedule, step by step.",
    discussion: """
      Row k holds the values in force for the k-th optimizer step: what PyTorch's optimizer \
      holds before its k-th step() when the scheduler is stepped after each, and what fastai \
      sets before batch k. Policies:
      \(PolicyName.allCases.map { "  \($0.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0))\($0.summary)" }.joined(separator: "\n"))

      Examples:
        discipline schedule one-cycle --max-lr 0.1 --total-steps 1000
        discipline schedule one-cycle --variant smith --max-lr 0.8 --total-steps 1000
        discipline schedule cyclic --base-lr 0.08 --max-lr 0.8 --step-size-up 200 \\
          --total-steps 800
        discipline schedule cosine --lr 0.1 --warmup-steps 50 --total-steps 500
        discipline schedule step --lr 0.1 --step-size 30 --total-steps 90 --format svg
      """)

  @Argument(
    help: ArgumentHelp("The policy (listed above).", valueName: "policy"))
  var policy: ChoiceArgument<PolicyName>

  @Option(parsing: .unconditional, help: "Optimizer steps in the run, T; rows are steps 0 … T−1.")
  var totalSteps: Int

  @OptionGroup(title: "Policy parameters")
  var parameters: PolicyParameters

  @Option(
    parsing: .unconditional,
    help: "The momentum shown where the policy does not cycle it (default 0.9).")
  var momentum: Double?

  @Option(help: ArgumentHelp("Output format.", valueName: "csv|json|svg"))
  var format = ChoiceArgument(ScheduleFormat.csv)

  @Option(help: ArgumentHelp("svg: learning-rate axis scale.", valueName: "linear|log"))
  var lrAxis = ChoiceArgument(LearningRateAxis.linear)

  @Option(help: "Write to this file instead of standard output.")
  var out: String?

  func run() throws {
    do {
      let policy = try self.policy.value(for: "the policy")
      let format = try self.format.value(for: "--format")
      let lrAxis = try self.lrAxis.value(for: "--lr-axis")
      let schedule = try parameters.makeSchedule(policy, totalSteps: totalSteps)
      if schedule.cyclesMomentum, momentum != nil {
        throw ValidationError(
          "--momentum applies only where momentum is not cycled; \(policy.rawValue) cycles it "
            + "(see --base-momentum, --max-momentum, --no-cycle-momentum).")
      }
      let constantMomentum = momentum ?? 0.9
      guard constantMomentum.isFinite, (0...1).contains(constantMomentum) else {
        throw ValidationError(
          "--momentum must be a finite number in [0, 1]; got \(constantMomentum).")
      }
      // The chart's title names each parameter by its flag without the dashes (`pct-start`).
      let table = ScheduleTable(
        schedule: schedule, constantMomentum: constantMomentum,
        parameterName: { String(PolicyParameters.flag(for: $0).dropFirst(2)) })
      let text: String
      switch format {
      case .csv: text = table.csv()
      case .json: text = try table.json()
      case .svg: text = table.svg(learningRateScale: lrAxis)
      }
      if let out {
        try writeText(text, to: out)
      } else {
        FileHandle.standardOutput.write(Data(text.utf8))
      }
    } catch let error as ValidationError {
      // One line and the usage-error exit code (64), without the usage text.
      FileHandle.standardError.write(Data("Error: \(error.message)\n".utf8))
      throw ExitCode.validationFailure
    } catch let error as RunFolderError {
      FileHandle.standardError.write(Data("Error: \(error.description)\n".utf8))
      throw ExitCode(error.exitCode)
    }
  }
}

/// The output formats of `discipline schedule`.
enum ScheduleFormat: String, CaseIterable {
  case csv, json, svg
}

extension LearningRateAxis: ExpressibleByArgument {}
