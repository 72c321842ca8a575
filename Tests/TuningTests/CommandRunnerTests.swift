import Foundation
@testable import RangeTests
@testable import Runners
import Sessions
import Testing
@testable import TrialProtocol
@testable import Tuning

/// The user's program as a runner: real subprocesses (small shell scripts that speak the
/// protocol), and every way one can go wrong.
@Suite struct CommandRunnerTests {
  func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "command-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Writes a shell script and returns its path.
  func script(_ body: String) throws -> String {
    let url = temporaryDirectory().appendingPathComponent("program.sh")
    try ("#!/bin/sh\n" + body).write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  /// Tests/Programs/follow_schedule.sh: follows the schedule with a loss that falls, then blows
  /// up as the learning rate rises (1/(1 + 1000·lr) + 10⁵·lr²); checks the stop file every step.
  static let followsTheSchedule = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Programs/follow_schedule.sh").path

  func rangeSpec(steps: Int = 100) -> (RangeTestSettings, TrialSpec) {
    var settings = RangeTestSettings()
    settings.steps = steps
    settings.startLearningRate = 1e-5
    settings.endLearningRate = 1
    return (settings, settings.spec(key: "lr/range-test/32", batchSize: 32, seed: 0))
  }

  @Test func aRangeTestStopsTheProgramWhenTheLossDiverges() throws {
    let runner = try CommandRunner(command: "/bin/sh \(Self.followsTheSchedule)")
    let (settings, spec) = rangeSpec()
    let dir = temporaryDirectory()
    let result = try RangeTest.run(with: runner, spec: spec, directory: dir, settings: settings)
    let diverged = try #require(result.divergedAtLearningRate)
    #expect(diverged > 1e-3 && diverged < 1)
    #expect(result.points.count < 100)
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("stop").path))
    let file = try TrialRunResult.read(from: dir)
    #expect(file.status == .stopped && file.exitCode == 0)
    // The curve is the program's: the first loss is its formula at the first rate.
    #expect(abs(result.points[0].loss - (1 / (1 + 1000 * 1e-5) + 1e5 * 1e-10)) < 1e-5)
  }

  @Test func placeholdersBecomeTheSpecsValues() throws {
    let body = #"""
      printf '%s\n' "$@" > "$DISCIPLINE_DIR/arguments.txt"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n{"event":"end","steps":0,"time":0}\n' >> "$DISCIPLINE_EVENTS"
      """#
    let runner = try CommandRunner(
      command: "/bin/sh \(try script(body)) --bs {batch_size} 'wd={weight_decay}' {seed} {kind}")
    let dir = temporaryDirectory()
    _ = try runner.run(rangeSpec().1, directory: dir) { _ in .proceed }
    let arguments = try String(
      contentsOf: dir.appendingPathComponent("arguments.txt"), encoding: .utf8)
    #expect(arguments == "--bs\n32\nwd=0.0\n0\nrange-test\n")
  }

  @Test func aNonZeroExitFailsWithItsCodeAndStandardError() throws {
    let body = #"""
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n' >> "$DISCIPLINE_EVENTS"
      echo "Traceback: CUDA out of memory" >&2
      exit 3
      """#
    let runner = try CommandRunner(command: "/bin/sh \(try script(body))")
    let result = try runner.run(rangeSpec().1, directory: temporaryDirectory()) { _ in .proceed }
    #expect(result.status == .failed && result.exitCode == 3)
    #expect(
      result.message?.contains("exited with code 3") == true
        && result.message?.contains("CUDA out of memory") == true)
    #expect(throws: RangeTestError.self) {
      _ = try RangeTest.run(
        with: runner, spec: rangeSpec().1, directory: temporaryDirectory(), settings: rangeSpec().0)
    }
  }

  @Test func aMalformedEventNamesTheFileAndLine() throws {
    let body = #"""
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n{"event":"train","step":0,"loss":1.5,"samples":32,"time":0}\nloss=1.2\n' >> "$DISCIPLINE_EVENTS"
      sleep 30
      """#
    let runner = try CommandRunner(command: "/bin/sh \(try script(body))")
    let dir = temporaryDirectory()
    let started = Date()
    let result = try runner.run(rangeSpec().1, directory: dir) { _ in .proceed }
    #expect(result.status == .failed)
    #expect(
      result.message?.hasPrefix(
        dir.appendingPathComponent("events.jsonl").path + ":3: not a JSON object") == true,
      "\(result.message ?? "")")
    #expect(Date().timeIntervalSince(started) < 20, "the program should have been killed at once")
  }

  @Test func anotherProtocolVersionFails() throws {
    let body =
      #"printf '{"event":"start","protocol":2,"honours":[],"time":0}\n' >> "$DISCIPLINE_EVENTS""#
    let runner = try CommandRunner(command: "/bin/sh \(try script(body))")
    let result = try runner.run(rangeSpec().1, directory: temporaryDirectory()) { _ in .proceed }
    #expect(result.status == .failed && result.message?.contains("speaks protocol 2") == true)
  }

  @Test func aSilentProgramTimesOut() throws {
    let body = #"""
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n' >> "$DISCIPLINE_EVENTS"
      sleep 60
      """#
    let runner = try CommandRunner(command: "/bin/sh \(try script(body))", trialTimeout: 1)
    let started = Date()
    let result = try runner.run(rangeSpec().1, directory: temporaryDirectory()) { _ in .proceed }
    #expect(
      result.status == .failed && result.message?.contains("no event for 1 s") == true,
      "\(result.message ?? "")")
    #expect(Date().timeIntervalSince(started) < 30)
  }

  @Test func aNonFiniteLossIsDivergenceNotFailure() throws {
    let body = #"""
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n{"event":"train","step":0,"loss":2.0,"samples":32,"time":0}\n{"event":"train","step":1,"loss":NaN,"samples":32,"time":0}\n{"event":"end","steps":2,"time":0}\n' >> "$DISCIPLINE_EVENTS"
      """#
    let runner = try CommandRunner(command: "/bin/sh \(try script(body))")
    var settings = TrialSettings(
      batchSize: 32, maxLearningRate: 0.1, weightDecay: 0, steps: 20, seed: 0)
    settings.evaluations = 2
    let trial = try settings.run(
      with: runner, spec: try settings.spec(key: "momentum/0.9"), directory: temporaryDirectory())
    #expect(trial.diverged && trial.losses.count == 2 && trial.finalValidationLoss == .infinity)
  }

  @Test func aProgramThatIgnoresTheStopFileIsTerminated() throws {
    let body = #"""
      trap '' TERM
      e="$DISCIPLINE_EVENTS"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n' >> "$e"
      i=0
      while [ $i -lt 100000 ]; do
        printf '{"event":"train","step":%d,"loss":%d,"samples":32,"time":0}\n' $i $((1 + i * i)) >> "$e"
        i=$((i + 1))
        sleep 0.01
      done
      """#
    let runner = try CommandRunner(command: "/bin/sh \(try script(body))")
    runner.grace = 0.5
    let (settings, spec) = rangeSpec(steps: 100_000)
    let started = Date()
    let result = try RangeTest.run(
      with: runner, spec: spec, directory: temporaryDirectory(), settings: settings)
    #expect(result.divergedAtLearningRate != nil)
    #expect(Date().timeIntervalSince(started) < 20, "SIGTERM is trapped: SIGKILL must follow")
  }

  @Test func theUsersStopInterruptsTheProgram() throws {
    var stopped = false
    let runner = try CommandRunner(command: "/bin/sh \(Self.followsTheSchedule)")
    var settings = TrialSettings(
      batchSize: 32, maxLearningRate: 1e-4, weightDecay: 0, steps: 5000, seed: 0)
    settings.evaluations = 1
    let result = try runner.run(
      try settings.spec(key: "trial"), directory: temporaryDirectory(), shouldStop: { stopped }
    ) { event in
      if case .train(let step, _, _, _) = event, step >= 20 { stopped = true }
      return .proceed
    }
    #expect(result.status == .interrupted && result.steps < 5000)
  }

  @Test(arguments: [
    ("python3 train.py --bs {batch}", "{batch}"),
    ("python3 'train.py", "unclosed"),
    ("   ", "empty"),
  ])
  func badCommandsAreNamed(command: String, problem: String) {
    #expect {
      _ = try CommandRunner(command: command)
    } throws: { error in
      "\(error)".contains(problem)
    }
  }

  @Test func commandsSplitAsAShellWould() throws {
    #expect(
      try CommandRunner.split(#"python3 -c 'print("a b")' "x y" z\ w"#) == [
        "python3", "-c", #"print("a b")"#, "x y", "z w",
      ])
  }

  /// Issue 28: a child the program left behind, one that ignores SIGTERM, ends with the run.
  @Test func whatTheProgramLeftInItsGroupEndsWithIt() throws {
    let dir = temporaryDirectory()
    let pidFile = dir.appendingPathComponent("leftover.pid").path
    let program = try script(
      """
      (trap '' TERM; exec sleep 600) &
      echo $! > \(pidFile)
      exec /bin/sh \(Self.followsTheSchedule)
      """)
    let runner = try CommandRunner(command: "/bin/sh \(program)")
    runner.grace = 1
    var settings = TrialSettings(
      batchSize: 32, maxLearningRate: 1e-4, weightDecay: 0, steps: 20, seed: 0)
    settings.evaluations = 1
    let result = try runner.run(
      try settings.spec(key: "trial"), directory: temporaryDirectory()
    ) { _ in .proceed }
    #expect(result.status == .finished)
    let text = try String(contentsOfFile: pidFile, encoding: .utf8)
    let leftover = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    // Reparented to init, it is reaped there once killed: allow it a moment.
    var alive = true
    for _ in 0..<50 where alive {
      alive = kill(leftover, 0) == 0 && !Self.isZombie(leftover)
      if alive { usleep(20_000) }
    }
    #expect(!alive, "the program's leftover \(leftover) still runs after its run ended")
    if alive { kill(leftover, SIGKILL) }
  }

  static func isZombie(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
  }

  /// Issue 28: one checker of the event sequence; a program that ends short has not finished.
  @Test(arguments: [
    ("0 0", "train step 0, expected 1"),
    ("0 -7", "train step -7, expected 1"),
    ("0 2", "train step 2, expected 1"),
  ])
  func eventsOutOfSequenceFailTheRun(steps: String, problem: String) throws {
    let program = try script(
      """
      e="$DISCIPLINE_EVENTS"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\\n' >> "$e"
      for k in \(steps); do
        printf '{"event":"train","step":%d,"loss":1,"samples":32,"time":0}\\n' $k >> "$e"
      done
      printf '{"event":"end","steps":2,"time":0}\\n' >> "$e"
      """)
    let runner = try CommandRunner(command: "/bin/sh \(program)")
    let settings = TrialSettings(
      batchSize: 32, maxLearningRate: 1e-4, weightDecay: 0, steps: 5, seed: 0)
    let result = try runner.run(try settings.spec(key: "trial"), directory: temporaryDirectory()) {
      _ in .proceed
    }
    #expect(result.status == .failed)
    #expect(result.message?.contains(problem) == true, "\(result.message ?? "")")
  }

  @Test func aProgramThatEndsShortOfItsStepsHasNotFinished() throws {
    let program = try script(
      """
      e="$DISCIPLINE_EVENTS"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\\n' >> "$e"
      for k in 0 1 2 3 4 5 6 7 8 9; do
        printf '{"event":"train","step":%d,"loss":1,"samples":32,"time":0}\\n' $k >> "$e"
      done
      printf '{"event":"end","steps":10,"time":0}\\n' >> "$e"
      printf '{"event":"val","step":10,"loss":1,"accuracy":0.5,"time":0}\\n' >> "$e"
      """)
    let runner = try CommandRunner(command: "/bin/sh \(program)")
    let settings = TrialSettings(
      batchSize: 32, maxLearningRate: 1e-4, weightDecay: 0, steps: 50, seed: 0)
    let result = try runner.run(try settings.spec(key: "trial"), directory: temporaryDirectory()) {
      _ in .proceed
    }
    // The event after "end" is a protocol failure; without it the run would be "stopped".
    #expect(result.status == .failed && result.message?.contains("after \"end\"") == true)
    let short = try script(
      """
      e="$DISCIPLINE_EVENTS"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\\n' >> "$e"
      printf '{"event":"train","step":0,"loss":1,"samples":32,"time":0}\\n' >> "$e"
      printf '{"event":"end","steps":1,"time":0}\\n' >> "$e"
      """)
    let stopped = try CommandRunner(command: "/bin/sh \(short)").run(
      try settings.spec(key: "trial"), directory: temporaryDirectory()
    ) { _ in .proceed }
    #expect(stopped.status == .stopped && stopped.steps == 1)
  }

  /// A program that speaks the protocol and ends at once, its arguments in arguments.txt.
  func quickProgram(_ extra: String = "") throws -> String {
    try script(
      #"""
      printf '%s\n' "$@" > "$DISCIPLINE_DIR/arguments.txt"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n{"event":"end","steps":0,"time":0}\n' >> "$DISCIPLINE_EVENTS"
      """# + "\n" + extra)
  }

  /// Issue 28: a `pid` file left in a spec's folder is trusted only when it names that very
  /// process (pid, start time, boot): an old file or a reused pid leaves the process alone.
  @Test func aStalePidFileNeverSignalsAnotherProcess() throws {
    let unrelated = try ChildProcess(
      arguments: ["/bin/sleep", "600"], environment: [:], standardOutput: "/dev/null",
      standardError: "/dev/null")
    let identity = try #require(ProcessIdentity.of(unrelated.pid))
    // Written before identities were recorded; the pid reused since; from another boot.
    let stale = [
      "\(unrelated.pid)\n",
      "\(unrelated.pid) \(identity.startTime + 1) \(identity.bootID)\n",
      "\(unrelated.pid) \(identity.startTime) 00000000-0000-0000-0000-000000000000\n",
    ]
    for text in stale {
      let dir = temporaryDirectory()
      try text.write(to: dir.appendingPathComponent("pid"), atomically: true, encoding: .utf8)
      let runner = try CommandRunner(command: "/bin/sh \(try quickProgram())")
      var notes: [String] = []
      runner.onNote = { notes.append($0) }
      let result = try runner.run(rangeSpec(steps: 0).1, directory: dir) { _ in .proceed }
      #expect(result.status == .finished, "\(result.message ?? "")")
      #expect(
        kill(unrelated.pid, 0) == 0 && unrelated.poll() == nil,
        "a pid file reading \(text.debugDescription) killed an unrelated process")
      #expect(
        notes.count == 1 && notes[0].contains("was not signalled")
          && notes[0].contains("\(unrelated.pid)"), "\(notes)")
    }
    // The very process it names is ended (the earlier discipline's program, left running).
    let dir = temporaryDirectory()
    try identity.line.write(
      to: dir.appendingPathComponent("pid"), atomically: true, encoding: .utf8)
    let note = CommandRun.endEarlierRun(in: dir)
    #expect(note?.contains("ended the program") == true, "\(note ?? "")")
    #expect(unrelated.wait() == .signaled(SIGKILL))
  }

  /// Issue 28: what a program left in its process group lives on after its main process (and
  /// the discipline that started it) died; on resume the pid file's process is gone, and the
  /// group's processes whose environment names the trial's folder are ended — and only they:
  /// a process of the same group started for another folder is left alone.
  @Test func leftoversOfAProgramWhoseMainProcessIsGoneAreEndedOnResume() throws {
    let dir = temporaryDirectory()
    let other = temporaryDirectory()
    let pids = dir.appendingPathComponent("leftovers.txt").path
    // A group leader that starts two children ignoring SIGTERM, one of them for another
    // folder, writes their pids, and exits.
    let leader = try ChildProcess(
      arguments: [
        "/bin/sh", "-c",
        """
        trap '' TERM
        sleep 600 & a=$!
        DISCIPLINE_DIR=\(other.path) sleep 600 & b=$!
        echo "$a $b" > \(pids).tmp && mv \(pids).tmp \(pids)
        sleep 0.5
        """,
      ], environment: ["DISCIPLINE_DIR": dir.path], standardOutput: "/dev/null",
      standardError: "/dev/null")
    let identity = try #require(ProcessIdentity.of(leader.pid))
    try identity.line.write(
      to: dir.appendingPathComponent("pid"), atomically: true, encoding: .utf8)
    _ = leader.wait()
    let children = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ")
      .compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    try #require(children.count == 2)
    defer { for pid in children { kill(pid, SIGKILL) } }
    #expect(kill(children[0], 0) == 0 && kill(children[1], 0) == 0)
    let note = CommandRun.endEarlierRun(in: dir)
    #expect(
      note?.contains(
        "no longer runs; ended what it left running in its process group (\(children[0])")
        == true, "\(note ?? "")")
    usleep(200_000)
    // Gone, or a zombie until whoever adopted it reaps it.
    func alive(_ pid: pid_t) -> Bool {
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { return false }
      return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }
    #expect(!alive(children[0]), "the leftover lives on")
    #expect(alive(children[1]), "another folder's process was killed")
  }

  /// Issue 28: the pid file a run writes names its program by pid, start time and boot.
  @Test func thePidFileRecordsTheProgramsIdentity() throws {
    let dir = temporaryDirectory()
    let program = try script(
      """
      while [ ! -e "$DISCIPLINE_DIR/pid" ]; do sleep 0.01; done
      cp "$DISCIPLINE_DIR/pid" "$DISCIPLINE_DIR/pid.seen"
      echo $$ > "$DISCIPLINE_DIR/self"
      exec /bin/sh \(try quickProgram())
      """)
    _ = try CommandRunner(command: "/bin/sh \(program)").run(
      rangeSpec(steps: 0).1, directory: dir
    ) { _ in .proceed }
    let seen = try String(
      contentsOf: dir.appendingPathComponent("pid.seen"), encoding: .utf8)
    let pid = try String(contentsOf: dir.appendingPathComponent("self"), encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    guard case .identity(let identity) = ProcessIdentity.record(in: seen) else {
      Issue.record("the pid file holds no identity: \(seen.debugDescription)")
      return
    }
    #expect("\(identity.pid)" == pid && identity.bootID == ProcessIdentity.bootID)
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("pid").path))
  }

  /// Issue 28: a substituted value is never expanded again, whatever order the placeholders
  /// are looked up in (here every value holds every other placeholder).
  @Test func aPlaceholdersValueIsNotExpandedAgain() throws {
    let runner = try CommandRunner(command: "train {key} {augmentation} {seed}/{steps}")
    var spec = rangeSpec(steps: 3).1
    let others = CommandRunner.placeholders.map { "{\($0)}" }
    spec.key = others.filter { $0 != "{key}" }.joined(separator: "+")
    spec.augmentation = others.filter { $0 != "{augmentation}" }.joined(separator: "+")
    let arguments = runner.arguments(for: spec, in: temporaryDirectory())
    #expect(arguments == ["train", spec.key, spec.augmentation, "0/3"])
  }

  /// Issue 28: a line without a newline does not grow without limit: past 1 MiB the run fails,
  /// naming the file and line, and the program is killed at once.
  @Test func anEndlessEventLineFailsTheRun() throws {
    let program = try script(
      #"""
      e="$DISCIPLINE_EVENTS"
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n' >> "$e"
      head -c 3000000 /dev/zero | tr '\0' 'x' >> "$e"
      sleep 8
      """#)
    let dir = temporaryDirectory()
    let started = Date()
    let result = try CommandRunner(command: "/bin/sh \(program)").run(
      rangeSpec().1, directory: dir
    ) { _ in .proceed }
    #expect(result.status == .failed)
    #expect(
      result.message?.hasPrefix(
        dir.appendingPathComponent("events.jsonl").path + ":2: a line longer than 1 MiB")
        == true, "\(result.message?.prefix(300) ?? "")")
    #expect(Date().timeIntervalSince(started) < 6, "the program should have been killed at once")
  }

  @Test func aLongLineIsCutAndTheRestStillRead() throws {
    let url = temporaryDirectory().appendingPathComponent("lines")
    try Data(("a\n" + String(repeating: "x", count: 100) + "\nb\nc").utf8).write(to: url)
    var tail = LineTail(url: url, maximumLineLength: 10)
    #expect(tail.newLines().map(\.text) == ["a", "b"])
    #expect(tail.overlongLine == 2)
    #expect(tail.newLines(final: true).map(\.number) == [4])
  }

  /// Issue 28: a bad event line and the standard error's tail reach the user's terminal with
  /// their escape codes made visible, not obeyed.
  @Test func escapeCodesInWhatIsEchoedAreMadeVisible() throws {
    let program = try script(
      #"""
      printf '\033]0;owned\007\033[2J\033[31mred alert\n' >&2
      printf 'progress 10%%\rprogress 100%%\n' >&2
      printf '{"event":"start","protocol":1,"honours":[],"time":0}\n\033[2Jnot json\n' >> "$DISCIPLINE_EVENTS"
      """#)
    let result = try CommandRunner(command: "/bin/sh \(program)").run(
      rangeSpec().1, directory: temporaryDirectory()
    ) { _ in .proceed }
    let message = try #require(result.message)
    #expect(result.status == .failed)
    #expect(
      !message.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 },
      "\(message.debugDescription)")
    #expect(
      message.contains(#"\x1b[2Jnot json"#) && message.contains(#"\x1b[31mred alert"#), "\(message)"
    )
    // A line redrawn with carriage returns shows as a terminal would show it.
    #expect(message.contains("  progress 100%") && !message.contains("progress 10%"), "\(message)")
  }

  /// Issue 28: a symbolic link planted as stdout.txt or stderr.txt is replaced, never written
  /// through.
  @Test func aSymbolicLinkPlantedAsTheOutputIsNotFollowed() throws {
    let dir = temporaryDirectory()
    let elsewhere = temporaryDirectory()
    for name in ["stdout.txt", "stderr.txt"] {
      let target = elsewhere.appendingPathComponent(name)
      try "precious\n".write(to: target, atomically: true, encoding: .utf8)
      try FileManager.default.createSymbolicLink(
        at: dir.appendingPathComponent(name), withDestinationURL: target)
    }
    let result = try CommandRunner(
      command: "/bin/sh \(try quickProgram("echo to-stdout; echo to-stderr >&2"))"
    ).run(rangeSpec(steps: 0).1, directory: dir) { _ in .proceed }
    #expect(result.status == .finished, "\(result.message ?? "")")
    for (name, line) in [("stdout.txt", "to-stdout\n"), ("stderr.txt", "to-stderr\n")] {
      #expect(
        try String(contentsOf: elsewhere.appendingPathComponent(name), encoding: .utf8)
          == "precious\n", "\(name) was written through its link")
      let path = dir.appendingPathComponent(name).path
      #expect(
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil
          && (try? String(contentsOfFile: path, encoding: .utf8)) == line)
    }
  }

  /// --slurm-args may set anything but the array, the logs and the job name (SlurmTests run
  /// the refusals through the CLI).
  @Test func slurmArgumentsOfOtherKindsPass() {
    #expect(
      SlurmRunner.overridingOption(in: [
        "-p", "debug", "-c", "4", "--time=10", "-Q", "--account=x", "-pa", "--open-mode=append",
      ]) == nil)
    #expect(SlurmRunner.overridingOption(in: ["-p", "debug", "--arr=1-3"]) == "--arr=1-3")
    #expect(SlurmRunner.overridingOption(in: ["-vJ", "x"]) == "-vJ")
  }
}
