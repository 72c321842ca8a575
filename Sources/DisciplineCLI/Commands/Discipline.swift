import ArgumentParser

@main
struct Discipline: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "discipline",
    abstract: "Tune a network's hyper-parameters with Leslie Smith's disciplined method.",
    subcommands: [
      TuneCommand.self, StudyCommand.self, LRFindCommand.self, FitCommand.self, TrialCommand.self,
      EvalCommand.self, BenchCommand.self, ScheduleCommand.self,
    ])
}
