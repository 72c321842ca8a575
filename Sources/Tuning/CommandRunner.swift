import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Carries out specs with the user's own training program (`--command`): one fresh process per
/// spec, run without a shell in its own process group, its standard output and error kept in
/// the spec's directory. It reads the program's events as they are appended, hands them to the
/// consumer (which decides when to stop), and asks the program to stop through the stop file;
/// a program that ignores it gets SIGTERM, then SIGKILL (Docs/PROTOCOL.md).
public final class CommandRunner: TrialRunner {
  /// The argument vector, placeholders not yet replaced.
  public let template: [String]
  /// Seconds without a new event after which the program is taken to hang, and killed.
  public var trialTimeout: Double
  /// Seconds between asking to stop and SIGTERM, and between SIGTERM and SIGKILL.
  public var grace: Double = 10
  /// Checked while the program runs: the user stopped discipline.
  public var shouldStop: () -> Bool
  /// Extra environment variables for the program (threads, devices).
  public var environment: [String: String] = [:]

  /// The placeholders a template may use, replaced by the spec's values.
  public static let placeholders = [
    "spec", "dir", "kind", "key", "batch_size", "seed", "weight_decay", "dropout", "augmentation",
    "steps", "threads",
  ]

  /// Parses `command` (split as a shell would — quotes group words, a backslash escapes — but
  /// never run by one) and checks its placeholders.
  public init(
    command: String, trialTimeout: Double = 600, shouldStop: @escaping () -> Bool = { false }
  ) throws(ProgramError) {
    template = try Self.split(command)
    guard !template.isEmpty else { throw ProgramError("--command is empty") }
    for word in template {
      var rest = Substring(word)
      while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
        let name = String(rest[rest.index(after: open)..<close])
        guard Self.placeholders.contains(name) else {
          throw ProgramError(
            "--command uses {\(name)}, which is not a placeholder; use one of \(Self.placeholders.map { "{\($0)}" }.joined(separator: ", "))"
          )
        }
        rest = rest[rest.index(after: close)...]
      }
    }
    self.trialTimeout = trialTimeout
    self.shouldStop = shouldStop
  }

  /// Runs `arguments` (placeholders allowed, as in a command), e.g. `discipline trial --spec {spec}`.
  public init(
    arguments: [String], trialTimeout: Double = 600, shouldStop: @escaping () -> Bool = { false }
  ) {
    template = arguments
    self.trialTimeout = trialTimeout
    self.shouldStop = shouldStop
  }

  /// Words of a command line: whitespace separates them, single quotes keep everything, double
  /// quotes keep all but backslash escapes, a backslash outside quotes escapes one character.
  public static func split(_ command: String) throws(ProgramError) -> [String] {
    var words: [String] = []
    var word = ""
    var inWord = false
    var quote: Character?
    var escaped = false
    for c in command {
      if escaped {
        word.append(c)
        escaped = false
        continue
      }
      if let q = quote {
        if c == q {
          quote = nil
        } else if c == "\\" && q == "\"" {
          escaped = true
        } else {
          word.append(c)
        }
        continue
      }
      switch c {
      case "'", "\"":
        quote = c
        inWord = true
      case "\\":
        escaped = true
        inWord = true
      case " ", "\t", "\n":
        if inWord { words.append(word) }
        word = ""
        inWord = false
      default:
        word.append(c)
        inWord = true
      }
    }
    if quote != nil { throw ProgramError("--command has an unclosed \(quote!) quote") }
    if inWord { words.append(word) }
    return words
  }

  /// Threads a program may use: `threadsPerSlot`, or every core.
  var threads: Int { threadsPerSlot ?? ProcessInfo.processInfo.activeProcessorCount }

  /// The argument vector for a spec in `directory`.
  func arguments(for spec: TrialSpec, in directory: URL) -> [String] {
    let values: [String: String] = [
      "spec": directory.appendingPathComponent(TrialSpec.specFile).path, "dir": directory.path,
      "kind": spec.kind.rawValue,
      "key": spec.key, "batch_size": "\(spec.batchSize)", "seed": "\(spec.seed)",
      "weight_decay": "\(spec.weightDecay)",
      "dropout": "\(spec.dropout)", "augmentation": spec.augmentation, "steps": "\(spec.steps)",
      "threads": "\(threads)",
    ]
    return template.map { word in
      var w = word
      for (name, value) in values { w = w.replacingOccurrences(of: "{\(name)}", with: value) }
      return w
    }
  }

  /// Programs run side by side: `runAll` keeps this many going at once.
  public var slots = 1
  /// Threads each program may use when `slots` run at once: passed as {threads},
  /// `DISCIPLINE_THREADS` and `OMP_NUM_THREADS` (nil: the program's own choice).
  public var threadsPerSlot: Int?
  /// Whether a run writes its spec into its directory first; `discipline trial --command` on a
  /// cluster node runs a spec that is already there (written by the discipline that submitted it).
  public var writesSpec = true

  public func run(_ spec: TrialSpec, directory: URL?, observe: (TrialEvent) -> TrialDecision) throws
    -> TrialRunResult
  {
    guard let directory else {
      throw ProgramError("a --command trial needs a directory for its files")
    }
    return try withoutActuallyEscaping(observe) { observe in
      let run = try CommandRun(runner: self, spec: spec, directory: directory, observe: observe)
      while !run.poll() { usleep(20_000) }
      return try run.finish()
    }
  }

  /// Runs the jobs, up to `slots` programs at a time, each as `run` would.
  public func runAll(_ jobs: [TrialJob]) throws -> [TrialRunResult] {
    guard slots > 1, jobs.count > 1 else { return try runSequentially(jobs) }
    var results = [TrialRunResult?](repeating: nil, count: jobs.count)
    var running: [(index: Int, run: CommandRun)] = []
    var next = 0
    while next < jobs.count || !running.isEmpty {
      while running.count < slots && next < jobs.count {
        let job = jobs[next]
        if let done = job.finishedEarlier() {
          results[next] = done
        } else if shouldStop() {
          var result = TrialRunResult(key: job.spec.key, kind: job.spec.kind)
          result.status = .interrupted
          results[next] = result
        } else {
          guard let directory = job.directory else {
            throw ProgramError("a --command trial needs a directory for its files")
          }
          running.append(
            (
              next,
              try CommandRun(
                runner: self, spec: job.spec, directory: directory, observe: job.observe)
            ))
        }
        next += 1
      }
      var stillRunning: [(index: Int, run: CommandRun)] = []
      for entry in running {
        if entry.run.poll() {
          results[entry.index] = try entry.run.finish()
        } else {
          stillRunning.append(entry)
        }
      }
      running = stillRunning
      if !running.isEmpty { usleep(20_000) }
    }
    return results.map { $0! }
  }

  /// The last `count` lines of a text file ("" when it is empty or missing).
  static func lastLines(of url: URL, count: Int) -> String {
    guard let data = try? Data(contentsOf: url), !data.isEmpty else { return "" }
    let text = String(decoding: data.suffix(8192), as: UTF8.self)
    return text.split(separator: "\n").suffix(count).map { "  " + $0 }.joined(separator: "\n")
  }
}

/// A problem with `--command` or running it, in words.
public struct ProgramError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Reads the complete lines appended to a file since the last call.
struct LineTail {
  let url: URL
  private var handle: FileHandle?
  private var partial = Data()
  private var lineNumber = 0
  private var inode: ino_t = 0

  init(url: URL) { self.url = url }

  /// New complete lines with their 1-based numbers; with `final`, a last line without a newline too.
  mutating func newLines(final: Bool = false) -> [(number: Int, text: String)] {
    // A file replaced under the same name (a new inode) is read from its start.
    var info = stat()
    if stat(url.path, &info) == 0, info.st_ino != inode {
      handle = FileHandle(forReadingAtPath: url.path)
      inode = info.st_ino
      partial.removeAll()
      lineNumber = 0
    }
    guard let handle else { return [] }
    partial.append(handle.readDataToEndOfFile())
    var lines: [(Int, String)] = []
    var start = partial.startIndex
    while let newline = partial[start...].firstIndex(of: UInt8(ascii: "\n")) {
      lineNumber += 1
      lines.append((lineNumber, String(decoding: partial[start..<newline], as: UTF8.self)))
      start = partial.index(after: newline)
    }
    partial.removeSubrange(partial.startIndex..<start)
    if final, !partial.isEmpty {
      lineNumber += 1
      lines.append((lineNumber, String(decoding: partial, as: UTF8.self)))
      partial.removeAll()
    }
    return lines
  }
}

/// A child process in its own process group, its output sent to files.
final class ChildProcess {
  enum Exit: Equatable {
    case exited(Int32)
    case signaled(Int32)
  }
  let pid: pid_t
  private var exit: Exit?

  init(
    arguments: [String], environment: [String: String], standardOutput: String,
    standardError: String
  ) throws(ProgramError) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(
      &actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(
      &actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
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
      throw ProgramError("cannot run \(arguments[0]): \(String(cString: strerror(status)))")
    }
    self.pid = pid
  }

  /// The exit, once the process has ended (without blocking).
  func poll() -> Exit? {
    if let exit { return exit }
    var status: Int32 = 0
    let r = waitpid(pid, &status, WNOHANG)
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

  deinit {
    if exit == nil {
      kill(-pid, SIGKILL)
      var status: Int32 = 0
      waitpid(pid, &status, 0)
    }
  }
}
