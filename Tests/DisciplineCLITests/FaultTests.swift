import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 28: faults around the protocol, with real processes.
@Suite(.serialized) struct FaultTests {
  static let program = ProgramTrialTests.program

  /// Started with SIGCHLD ignored (an inherited disposition), discipline still sees its
  /// programs end, instead of polling forever.
  @Test func anIgnoredSIGCHLDDoesNotHangARun() throws {
    let dir = CLI.temporaryDirectory()
    let command = [
      CLI.binary.path, "lr-find", "--command", "/bin/sh \(Self.program)", "--num-iter", "40",
      "--out", dir,
    ].map { "'\($0)'" }.joined(separator: " ")
    let started = Date()
    // perl sets SIGCHLD to SIG_IGN and execs: the ignored disposition survives exec (a shell's
    // `trap '' CHLD` does not pass it on).
    let r = try CLI.shell(
      "exec /usr/bin/perl -e '$SIG{CHLD} = \"IGNORE\"; exec @ARGV or die' \(command)", timeout: 60)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(Date().timeIntervalSince(started) < 60, "it hung: SIGCHLD ignored")
  }

  /// A spec that states 9e18 steps is refused with the file named, not a crash.
  @Test func aSpecWithAnAbsurdStepCountIsRefused() throws {
    let dir = CLI.temporaryDirectory()
    try """
    {"protocol": 1, "kind": "trial", "key": "t", "batch_size": 32, "seed": 0,
     "weight_decay": 0, "steps": 9e18, "schedule": "schedule.csv", "validate_at": [2]}
    """.write(toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
    try "step,lr,momentum\n0,0.1,0.9\n1,0.1,0.9\n".write(
      toFile: dir + "/schedule.csv", atomically: true, encoding: .utf8)
    let r = try CLI.run(["trial", "--spec", dir + "/spec.json", "--command", "/bin/true"])
    #expect(r.status == 65, "\(r.status): \(r.stderr)")
    #expect(r.stderr.contains("schedule.csv") && r.stderr.contains("2 steps"), "\(r.stderr)")
    try """
    {"protocol": 1, "kind": "trial", "key": "t", "batch_size": 32, "seed": 0,
     "weight_decay": 0, "steps": -3, "schedule": "schedule.csv", "validate_at": [2]}
    """.write(toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
    let negative = try CLI.run(["trial", "--spec", dir + "/spec.json", "--command", "/bin/true"])
    #expect(negative.status == 65 && negative.stderr.contains("steps"), "\(negative.stderr)")
  }

  /// A second run into the same --out is refused while the first runs; the first finishes.
  @Test func twoRunsIntoOneFolderAreRefused() throws {
    let dir = CLI.temporaryDirectory()
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = [
      "lr-find", "--command", "/bin/sh -c 'sleep 3; exec /bin/sh \(Self.program)'", "--num-iter",
      "100", "--out", dir,
    ]
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    // Wait until the first one holds the folder.
    for _ in 0..<100 where !FileManager.default.fileExists(atPath: dir + "/.lock") {
      usleep(50_000)
    }
    let second = try CLI.run([
      "lr-find", "--command", "/bin/sh \(Self.program)", "--num-iter", "20", "--out", dir,
    ])
    process.waitUntilExit()
    #expect(second.status == 73, "\(second.status): \(second.stderr)")
    #expect(second.stderr.contains("another discipline is writing into"), "\(second.stderr)")
    #expect(process.terminationStatus == 0)
    #expect(FileManager.default.fileExists(atPath: dir + "/lr_find.json"))
  }

  /// A second Ctrl-C exits at once, and ends the programs first: one that ignores the stop
  /// file, SIGTERM and SIGINT does not train on for nobody.
  @Test func aSecondInterruptEndsTheProgramsBeforeExiting() throws {
    let dir = CLI.temporaryDirectory()
    let pidFile = dir + "/program.pid"
    let program = dir + "/stubborn.sh"
    try """
    trap '' TERM INT
    echo $$ > \(pidFile)
    e="$DISCIPLINE_EVENTS"
    printf '{"event":"start","protocol":1,"honours":[],"time":0}\\n' >> "$e"
    i=0
    while [ $i -lt 100000 ]; do
      printf '{"event":"train","step":%d,"loss":1,"samples":32,"time":0}\\n' $i >> "$e"
      i=$((i + 1))
      sleep 0.05
    done
    """.write(toFile: program, atomically: true, encoding: .utf8)
    let process = try Spawned([
      CLI.binary.path, "lr-find", "--command", "/bin/sh \(program)", "--num-iter", "100000",
      "--out", dir + "/out",
    ])
    var pid: pid_t?
    for _ in 0..<200 where pid == nil {
      usleep(50_000)
      pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
        pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
      }
    }
    let programPID = try #require(pid, "the program never started")
    usleep(500_000)
    kill(process.pid, SIGINT)
    usleep(300_000)
    kill(process.pid, SIGINT)
    let status = process.wait(seconds: 5)
    #expect(status == 130, "the second Ctrl-C must exit at once")
    if status == nil { kill(process.pid, SIGKILL) }
    // Reparented to init once discipline exited, it is reaped there: allow it a moment.
    var alive = true
    for _ in 0..<50 where alive {
      alive = kill(programPID, 0) == 0 && !CommandLineProcess.isZombie(programPID)
      if alive { usleep(20_000) }
    }
    #expect(!alive, "the program \(programPID) still runs after discipline exited")
    if alive { kill(-programPID, SIGKILL) }
  }

  /// A spec whose fields break the protocol is refused by `discipline trial` (exit 65), the
  /// file, line and field named, before any program runs.
  @Test(arguments: [
    (#""batch_size": -32"#, "batch_size"),
    (#""batch_size": 32, "dropout": 7"#, "dropout"),
    (#""batch_size": 32, "final": true, "save_model": "../../../model.pt""#, "save_model"),
  ])
  func aSpecWithBadFieldsIsRefused(fields: String, field: String) throws {
    let dir = CLI.temporaryDirectory()
    try """
    {"protocol": 1, "kind": "trial", "key": "t", "seed": 0,
     \(fields),
     "weight_decay": 0, "steps": 2, "schedule": "schedule.csv", "validate_at": [2]}
    """.write(toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
    try "step,lr,momentum\n0,0.1,0.9\n1,0.1,0.9\n".write(
      toFile: dir + "/schedule.csv", atomically: true, encoding: .utf8)
    let r = try CLI.run([
      "trial", "--spec", dir + "/spec.json", "--command", "/bin/sh -c 'touch \(dir)/ran'",
    ])
    #expect(r.status == 65, "\(r.status): \(r.stderr)")
    #expect(r.stderr.contains(dir + "/spec.json:2: \"\(field)\""), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/ran"))
  }
}

/// A process started with posix_spawn and waited for with waitpid, with a deadline: a test
/// must fail, not hang, when what it waits for does not happen (and Foundation's Process can
/// miss a child's end, as SlurmTests.shell says).
struct Spawned {
  let pid: pid_t

  init(_ arguments: [String], environment: [String: String] = [:], standardError: String? = nil)
    throws
  {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(
      &actions, 2, standardError ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv + envp { free(pointer) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
    try #require(spawned == 0, "cannot run \(arguments[0])")
    self.pid = pid
  }

  /// The exit status (128 + the signal for a signal) once it ended, or nil when it still runs
  /// after `seconds`.
  func wait(seconds: Double) -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid {
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
      }
      usleep(20_000)
    } while Date() < deadline
    return nil
  }
}

/// /proc's view of a process.
enum CommandLineProcess {
  static func isZombie(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
  }
}
