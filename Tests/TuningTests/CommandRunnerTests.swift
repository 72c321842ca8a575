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
}
