import Foundation
import TrialProtocol

/// Carries out specs as Slurm jobs: the specs handed over together (a phase's) become one job
/// array (`sbatch --array=0-N%K`), each task `discipline trial --spec DIR/spec.json` (the
/// built-in engine, or the user's `--command` under it). discipline watches each task's
/// events in its directory on the shared filesystem, asks it to stop through its stop file, and
/// learns its end from `squeue` and its `result.json`; `scancel` ends what the user stops. A
/// task's job id is kept in `DIR/slurm.json`, so a resumed run re-attaches to tasks still
/// queued or running and resubmits the lost ones.
public final class SlurmRunner: TrialRunner {
  /// The argument vector a task runs, before `--spec PATH --threads N`.
  public let taskCommand: [String]
  /// Tasks of an array that run at once (`%K`).
  public var slots: Int
  /// Passed to `sbatch` as they are (partition, account, time, cpus, gres).
  public var slurmArguments: [String]
  /// CPUs per task when `slurmArguments` do not say (`-c`).
  public var cpusPerTask: Int
  /// Seconds without a new event from a running task after which it is cancelled as hung.
  public var trialTimeout: Double
  /// Where the task logs and the array scripts go.
  public let logDirectory: URL
  /// Seconds between reads of the events files, and between `squeue` calls.
  public var pollInterval = 0.25
  public var statusInterval = 1.0
  /// Seconds a task may take to end after its stop file was written before it is cancelled.
  public var grace = 30.0
  /// Prints what is submitted and cancelled (the CLI's progress notes).
  public var onNote: ((String) -> Void)?

  public init(
    taskCommand: [String], slots: Int, slurmArguments: [String] = [], cpusPerTask: Int = 1,
    trialTimeout: Double = 600, logDirectory: URL
  ) {
    self.taskCommand = taskCommand
    self.slots = max(1, slots)
    self.slurmArguments = slurmArguments
    self.cpusPerTask = cpusPerTask
    self.trialTimeout = trialTimeout
    self.logDirectory = logDirectory
  }

  /// The record of a submitted task, `DIR/slurm.json`.
  struct TaskRecord: Codable, Equatable {
    /// "JOB_INDEX", as squeue prints array tasks.
    var task: String
    var log: String
    /// Who submitted it and the array script it runs (squeue's `%u` and `%o`): a resumed run
    /// re-attaches only to a job that is still this one (nil in records of older versions).
    var user: String?
    var command: String?
  }

  /// A task being watched.
  final class Watch {
    let index: Int
    let job: TrialJob
    let directory: URL
    var record: TaskRecord
    var consumer: EventConsumer
    var state = "PENDING"
    /// Why Slurm keeps it pending, where squeue says.
    var reason: String?
    var node: String?
    var runningSince: Date?
    /// Seconds it waited for the cluster (pending for a reason other than its array's pacing),
    /// and when that was last counted.
    var waited = 0.0
    var lastStatus: Date?
    var stopAsked: Date?
    var cancelled = false
    /// Status polls in a row that did not list the task.
    var missing = 0
    var result: TrialRunResult?
    init(index: Int, job: TrialJob, directory: URL, record: TaskRecord) {
      self.index = index
      self.job = job
      self.directory = directory
      self.record = record
      consumer = EventConsumer(spec: job.spec, directory: directory, observe: job.observe)
    }
  }

  public func runAll(_ jobs: [TrialJob], shouldStop: @escaping () -> Bool) throws
    -> [TrialRunResult]
  {
    var results = [TrialRunResult?](repeating: nil, count: jobs.count)
    var watches: [Watch] = []
    var submit: [(Int, TrialJob, URL)] = []
    for (i, job) in jobs.enumerated() {
      guard let directory = job.directory else {
        throw ProgramError("a Slurm trial needs a directory for its files")
      }
      if let done = job.finishedEarlier() {
        results[i] = done
        continue
      }
      if let record = Self.readRecord(in: directory), job.sameSpec(in: directory),
        let state = try stateOnResume(of: record.task), !Self.ended(state)
      {
        if let why = try foreignJob(record) {
          onNote?(
            "Slurm task \(record.task) of the earlier run is no longer this run's (\(why)): not watched nor cancelled; \(job.spec.key) is submitted again"
          )
          submit.append((i, job, directory))
          continue
        }
        onNote?(
          "re-attached to Slurm task \(record.task) (\(state.lowercased())) for \(job.spec.key)")
        let watch = Watch(index: i, job: job, directory: directory, record: record)
        watch.state = state
        watches.append(watch)
        RunningWork.submitted(job: Self.jobID(of: record.task))
        continue
      }
      submit.append((i, job, directory))
    }
    if !submit.isEmpty && !shouldStop() { watches += try submitArray(submit) }
    defer {
      for id in Set(watches.map { Self.jobID(of: $0.record.task) }) {
        RunningWork.finished(job: id)
      }
    }
    try watch(watches, shouldStop: shouldStop)
    for w in watches { results[w.index] = w.result }
    return results.map { $0! }
  }

  /// The state of an earlier run's task, to re-attach to it or submit its spec again; nil when
  /// Slurm no longer knows it. When squeue does not answer (fails, or prints what is not its
  /// table) after a few tries, the run stops: taking the task for gone would submit the spec
  /// again while it may still run, and two tasks would write one folder.
  private func stateOnResume(of task: String) throws -> String? {
    for attempt in 0..<3 {
      if attempt > 0 { usleep(UInt32(statusInterval * 1_000_000)) }
      if let states = try states(ofJob: Self.jobID(of: task)) { return states[task] }
    }
    throw ProgramError(
      "squeue did not answer about Slurm task \(task) of the earlier run (\(lastSqueueProblem ?? "no answer")): it may still run, so its spec is not submitted again; --resume again once squeue answers"
    )
  }

  /// Writes the specs and submits them as one job array.
  private func submitArray(_ jobs: [(Int, TrialJob, URL)]) throws -> [Watch] {
    try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    for (_, job, directory) in jobs { try job.spec.write(to: directory) }
    let stamp = "\(Int(Date().timeIntervalSince1970 * 1000))"
    let list = logDirectory.appendingPathComponent("tasks-\(stamp).txt")
    try Data(jobs.map { $0.2.path + "\n" }.joined().utf8).write(to: list, options: .atomic)
    let script = logDirectory.appendingPathComponent("tasks-\(stamp).sh")
    let command =
      (taskCommand.map(Self.quoted) + ["--spec", "\"$dir/spec.json\"", "--threads", "\"$threads\""])
      .joined(separator: " ")
    let text = """
      #!/bin/bash
      # Written by discipline: task i runs the spec in line i+1 of \(list.path).
      dir=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" \(Self.quoted(list.path)))
      threads=${SLURM_CPUS_PER_TASK:-1}
      export OMP_NUM_THREADS=$threads DISCIPLINE_THREADS=$threads
      exec \(command)

      """
    try Data(text.utf8).write(to: script, options: .atomic)
    chmod(script.path, 0o755)
    if let option = Self.overridingOption(in: slurmArguments) {
      throw ProgramError(Self.overrideMessage(option))
    }
    // A "%" of the folder's own path is a literal "%" to sbatch, not a pattern.
    let logPattern = logDirectory.path.replacingOccurrences(of: "%", with: "%%")
    var arguments = [
      "sbatch", "--parsable", "--array=0-\(jobs.count - 1)%\(slots)", "--job-name=\(Self.jobName)",
      "--output=\(logPattern)/%A_%a.log",
    ]
    let givesCPUs = slurmArguments.contains {
      $0 == "-c" || $0.hasPrefix("--cpus-per-task") || ($0.hasPrefix("-c") && $0.count > 2)
    }
    if !givesCPUs { arguments.append("--cpus-per-task=\(cpusPerTask)") }
    arguments += slurmArguments + [script.path]
    let (status, output, error) = try Self.shell(arguments)
    guard status == 0,
      let id = output.split(separator: ";").first.map({
        $0.trimmingCharacters(in: .whitespacesAndNewlines)
      }),
      !id.isEmpty, id.allSatisfy(\.isNumber)
    else {
      let hint =
        error.contains("configuration source")
        ? " (Slurm found no slurm.conf: set SLURM_CONF, or run where Slurm is configured)" : ""
      throw ProgramError(
        "sbatch failed (exit \(status)): \((error.isEmpty ? output : error).trimmingCharacters(in: .whitespacesAndNewlines))\(hint)"
      )
    }
    RunningWork.submitted(job: id)
    onNote?(
      "submitted Slurm job \(id): \(jobs.count) task\(jobs.count == 1 ? "" : "s"), \(min(slots, jobs.count)) at a time"
    )
    return try jobs.enumerated().map { (k, item) in
      let record = TaskRecord(
        task: "\(id)_\(k)", log: "\(logDirectory.path)/\(id)_\(k).log", user: Self.userName,
        command: script.path)
      try JSONEncoder().encode(record).write(
        to: item.2.appendingPathComponent("slurm.json"), options: .atomic)
      return Watch(index: item.0, job: item.1, directory: item.2, record: record)
    }
  }

  /// Follows the tasks until each has ended.
  private func watch(_ watches: [Watch], shouldStop: () -> Bool) throws {
    var lastStatus = Date.distantPast
    var interrupted = false
    while watches.contains(where: { $0.result == nil }) {
      let open = watches.filter { $0.result == nil }
      for w in open {
        w.consumer.poll()
        if w.consumer.wantsStop || w.consumer.failure != nil { askToStop(w) }
        if let limit = w.job.spec.maxSeconds, let since = w.runningSince,
          Date().timeIntervalSince(since) > limit
        {
          askToStop(w)
        }
        if let asked = w.stopAsked, Date().timeIntervalSince(asked) > grace {
          try cancel(w, why: nil)
        }
        if let since = w.runningSince,
          Date().timeIntervalSince(max(since, w.consumer.lastEvent)) > trialTimeout
        {
          try cancel(
            w,
            why: String(
              format: "no event for %.0f s (--trial-timeout): Slurm task %@ was cancelled",
              trialTimeout, w.record.task))
        }
      }
      if shouldStop() && !interrupted {
        interrupted = true
        let ids = Set(open.map { Self.jobID(of: $0.record.task) }).sorted()
        if scancel(ids) {
          onNote?("cancelled Slurm job\(ids.count == 1 ? "" : "s") \(ids.joined(separator: ", "))")
        }
        for w in open {
          var result = w.consumer.result
          result.status = .interrupted
          w.result = result
        }
        break
      }
      if Date().timeIntervalSince(lastStatus) >= statusInterval {
        lastStatus = Date()
        var states: [String: String] = [:]
        var answered = true
        for id in Set(open.map { Self.jobID(of: $0.record.task) }) {
          if let s = try self.states(ofJob: id) { states.merge(s) { $1 } } else { answered = false }
        }
        for w in open {
          if let state = states[w.record.task] {
            w.state = state
            w.reason = reasons[w.record.task]
            w.missing = 0
            if state == "PENDING", let reason = w.reason, Self.neverStarts(reason) {
              let request =
                slurmArguments.isEmpty
                ? "--cpus-per-task=\(cpusPerTask), this machine's cores split by --parallel"
                : "--slurm-args \(slurmArguments.joined(separator: " "))"
              try cancel(
                w,
                why:
                  "Slurm will not start task \(w.record.task): it is pending for \(reason), which no wait clears (the request: \(request))",
                log: false)
              continue
            }
            let now = Date()
            if state == "PENDING" && !Self.ownPacing(w.reason), let last = w.lastStatus {
              w.waited += now.timeIntervalSince(last)
            }
            w.lastStatus = now
            // A wait for the cluster counts against the trial's time (its spec's limit, else
            // --trial-timeout): a task held or queued behind others for longer is given up,
            // and the phase decides among the rest instead of waiting past the budget.
            let patience = w.job.spec.maxSeconds ?? trialTimeout
            if state == "PENDING" && w.waited > patience {
              try cancel(
                w,
                why: String(
                  format:
                    "Slurm did not start task %@ in %.0f s (pending: %@), longer than %@ allows: cancelled",
                  w.record.task, w.waited, w.reason ?? "no reason given",
                  w.job.spec.maxSeconds == nil
                    ? "--trial-timeout" : "the trial's time limit (its spec's max_seconds)"),
                log: false)
              continue
            }
            if state == "RUNNING" && w.runningSince == nil { w.runningSince = now }
            w.node = nodes[w.record.task] ?? w.node
          } else if answered {
            w.missing += 1
          }
          let resultWritten = FileManager.default.fileExists(
            atPath: w.directory.appendingPathComponent(TrialSpec.resultFile).path)
          // A task squeue has not listed three times running is lost (Slurm forgot it).
          if resultWritten || Self.ended(w.state) || w.missing >= 3 {
            finish(w, known: w.missing < 3)
          }
        }
      }
      if watches.contains(where: { $0.result == nil }) { usleep(UInt32(pollInterval * 1_000_000)) }
    }
  }

  private func askToStop(_ w: Watch) {
    guard w.stopAsked == nil else { return }
    w.stopAsked = Date()
    FolderFiles.createEmpty(atPath: w.directory.appendingPathComponent(TrialSpec.stopFile).path)
  }

  private func cancel(_ w: Watch, why: String?, log: Bool = true) throws {
    guard !w.cancelled else { return }
    w.cancelled = true
    let cancelled = scancel([w.record.task])
    if let why {
      var result = w.consumer.result
      result.status = .failed
      result.message =
        why + (log ? "; its log: \(w.record.log)" : "")
        + (cancelled ? "" : " (scancel failed: the task may still run)")
      w.result = result
    }
  }

  /// A task has ended (or Slurm no longer knows it): its result.json, or a failure naming the
  /// exit code and the log.
  private func finish(_ w: Watch, known: Bool) {
    w.consumer.poll(final: true)
    if var result = try? TrialRunResult.read(from: w.directory) {
      result.node = result.node ?? w.node
      w.result = result
      return
    }
    // Written as the task's last act: a moment's grace for a shared filesystem.
    if known && !Self.ended(w.state) { return }
    usleep(300_000)
    if let result = try? TrialRunResult.read(from: w.directory) {
      w.result = result
      return
    }
    var result = w.consumer.result
    result.status = .failed
    result.node = w.node
    let exit = exitCode(of: w.record.task)
    result.exitCode = exit
    let how = known ? "ended \(w.state.lowercased())" : "is no longer known to Slurm"
    let tail = CommandRunner.lastLines(of: URL(fileURLWithPath: w.record.log), count: 5)
    result.message =
      "Slurm task \(w.record.task) \(how)\(exit.map { " with exit code \($0)" } ?? "") without a result; its log \(w.record.log)"
      + (tail.isEmpty ? "" : " ends:\n" + tail)
    w.result = result
  }

  /// Node names and pending reasons seen by the last `states` call, per task.
  var nodes: [String: String] = [:]
  var reasons: [String: String] = [:]
  /// Why the last `states` call had no answer: squeue's exit and message, or the line it
  /// printed that is not its table.
  var lastSqueueProblem: String?

  /// Cancels jobs or tasks; false, with a note saying so, when scancel fails (the controller
  /// unreachable, another user's job): they may still run, and the user should know.
  private func scancel(_ ids: [String]) -> Bool {
    let answer = try? Self.shell(["scancel"] + ids)
    if let answer, answer.0 == 0 { return true }
    let why = answer.map { (status, _, error) in
      let message = String(error.prefix(300)).trimmingCharacters(in: .whitespacesAndNewlines)
      return "exit \(status)\(message.isEmpty ? "" : ": " + message.printable)"
    }
    onNote?(
      "scancel \(ids.joined(separator: " ")) failed (\(why ?? "scancel cannot run")): \(ids.count == 1 ? "it" : "they") may still run"
    )
    return false
  }

}
