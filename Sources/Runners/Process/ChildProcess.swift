import Foundation
import TrialProtocol

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A child process in its own process group, its output sent to files. The group is known to
/// `RunningWork` from its start until it is empty (or has been sent SIGKILL), so a second
/// Ctrl-C can end it.
final class ChildProcess {
  enum Exit: Equatable {
    case exited(Int32)
    case signaled(Int32)
    /// It ended, but its status was lost: this process ignores SIGCHLD (an inherited
    /// disposition), so the system reaped it.
    case unknown
  }
  let pid: pid_t
  private var exit: Exit?
  /// When what the main process left in its group was sent SIGTERM.
  private var groupTermSent: Date?

  init(
    arguments: [String], environment: [String: String], standardOutput: String,
    standardError: String
  ) throws(ProgramError) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    // Never through a symbolic link: one planted where the output goes would otherwise have
    // discipline truncate and overwrite whatever it points at.
    posix_spawn_file_actions_addopen(
      &actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o644)
    posix_spawn_file_actions_addopen(
      &actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o644)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attributes, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv + envp { free(pointer) }
    }
    var pid: pid_t = 0
    let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard status == 0 else {
      if status == ELOOP {
        throw ProgramError(
          "cannot run \(arguments[0]): \(standardOutput) or \(standardError) is a symbolic link, which discipline does not write through"
        )
      }
      throw ProgramError("cannot run \(arguments[0]): \(String(cString: strerror(status)))")
    }
    self.pid = pid
    RunningWork.started(group: pid)
  }

  /// The exit, once the process has ended (without blocking).
  func poll() -> Exit? {
    if let exit { return exit }
    var status: Int32 = 0
    let r = waitpid(pid, &status, WNOHANG)
    // ECHILD: no such child to wait for — it ended and was reaped for us (SIGCHLD ignored).
    if r < 0 && errno == ECHILD {
      exit = .unknown
      return exit
    }
    guard r == pid else { return nil }
    let signal = status & 0x7f
    exit = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    return exit
  }

  /// Waits for the process to end.
  func wait() -> Exit {
    while exit == nil {
      var status: Int32 = 0
      let r = waitpid(pid, &status, 0)
      if r == pid {
        let signal = status & 0x7f
        exit = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
      } else if r < 0 && errno == ECHILD {
        exit = .unknown
      } else if r < 0 && errno != EINTR {
        exit = .exited(127)
      }
    }
    return exit!
  }

  /// Sends `signal` to the whole process group (the program and what it started).
  func signal(_ signal: Int32) {
    guard exit == nil else { return }
    kill(-pid, signal)
  }

  /// Once the main process has ended, ends what it left in its process group (a data-loader
  /// worker, a background job, something that ignores SIGTERM): SIGTERM at once, SIGKILL after
  /// `grace` seconds. True once the group is empty or has been sent SIGKILL. Call until true;
  /// it never blocks. The group's id is the main process's pid, which the system does not give
  /// to another process while the group has members.
  func endLeftovers(grace: Double) -> Bool {
    guard exit != nil else { return false }
    guard kill(-pid, 0) == 0 else {  // ESRCH: nothing left
      RunningWork.ended(group: pid)
      return true
    }
    guard let sent = groupTermSent else {
      groupTermSent = Date()
      kill(-pid, SIGTERM)
      return false
    }
    guard Date().timeIntervalSince(sent) >= grace else { return false }
    kill(-pid, SIGKILL)
    RunningWork.ended(group: pid)
    return true
  }

  deinit {
    if exit == nil {
      kill(-pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
    } else if kill(-pid, 0) == 0 {
      kill(-pid, SIGKILL)  // leftovers of a run abandoned before `endLeftovers` finished
    }
    RunningWork.ended(group: pid)
  }
}
