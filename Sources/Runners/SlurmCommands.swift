import Foundation
import TrialProtocol

// What the Slurm runner asks of Slurm's commands and how it reads their answers: sbatch's
// options it owns, squeue's states and pending reasons, the identity of a job, scancel's and
// scontrol's answers, and running any of them.
extension SlurmRunner {
  /// The name every job of discipline's is submitted under (squeue's `%j`).
  static let jobName = "discipline"

  /// The user discipline runs as.
  static var userName: String {
    guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else {
      return String(getuid())
    }
    return String(cString: name)
  }

  /// Why job `task`, as squeue lists it now, is not the task this record was written for —
  /// another job's name, another user's, another script (a job id Slurm reused, another run's
  /// task) — or nil when it is (or squeue gave no answer to tell). Such a job is never watched
  /// nor cancelled: the record's own task is gone, and its spec is submitted again.
  func foreignJob(_ record: TaskRecord) throws -> String? {
    let (status, output, _) = try Self.shell([
      "squeue", "--noheader", "--array", "--jobs=\(Self.jobID(of: record.task))", "--states=all",
      "--format=%i|%j|%u|%o",
    ])
    guard status == 0 else { return nil }
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard fields.count >= 4, fields[0] == record.task else { continue }
      var differences: [String] = []
      if fields[1] != Self.jobName { differences.append("its name is \"\(fields[1])\"") }
      let user = record.user ?? Self.userName
      if fields[2] != user {
        differences.append("its user is \(fields[2]), not \(user)")
      }
      if let command = record.command, fields[3...].joined(separator: "|") != command {
        differences.append("it runs \(fields[3...].joined(separator: "|")), not \(command)")
      }
      return differences.isEmpty
        ? nil : differences.joined(separator: ", ").printable
    }
    return nil
  }

  /// The options of sbatch that discipline sets itself and relies on: the array's tasks map
  /// to the spec folders in order (`--array`), each task's log is where the failure message
  /// points (`--output`), the jobs are discipline's by name (`--job-name`). Long options as
  /// sbatch reads them, which includes any unambiguous abbreviation ("--arr=1-9").
  static let ownOptions: [(long: String, short: Character)] = [
    ("array", "a"), ("output", "o"), ("job-name", "J"),
  ]
  /// sbatch's short options that take no value: others may be followed by theirs in the same
  /// word ("-p-o" is partition "-o"), which then holds no further option.
  static let flagsWithoutValue = Set("hHOQsuvVW")

  /// The first of `arguments` (--slurm-args) that would set one of `ownOptions`, as written.
  package static func overridingOption(in arguments: [String]) -> String? {
    for word in arguments {
      if word.hasPrefix("--") {
        let name = word.dropFirst(2).prefix { $0 != "=" }
        if !name.isEmpty, ownOptions.contains(where: { $0.long.hasPrefix(name) }) { return word }
      } else if word.hasPrefix("-") {
        for c in word.dropFirst() {
          if ownOptions.contains(where: { $0.short == c }) { return word }
          if !flagsWithoutValue.contains(c) { break }
        }
      }
    }
    return nil
  }

  package static func overrideMessage(_ option: String) -> String {
    "--slurm-args: \(option) sets what discipline sets itself (--array maps the tasks to the trials' folders, --output is each task's log, --job-name marks the jobs as discipline's); leave it out"
  }

  /// Pending reasons that no wait will clear: the job asks for what the partition cannot give,
  /// a limit on one job it exceeds (`QOSMaxCpuPerJobLimit`, `AssocMaxWallDurationPerJobLimit`),
  /// a dependency that can no longer be met. squeue may add detail after the word
  /// (`ReqNodeNotAvail, UnavailableNodes:node[1-2]`), so the reason's first word decides.
  static func neverStarts(_ reason: String) -> Bool {
    let word = String(reason.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
    return [
      "PartitionConfig", "BadConstraints", "PartitionNodeLimit", "PartitionTimeLimit",
      "InvalidAccount", "InvalidQOS", "PartitionDown", "PartitionInactive",
      "DependencyNeverSatisfied",
    ].contains(word) || reason.hasPrefix("ReqNodeNotAvail, UnavailableNodes")
      || word.hasSuffix("PerJobLimit")
  }

  /// Pending reasons that are the array's own pacing (`%K`: a task waits for a slot of its
  /// array): not a wait for the cluster, so not counted against a task's time.
  static func ownPacing(_ reason: String?) -> Bool {
    guard let reason else { return true }
    return reason.hasPrefix("JobArrayTaskLimit") || reason == "None" || reason.isEmpty
  }

  /// The state of every task of a job ("JOB_INDEX" → "RUNNING"); empty when Slurm no longer
  /// knows the job, nil when squeue did not answer (the controller busy or restarting) or
  /// answered what is not its table: a line that is not this job's task, its state in
  /// capitals and the rest. Only a clean answer may say a task is gone — one read as gone is
  /// given up, or submitted again on resume.
  func states(ofJob id: String) throws -> [String: String]? {
    let (status, output, error) = try Self.shell([
      "squeue", "--noheader", "--array", "--jobs=\(id)", "--states=all", "--format=%i|%T|%N|%r",
    ])
    guard status == 0 else {
      if error.lowercased().contains("invalid job id") { return [:] }
      let message = error.trimmingCharacters(in: .whitespacesAndNewlines)
      lastSqueueProblem =
        "exit \(status)\(message.isEmpty ? "" : ": " + String(message.prefix(300)).printable)"
      return nil
    }
    var states: [String: String] = [:]
    for line in output.split(separator: "\n") where !line.allSatisfy(\.isWhitespace) {
      let fields = line.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard fields.count >= 2, Self.isTask(fields[0], ofJob: id),
        let word = fields[1].split(separator: " ").first,
        word.allSatisfy({ ("A"..."Z").contains($0) || $0 == "_" })
      else {
        lastSqueueProblem = "it printed \"\(String(line.prefix(200)).printable)\""
        return nil
      }
      states[fields[0]] = fields[1]
      if fields.count >= 3, !fields[2].isEmpty, !fields[2].hasPrefix("(") {
        nodes[fields[0]] = fields[2]
      }
      if fields.count >= 4 { reasons[fields[0]] = fields[3...].joined(separator: "|") }
    }
    return states
  }

  /// The exit code of an ended task, from `scontrol show job` ("ExitCode=7:0"); nil when unknown.
  func exitCode(of task: String) -> Int32? {
    guard let (status, output, _) = try? Self.shell(["scontrol", "show", "job", task]), status == 0,
      let range = output.range(of: "ExitCode=")
    else { return nil }
    return Int32(output[range.upperBound...].prefix { $0.isNumber })
  }

  /// Slurm's states after which a task runs no more.
  static func ended(_ state: String) -> Bool {
    [
      "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
      "DEADLINE", "OUT_OF_MEMORY",
      "SPECIAL_EXIT", "REVOKED",
    ].contains(state.split(separator: " ").first.map(String.init) ?? state)
  }

  static func jobID(of task: String) -> String { String(task.prefix { $0 != "_" }) }

  /// Whether squeue's first column names a task of job `id`: "ID_INDEX", or a pending
  /// remainder of the array ("ID_[3-9%2]"), or the job itself.
  static func isTask(_ field: String, ofJob id: String) -> Bool {
    guard field.hasPrefix(id) else { return false }
    let rest = field.dropFirst(id.count)
    return rest.isEmpty
      || (rest.first == "_" && rest.count > 1
        && rest.dropFirst().allSatisfy { "0123456789[]-,%".contains($0) })
  }

  static func readRecord(in directory: URL) -> TaskRecord? {
    guard let data = try? Data(contentsOf: directory.appendingPathComponent("slurm.json")) else {
      return nil
    }
    return try? JSONDecoder().decode(TaskRecord.self, from: data)
  }

  /// A word as the shell reads it back unchanged.
  static func quoted(_ word: String) -> String {
    "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
  }

  /// Runs a Slurm command: its exit status, standard output and standard error (through
  /// temporary files, waited for with waitpid: Foundation's Process can miss a child's end).
  static func shell(_ arguments: [String]) throws -> (Int32, String, String) {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent(
      "discipline-\(getpid())-\(UUID().uuidString)")
    let out = base.path + ".out"
    let err = base.path + ".err"
    defer {
      unlink(out)
      unlink(err)
    }
    let child: ChildProcess
    do {
      child = try ChildProcess(
        arguments: arguments, environment: ProcessInfo.processInfo.environment, standardOutput: out,
        standardError: err)
    } catch {
      throw ProgramError(
        "cannot run \(arguments[0]) (is Slurm installed and on the PATH?): \(error.description)")
    }
    let status: Int32
    switch child.wait() {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    case .unknown: status = 0  // reaped unseen: its output says how it went
    }
    let text = { (path: String) in
      String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
    return (status, text(out), text(err))
  }
}
