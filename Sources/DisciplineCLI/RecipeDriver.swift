import ArgumentParser
import Foundation
import RunFolders
import TrialProtocol
import Tuning

// What `tune` and `study` share around a recipe: its journal, its progress and its stop.

/// Opens `DIR/journal.jsonl`: on `--resume` a missing or foreign journal is missing input (66),
/// otherwise one that cannot be written cannot be created (73).
func openJournal(in outURL: URL, settings: [String: String], resume: Bool) throws -> Journal {
  do {
    return try Journal(
      url: outURL.appendingPathComponent("journal.jsonl"), settings: settings, resume: resume)
  } catch {
    throw CommandError(error.description, exitCode: resume ? 66 : 73)
  }
}

/// Runs `body` on a recipe with its progress on stderr (against `budget`, infinite for none)
/// and Ctrl-C or SIGTERM wired to a resumable stop: an interrupted recipe says how to
/// continue and exits with 130.
func driving<B: TuningBackend, T>(
  _ recipe: Recipe<B>, budget: Double, stop: StopSignal, out: String, _ body: () throws -> T
) throws -> T {
  let progress = TuneProgress(budget: budget, elapsed: { recipe.elapsed })
  recipe.onEvent = progress.handle
  recipe.shouldStop = { stop.isRequested }
  do { return try body() } catch is Recipe<B>.Interrupted {
    printError(
      "\nstopped; finished trials are in \(out)/journal.jsonl — continue with the same command and --resume"
    )
    throw ExitCode(130)
  }
}

/// Where a recipe command works: its output folder (an earlier run's trials cleared unless it
/// resumes), the stop signal that Ctrl-C sets, and the runner of its trials (nil: the built-in
/// engine in this process).
func recipeWorkplace(
  out: String, resume: Bool, program: ProgramOptions, executor: ExecutorOptions
) throws -> (outURL: URL, stop: StopSignal, runner: (any TrialRunner)?) {
  let outURL = try prepareOutputDirectory(out)
  try clearTrials(in: outURL, resume: resume)
  return (outURL, StopSignal(), try executor.runner(program: program, outURL: outURL))
}
