import Dispatch
import Foundation
import Runners
import Synchronization

/// Turns SIGINT (Ctrl-C) and SIGTERM into a request to stop at the end of the current step,
/// so a training command can save a resumable checkpoint and exit cleanly. A second signal
/// ends the process at once — and first what it started (`RunningWork`): the programs' process
/// groups get SIGKILL and the Slurm jobs `scancel`, where they would otherwise run on for
/// nobody. That takes at most a few seconds (scancel is not waited for longer).
final class StopSignal: Sendable {
  private let requested = Atomic<Bool>(false)
  nonisolated(unsafe) private var sources: [any DispatchSourceSignal] = []

  init() {
    for sig in [SIGINT, SIGTERM] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler { [self] in
        if requested.exchange(true, ordering: .relaxed) {
          printError("\nstopping now")
          for note in RunningWork.endAll() { printError("  note: " + note) }
          exit(130)
        }
        printError(
          "\nstopping after this step; a resumable checkpoint will be saved (signal again to quit at once)"
        )
      }
      source.resume()
      sources.append(source)
    }
  }

  var isRequested: Bool { requested.load(ordering: .relaxed) }
}
