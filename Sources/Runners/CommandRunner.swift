import Foundation
import TrialProtocol

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
  /// Extra environment variables for the program (threads, devices).
  public var environment: [String: String] = [:]
  /// Told what was done about a program an earlier, killed discipline left in a spec's
  /// directory (ended, or not signalled and why): the CLI's progress notes.
  public var onNote: ((String) -> Void)?

  /// The placeholders a template may use, replaced by the spec's values.
  public static let placeholders = ["spec", "dir"] + TrialSpec.wordNames + ["threads"]

  /// Parses `command` (split as a shell would — quotes group words, a backslash escapes — but
  /// never run by one) and checks its placeholders.
  public init(command: String, trialTimeout: Double = 600) throws(ProgramError) {
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
  }

  /// Runs `arguments` (placeholders allowed, as in a command), e.g. `discipline trial --spec {spec}`.
  public init(arguments: [String], trialTimeout: Double = 600) {
    template = arguments
    self.trialTimeout = trialTimeout
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

  /// The argument vector for a spec in `directory`. Each word is read once from left to
  /// right and a placeholder's value is copied as it is: a value that holds `{seed}` (a key,
  /// a directory) stays as written, whatever order the placeholders are looked up in.
  func arguments(for spec: TrialSpec, in directory: URL) -> [String] {
    let values = spec.words.merging([
      "spec": directory.appendingPathComponent(TrialSpec.specFile).path, "dir": directory.path,
      "threads": "\(threads)",
    ]) { $1 }
    return template.map { word in
      var out = ""
      var rest = Substring(word)
      while let open = rest.firstIndex(of: "{") {
        out += rest[..<open]
        if let close = rest[open...].firstIndex(of: "}"),
          let value = values[String(rest[rest.index(after: open)..<close])]
        {
          out += value
          rest = rest[rest.index(after: close)...]
        } else {
          out.append("{")
          rest = rest[rest.index(after: open)...]
        }
      }
      return out + rest
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

  /// Runs the jobs, up to `slots` programs at a time.
  public func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws
    -> [TrialRunResult]
  {
    var results = [TrialRunResult?](repeating: nil, count: jobs.count)
    var running: [(index: Int, run: CommandRun)] = []
    var next = 0
    while next < jobs.count || !running.isEmpty {
      while running.count < max(1, slots) && next < jobs.count {
        let job = jobs[next]
        if let done = job.finishedEarlier() {
          results[next] = done
        } else if shouldStop() {
          results[next] = .interrupted(job.spec)
        } else {
          guard let directory = job.directory else {
            throw ProgramError("a --command trial needs a directory for its files")
          }
          running.append(
            (
              next,
              try CommandRun(
                runner: self, spec: job.spec, directory: directory, shouldStop: shouldStop,
                observe: job.observe)
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

  /// The last `count` lines of a text file ("" when it is empty or missing), from its last
  /// 8 KiB, as a terminal shows them: of a line redrawn with carriage returns (a progress bar)
  /// the last drawing, and control characters made visible, so the program's escape codes
  /// do not reach the user's terminal through discipline's messages.
  static func lastLines(of url: URL, count: Int) -> String {
    guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
    defer { try? handle.close() }
    guard let size = try? handle.seekToEnd(), size > 0 else { return "" }
    try? handle.seek(toOffset: size > 8192 ? size - 8192 : 0)
    guard let data = try? handle.readToEnd() else { return "" }
    let text = String(decoding: data, as: UTF8.self)
    let lines = text.unicodeScalars.split(separator: "\n").compactMap { line -> String? in
      let drawn = line.split(separator: "\r").last { !String($0).allSatisfy(\.isWhitespace) }
      return drawn.map { String($0).printable }
    }
    return lines.suffix(count).map { "  " + $0 }.joined(separator: "\n")
  }
}

/// A problem with `--command` or running it, in words.
public struct ProgramError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
