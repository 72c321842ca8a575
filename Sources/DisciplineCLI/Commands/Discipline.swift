import ArgumentParser
import Foundation

@main
struct Discipline: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "discipline",
    abstract: "Tune a network's hyper-parameters with Leslie Smith's disciplined method.",
    subcommands: [
      TuneCommand.self, StudyCommand.self, LRFindCommand.self, FitCommand.self, TrialCommand.self,
      EvalCommand.self, BenchCommand.self, ScheduleCommand.self,
    ])

  static func main() {
    // A SIGCHLD ignored by whoever started discipline is inherited, and would let the system
    // reap the programs it runs before it reads how they ended.
    signal(SIGCHLD, SIG_DFL)
    main(nil)
  }
}
