import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `--executor slurm` against a real single-node Slurm (slurmctld, slurmd and munge, started by
/// scripts/slurm-up.sh for each test and stopped after it), and `--parallel` on this machine.
/// scripts/setup.sh installs Slurm; the tests need root, as the daemons do.
@Suite(.serialized) struct SlurmTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let available =
    getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/slurmctld")
    && FileManager.default.fileExists(atPath: "/usr/bin/sbatch")

  /// A small weight-decay study on spirals whose trials have a fixed length (the same specs on
  /// every runner).
  static func study(steps: Int = 100, _ extra: [String]) -> [String] {
    [
      "study", "weight-decay", "--dataset", "spirals", "--model", "mlp", "--batch-size", "32",
      "--max-lr", "0.1",
      "--weight-decays", "1e-3,1e-4,0", "--trial-steps", "\(steps)", "--seed", "3",
    ] + extra
  }

  /// Runs `body` with a fresh single-node Slurm; its environment names the cluster's config.
  func withSlurm(_ body: ([String: String]) throws -> Void) throws {
    let dir = CLI.temporaryDirectory()
    let up = try shell(
      ["\(Self.repository.path)/scripts/slurm-up.sh"], environment: ["DISCIPLINE_SLURM_DIR": dir])
    defer {
      _ = try? shell(
        ["\(Self.repository.path)/scripts/slurm-down.sh"],
        environment: ["DISCIPLINE_SLURM_DIR": dir])
    }
    try #require(up.status == 0, "slurm-up.sh failed: \(up.stderr)")
    let conf = try #require(
      up.stdout.split(separator: "\n").first { $0.hasPrefix("export SLURM_CONF=") }
    ).dropFirst("export SLURM_CONF=".count)
    try body(["SLURM_CONF": String(conf)])
  }

  /// Runs a command to its end (posix_spawn and a blocking waitpid: Foundation's Process missed
  /// the end of slurm-up.sh, whose daemons it leaves running).
  func shell(_ arguments: [String], environment: [String: String] = [:]) throws -> CLI.Result {
    let base = CLI.temporaryDirectory()
    let out = base + "/out"
    let err = base + "/err"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv + envp { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
    try #require(spawned == 0, "cannot run \(arguments[0])")
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = { (path: String) in
      String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
    return CLI.Result(status: (status >> 8) & 0xff, stdout: text(out), stderr: text(err))
  }

  /// The trials' validation losses and the choice, from study.json.
  func outcome(_ dir: String) throws -> (losses: [Double], choice: Double) {
    let json = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))))
    let trials = try #require(json["trials"] as? [[String: Any]])
    return (trials.compactMap { $0["val_loss"] as? Double }, json["choice"] as? Double ?? -1)
  }

  /// Every trial's training losses, by key, from the journal.
  func journalLosses(_ dir: String) throws -> [String: [Double]] {
    var out: [String: [Double]] = [:]
    for line in try String(contentsOfFile: dir + "/journal.jsonl", encoding: .utf8).split(
      separator: "\n"
    ).dropFirst() {
      let entry = try #require(CLI.json(Data(line.utf8)))
      let key = try #require(entry["key"] as? String)
      if let result = entry["result"] as? [String: Any] { out[key] = result["losses"] as? [Double] }
      if let rangeTest = entry["rangeTest"] as? [String: Any],
        let conditions = rangeTest["conditions"] as? [[String: Any]]
      {
        out[key] = conditions.flatMap {
          (($0["runs"] as? [[String: Any]])?.first?["points"] as? [[String: Any]] ?? []).compactMap
          { $0["loss"] as? Double }
        }
      }
    }
    return out
  }

  @Test func parallelLocalTrialsEqualInProcessTrialsBitForBit() throws {
    let inProcess = CLI.temporaryDirectory()
    let parallel = CLI.temporaryDirectory()
    let a = try CLI.run(Self.study(["--out", inProcess]), environment: ["OMP_NUM_THREADS": "1"])
    #expect(a.status == 0, "\(a.stderr)")
    let b = try CLI.run(Self.study(["--parallel", "2", "--out", parallel]))
    #expect(b.status == 0, "\(b.stderr)")
    #expect(b.stderr.contains("2 trials at a time on this machine"))
    #expect(try outcome(inProcess) == outcome(parallel))
    let (x, y) = (try journalLosses(inProcess), try journalLosses(parallel))
    // Three trials, a refinement, two repeats (noise), a range test.
    #expect(x.count == 7 && x == y)
    // The engine ran as `discipline trial` processes, each in its folder.
    #expect(
      FileManager.default.fileExists(atPath: parallel + "/trials/weight-decay-0.001/result.json"))
  }

  @Test(.enabled(if: available)) func studyOnSlurmEqualsLocalAndRecordsNodes() throws {
    try withSlurm { env in
      let local = CLI.temporaryDirectory()
      let slurm = CLI.temporaryDirectory()
      let a = try CLI.run(Self.study(["--parallel", "2", "--out", local]))
      #expect(a.status == 0, "\(a.stderr)")
      let b = try CLI.run(
        Self.study(["--executor", "slurm", "--parallel", "2", "--out", slurm]), environment: env)
      #expect(b.status == 0, "\(b.stderr)")
      #expect(b.stderr.contains("submitted Slurm job"))
      #expect(try outcome(local) == outcome(slurm))
      #expect(try journalLosses(local) == journalLosses(slurm))
      // Each trial's node and kind of machine are in the journal; each task has its log.
      let journal = try String(contentsOfFile: slurm + "/journal.jsonl", encoding: .utf8)
      #expect(journal.contains("\"nodes\":[") && journal.contains("\"machines\":["))
      let logs = try FileManager.default.contentsOfDirectory(atPath: slurm + "/trials/slurm").filter
      { $0.hasSuffix(".log") }
      #expect(logs.count == 8)  // three trials, a refinement, two repeats (noise), two range tests
    }
  }

  @Test(.enabled(if: available)) func tuneRunsEndToEndOnSlurm() throws {
    try withSlurm { env in
      let dir = CLI.temporaryDirectory()
      let r = try CLI.run(
        [
          "tune", "--dataset", "spirals", "--model", "mlp", "--batch-sizes", "16,32",
          "--start-batch-size", "32",
          "--weight-decays", "1e-3,0", "--momenta", "0.97,0.9", "--budget", "60s", "--executor",
          "slurm", "--parallel", "2",
          "--json", "--out", dir,
        ], environment: env)
      #expect(r.status == 0, "\(r.stderr)")
      let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
      #expect((json["test_accuracy"] as? Double ?? 0) > 0.6)
      for file in [
        "report.html", "hyperparameters.json", "model.safetensors", "metrics.csv",
        "trials/final/result.json",
      ] {
        #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file) missing")
      }
      // The checkpoint is the engine's: `eval` reads it.
      let e = try CLI.run([
        "eval", "--dataset", "spirals", "--checkpoint", dir + "/model.safetensors",
      ])
      #expect(e.status == 0, "\(e.stderr)")
    }
  }

  /// SIGKILL of discipline with tasks queued, then --resume: tasks still queued or running are
  /// re-attached, finished ones reused, lost ones resubmitted; no spec runs twice.
  @Test(.enabled(if: available)) func killedWithJobsQueuedResumesWithoutRerunning() throws {
    try withSlurm { env in
      let dir = CLI.temporaryDirectory()
      // Two CPUs: two tasks run, the third waits in the queue.
      let args = Self.study(steps: 4000, ["--executor", "slurm", "--parallel", "2", "--out", dir])
      let process = Process()
      process.executableURL = CLI.binary
      process.arguments = args
      process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
      process.standardError = FileHandle.nullDevice
      try process.run()
      // Killed once the first trial trains.
      let events = dir + "/trials/weight-decay-0.001/events.jsonl"
      let deadline = Date().addingTimeInterval(60)
      while Date() < deadline
        && ((try? String(contentsOfFile: events, encoding: .utf8))?.split(separator: "\n").count
          ?? 0) < 10
      { usleep(50_000) }
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      let queue = try shell(
        ["squeue", "--noheader", "--array", "--states=PENDING,RUNNING", "--format=%i %T"],
        environment: env)
      #expect(
        queue.stdout.contains("PENDING") && queue.stdout.contains("RUNNING"), "\(queue.stdout)")

      let r = try CLI.run(args + ["--resume"], environment: env)
      #expect(r.status == 0, "\(r.stderr)")
      #expect(r.stderr.contains("re-attached to Slurm task"), "\(r.stderr)")
      // One task log per spec: none ran twice.
      let logDir = dir + "/trials/slurm"
      var runs: [String: Int] = [:]
      for log in try FileManager.default.contentsOfDirectory(atPath: logDir)
      where log.hasSuffix(".log") {
        let text = try String(contentsOfFile: logDir + "/" + log, encoding: .utf8)
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("trial ") }) {
          runs[String(line.split(separator: ":")[0]), default: 0] += 1
        }
      }
      // Three trials, a refinement, two repeats (noise), two range-test conditions: eight specs.
      #expect(runs.count == 8 && runs.values.allSatisfy { $0 == 1 }, "\(runs)")
      // And the result is that of a run never killed.
      let whole = CLI.temporaryDirectory()
      let w = try CLI.run(Self.study(steps: 4000, ["--parallel", "2", "--out", whole]))
      #expect(w.status == 0, "\(w.stderr)")
      #expect(try outcome(whole) == outcome(dir))
    }
  }

  /// Ctrl-C (SIGINT) cancels the jobs; a failing task is reported with its exit code and log.
  /// Issue 28, on the real single-node Slurm: tasks submitted held (`--hold`: pending for
  /// JobHeldUser, which only a release clears) wait for the cluster; past --trial-timeout each
  /// is cancelled and its trial fails, instead of discipline waiting forever.
  @Test(.enabled(if: available)) func heldTasksAreCancelledAfterTheirTimeOnSlurm() throws {
    try withSlurm { env in
      let dir = CLI.temporaryDirectory()
      let started = Date()
      let r = try run(
        Self.study([
          "--executor", "slurm", "--slurm-args=--hold", "--trial-timeout", "3", "--out", dir,
        ]), environment: env, timeout: 90)
      #expect(Date().timeIntervalSince(started) < 60, "\(r.stderr)")
      #expect(
        r.stderr.contains("(pending: JobHeldUser), longer than --trial-timeout allows"),
        "\(r.stderr)")
      let queue = try shell(
        ["squeue", "--noheader", "--array", "--states=PENDING,RUNNING", "--format=%i %T"],
        environment: env)
      #expect(
        queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
        "still queued: \(queue.stdout)")
    }
  }

  @Test(.enabled(if: available)) func stopCancelsJobsAndFailuresNameTheirLogs() throws {
    try withSlurm { env in
      let dir = CLI.temporaryDirectory()
      let process = Process()
      process.executableURL = CLI.binary
      process.arguments = Self.study(
        steps: 20000, ["--executor", "slurm", "--parallel", "2", "--out", dir])
      process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
      let err = Pipe()
      process.standardError = err
      try process.run()
      let events = dir + "/trials/weight-decay-0.001/events.jsonl"
      let deadline = Date().addingTimeInterval(60)
      while Date() < deadline
        && ((try? String(contentsOfFile: events, encoding: .utf8))?.split(separator: "\n").count
          ?? 0) < 10
      { usleep(50_000) }
      kill(process.processIdentifier, SIGINT)
      process.waitUntilExit()
      let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      #expect(process.terminationStatus == 130, "\(stderr)")
      #expect(stderr.contains("cancelled Slurm job"))
      usleep(1_000_000)
      let queue = try shell(
        [
          "squeue", "--noheader", "--array", "--states=PENDING,RUNNING,COMPLETING",
          "--format=%i %T",
        ], environment: env)
      #expect(
        queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
        "still queued or running: \(queue.stdout)")

      // A program that cannot start: the task ends without a result; the error names the
      // task, its exit code and its log.
      let failing = CLI.temporaryDirectory()
      let r = try CLI.run(
        [
          "lr-find", "--command", "/nonexistent/train", "--num-iter", "20", "--executor", "slurm",
          "--out", failing,
        ], environment: env)
      #expect(r.status != 0)
      #expect(
        r.stderr.contains("Slurm task") && r.stderr.contains("exit code 1")
          && r.stderr.contains(".log"), "\(r.stderr)")
      #expect(r.stderr.contains("cannot run /nonexistent/train"), "\(r.stderr)")

      // A request the partition can never hold fails at once instead of waiting forever.
      let tooBig = try CLI.run(
        [
          "lr-find", "--dataset", "spirals", "--model", "mlp", "--num-iter", "20", "--executor",
          "slurm",
          "--slurm-args", "-c 64", "--out", CLI.temporaryDirectory(),
        ], environment: env)
      #expect(
        tooBig.status != 0 && tooBig.stderr.contains("PartitionConfig")
          && tooBig.stderr.contains("-c 64"), "\(tooBig.stderr)")
    }
  }

  /// The user's program as each task: `discipline trial --command` on the node.
  @Test(.enabled(if: available && FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func theUsersProgramRunsAsSlurmTasks() throws {
    try withSlurm { env in
      let dir = CLI.temporaryDirectory()
      let command =
        "/usr/bin/python3 \(Self.repository.path)/examples/protocol/softmax_regression.py"
      let r = try CLI.run(
        [
          "lr-find", "--command", command, "--num-iter", "60", "--batch-size", "16,32",
          "--executor", "slurm", "--parallel", "2",
          "--json", "--out", dir,
        ], environment: env)
      #expect(r.status == 0, "\(r.stderr)")
      #expect(r.stderr.contains("submitted Slurm job"))
      let local = CLI.temporaryDirectory()
      let l = try CLI.run([
        "lr-find", "--command", command, "--num-iter", "60", "--batch-size", "16,32", "--json",
        "--out", local,
      ])
      #expect(l.status == 0, "\(l.stderr)")
      // The same program and seeds: the same curves, wherever they ran.
      let a = try #require(CLI.json(Data(r.stdout.utf8)))
      let b = try #require(CLI.json(Data(l.stdout.utf8)))
      #expect(
        (a["suggested_max_lr"] as? Double) == (b["suggested_max_lr"] as? Double)
          && a["suggested_max_lr"] != nil, "\(r.stdout) vs \(l.stdout)")
      #expect(
        FileManager.default.fileExists(atPath: dir + "/trials/lr-find-batch-16-seed-0/stdout.txt"))
    }
  }

  /// A stand-in for Slurm's commands in a folder put first on the PATH, for faults a real
  /// cluster cannot be made to show on demand: sbatch submits job 4242 (each call logged),
  /// squeue lists its tasks as running or, by the word in `squeue.mode`, fails, prints
  /// garbage or hangs; scancel logs what it cancels.
  struct FakeSlurm {
    let folder: String
    init() throws {
      folder = CLI.temporaryDirectory()
      let scripts = [
        "sbatch": "echo \"$@\" >> \(folder)/sbatch.calls\necho 4242",
        "squeue": """
        case "$(cat \(folder)/squeue.mode 2>/dev/null)" in
          fails) echo 'slurm_load_jobs error: Socket timed out on send/recv operation' >&2; exit 1;;
          garbage) echo '<html><body>503 Service Unavailable</body></html>'; exit 0;;
          hangs) exec sleep 60;;
          held) state='PENDING|(null)|JobHeldAdmin';;
          unavailable) state='PENDING|(null)|ReqNodeNotAvail, UnavailableNodes:node[1-2]';;
          paced) state='PENDING|(null)|JobArrayTaskLimit';;
        esac
        case "$*" in
          *%j*)  # who the job is: the name, user and script discipline submitted, or squeue.who's
            who=$(cat \(folder)/squeue.who 2>/dev/null ||
              echo "discipline|$(id -un)|$(head -n 1 \(folder)/sbatch.calls | awk '{print $NF}')")
            i=0
            while [ $i -lt 20 ]; do echo "4242_$i|$who"; i=$((i + 1)); done
            exit 0;;
        esac
        i=0
        while [ $i -lt 20 ]; do echo "4242_$i|${state:-RUNNING|node1|None}"; i=$((i + 1)); done
        """,
        "scancel": """
        echo "$@" >> \(folder)/scancel.calls
        if [ -e \(folder)/scancel.fails ]; then
          echo "scancel: error: Kill job error on job id $1: Access/permission denied" >&2; exit 1
        fi
        """,
        "scontrol": "exit 1",
      ]
      for (name, body) in scripts {
        let path = folder + "/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
      }
    }
    var environment: [String: String] {
      ["PATH": folder + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
    }
    func mode(_ word: String) throws {
      try word.write(toFile: folder + "/squeue.mode", atomically: true, encoding: .utf8)
    }
    func calls(_ command: String) -> [String] {
      ((try? String(contentsOfFile: folder + "/\(command).calls", encoding: .utf8)) ?? "")
        .split(separator: "\n").map(String.init)
    }
    /// A study submitted to this Slurm by a discipline then killed with SIGKILL, as a user
    /// would find it to resume: returns its arguments.
    func submittedThenKilled() throws -> [String] {
      let args = SlurmTests.study(["--executor", "slurm", "--out", CLI.temporaryDirectory()])
      let first = try start(args)
      kill(first.pid, SIGKILL)
      _ = first.wait(seconds: 10)
      try #require(calls("sbatch").count == 1, "\(calls("sbatch"))")
      return args
    }

    /// Starts discipline with these commands; returns once sbatch has been called.
    func start(_ arguments: [String]) throws -> Spawned {
      let process = try Spawned([CLI.binary.path] + arguments, environment: environment)
      for _ in 0..<600 where calls("sbatch").isEmpty { usleep(50_000) }
      usleep(300_000)  // slurm.json is written just after
      return process
    }
  }

  /// Runs discipline to its end or for at most `timeout` seconds (then SIGKILL, status 137).
  func run(_ arguments: [String], environment: [String: String], timeout: Double) throws
    -> CLI.Result
  {
    let err = CLI.temporaryDirectory() + "/stderr"
    let process = try Spawned(
      [CLI.binary.path] + arguments, environment: environment, standardError: err)
    var status = process.wait(seconds: timeout)
    if status == nil {
      kill(process.pid, SIGKILL)
      status = process.wait(seconds: 10)
    }
    return CLI.Result(
      status: status ?? 137, stdout: "",
      stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
  }

  /// Issue 28: on --resume, a squeue that fails or prints what is not its table is no answer:
  /// the task may still run, so its spec is not submitted again; the run stops and says why.
  @Test(arguments: ["fails", "garbage"])
  func aResumeWithoutAnAnswerFromSqueueSubmitsNothingAgain(mode: String) throws {
    let slurm = try FakeSlurm()
    let args = try slurm.submittedThenKilled()
    try slurm.mode(mode)
    let r = try run(args + ["--resume"], environment: slurm.environment, timeout: 30)
    #expect(r.status != 0 && r.status != 137, "\(r.status): \(r.stderr)")
    #expect(slurm.calls("sbatch").count == 1, "the spec was submitted again")
    #expect(
      r.stderr.contains("squeue did not answer about Slurm task 4242_0")
        && r.stderr.contains(mode == "fails" ? "Socket timed out" : "503 Service Unavailable"),
      "\(r.stderr)")
  }

  /// Issue 28: on --resume a task is re-attached to only while Slurm's job of that id is still
  /// the one submitted (discipline's name, this user, the array script): a job id Slurm reused
  /// for another user's or another run's job is neither watched nor cancelled, and the spec is
  /// submitted again.
  @Test(arguments: [nil, "discipline|someone-else|/x/tasks.sh", "train|USER|SCRIPT"])
  func aResumeReattachesOnlyToItsOwnJob(who: String?) throws {
    let slurm = try FakeSlurm()
    let args = try slurm.submittedThenKilled()
    let script = try #require(slurm.calls("sbatch").first?.split(separator: " ").last)
    if let who {
      try who.replacingOccurrences(of: "USER", with: NSUserName())
        .replacingOccurrences(of: "SCRIPT", with: String(script))
        .write(toFile: slurm.folder + "/squeue.who", atomically: true, encoding: .utf8)
    }
    // The fake's tasks run forever: the resumed run is ended after it has decided.
    let r = try run(args + ["--resume"], environment: slurm.environment, timeout: 6)
    if who == nil {
      #expect(r.stderr.contains("re-attached to Slurm task 4242_0"), "\(r.stderr)")
      #expect(slurm.calls("sbatch").count == 1, "submitted again: \(slurm.calls("sbatch"))")
    } else {
      #expect(
        r.stderr.contains("Slurm task 4242_0 of the earlier run is no longer this run's"),
        "\(r.stderr)")
      #expect(!r.stderr.contains("re-attached"), "\(r.stderr)")
      #expect(slurm.calls("sbatch").count == 2, "not submitted again: \(slurm.calls("sbatch"))")
    }
    #expect(slurm.calls("scancel").isEmpty, "\(slurm.calls("scancel"))")
  }

  /// Issue 28: a second Ctrl-C while discipline waits on squeue still cancels its jobs before
  /// it exits.
  @Test func aSecondInterruptCancelsTheJobs() throws {
    let slurm = try FakeSlurm()
    try slurm.mode("hangs")
    let process = try slurm.start(
      Self.study(["--executor", "slurm", "--out", CLI.temporaryDirectory()]))
    kill(process.pid, SIGINT)
    usleep(300_000)
    kill(process.pid, SIGINT)
    let status = process.wait(seconds: 8)
    #expect(status == 130, "the second Ctrl-C must exit at once")
    if status == nil { kill(process.pid, SIGKILL) }
    #expect(slurm.calls("scancel") == ["4242"], "\(slurm.calls("scancel"))")
  }

  /// Issue 28: a task Slurm keeps pending is not waited for forever. A reason no wait clears
  /// (squeue's detail after it included) cancels it at once; a wait for the cluster (held,
  /// queued) counts against its time and cancels it past --trial-timeout; the array's own
  /// pacing (JobArrayTaskLimit) does not count.
  @Test(arguments: ["unavailable", "held", "paced"])
  func pendingTasksAreNotWaitedForForever(mode: String) throws {
    let slurm = try FakeSlurm()
    try slurm.mode(mode)
    let r = try run(
      Self.study(["--executor", "slurm", "--trial-timeout", "2", "--out", CLI.temporaryDirectory()]
      ),
      environment: slurm.environment, timeout: mode == "paced" ? 8 : 60)
    switch mode {
    case "unavailable":
      #expect(
        r.stderr.contains("Slurm will not start task 4242_0: it is pending for ReqNodeNotAvail"),
        "\(r.stderr)")
      #expect(slurm.calls("scancel").contains("4242_0"), "\(slurm.calls("scancel"))")
    case "held":
      #expect(
        r.stderr.contains("Slurm did not start task 4242_0 in")
          && r.stderr.contains("(pending: JobHeldAdmin), longer than --trial-timeout allows"),
        "\(r.stderr)")
      #expect(slurm.calls("scancel").contains("4242_0"), "\(slurm.calls("scancel"))")
    default:  // waiting for a slot of its own array: still waiting when ended after 8 s
      #expect(r.status == 137, "\(r.status): \(r.stderr)")
      #expect(slurm.calls("scancel").isEmpty, "\(slurm.calls("scancel"))")
    }
  }

  /// Issue 28: a scancel that fails is said, not ignored: the task may still run.
  @Test func aFailedCancelIsSaid() throws {
    let slurm = try FakeSlurm()
    _ = FileManager.default.createFile(atPath: slurm.folder + "/scancel.fails", contents: nil)
    // Running, silent: cancelled after --trial-timeout.
    let r = try run(
      Self.study(["--executor", "slurm", "--trial-timeout", "1", "--out", CLI.temporaryDirectory()]
      ),
      environment: slurm.environment, timeout: 60)
    #expect(!slurm.calls("scancel").isEmpty)
    #expect(
      r.stderr.contains("scancel 4242_0 failed (exit 1: scancel: error: Kill job error")
        && r.stderr.contains("may still run"), "\(r.stderr)")
  }

  /// Issue 28: --slurm-args cannot set what discipline sets itself (the array that maps tasks
  /// to folders, the logs, the job name), in any spelling sbatch accepts.
  @Test(arguments: [
    "--array=0-3", "-a 1-2", "-a1-2", "--output=/tmp/x.log", "-o /tmp/x.log", "--out=x",
    "--job-name=mine", "-J mine", "-Qo x",
  ])
  func slurmArgsThatOverrideDisciplinesOwnAreRefused(arguments: String) throws {
    let r = try CLI.run([
      "lr-find", "--dataset", "spirals", "--model", "mlp", "--num-iter", "20", "--executor",
      "slurm", "--slurm-args", arguments, "--out", CLI.temporaryDirectory(),
    ])
    let option = String(arguments.split(separator: " ")[0])
    #expect(r.status == 64, "\(r.status): \(r.stderr)")
    #expect(r.stderr.contains("--slurm-args: \(option) sets what discipline sets"), "\(r.stderr)")
  }

  /// A `%` in the output folder's path is a folder's name, not a Slurm pattern: the logs land
  /// where discipline reads them.
  @Test(.enabled(if: available)) func aPercentInTheOutputPathKeepsTheLogs() throws {
    try withSlurm { env in
      let dir = CLI.temporaryDirectory() + "/100%a"
      let r = try CLI.run(
        [
          "lr-find", "--command", "/nonexistent/train", "--num-iter", "20", "--executor", "slurm",
          "--out", dir,
        ], environment: env)
      #expect(r.status != 0)
      // The failure names the log, and the log is there with the task's error in it.
      #expect(r.stderr.contains("cannot run /nonexistent/train"), "\(r.stderr)")
      let logs = try FileManager.default.contentsOfDirectory(atPath: dir + "/trials/slurm")
      #expect(logs.contains { $0.hasSuffix("_0.log") }, "\(logs)")
    }
  }
}
