import Foundation
import Testing

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
}
