import Foundation
import NeuralNetworks
import Testing

/// End-to-end tests: run the built `discipline` binary (built beside this test bundle by
/// `swift build`) and check its output, files and exit codes.
@Suite(.serialized) struct CommandTests {
  typealias Result = CLI.Result
  static var binary: URL { CLI.binary }
  func run(_ arguments: [String]) throws -> Result { try CLI.run(arguments) }
  func temporaryDirectory() -> String { CLI.temporaryDirectory() }

  @Test func binaryExists() {
    #expect(
      FileManager.default.isExecutableFile(atPath: Self.binary.path),
      "build the discipline product first (swift build)")
  }

  @Test func scheduleCSVAndUsageErrors() throws {
    let ok = try run(["schedule", "one-cycle", "--max-lr", "0.1", "--total-steps", "10"])
    #expect(ok.status == 0)
    let lines = ok.stdout.split(separator: "\n")
    #expect(lines.first == "step,lr,momentum")
    #expect(lines.count == 11)
    let bad = try run([
      "schedule", "cyclic", "--base-lr", "0.2", "--max-lr", "0.1", "--step-size-up", "5",
      "--total-steps", "100",
    ])
    #expect(bad.status == 64)
    #expect(bad.stderr.contains("--base-lr"))
    // A parameter of another policy, a missing one, and one that needs another are named by
    // their flags.
    for (arguments, message) in [
      (
        ["step", "--lr", "0.1", "--step-size", "3", "--max-lr", "1"],
        "--max-lr does not apply to step (it is for one-cycle, cyclic, sgdr)."
      ),
      (["step", "--lr", "0.1"], "step needs --step-size."),
      (["multi-step", "--lr", "0.1"], "multi-step needs --milestones."),
      (
        ["cosine", "--lr", "0.1", "--warmup-start-factor", "0.5"],
        "--warmup-start-factor needs --warmup-steps."
      ),
      (
        ["constant", "--lr", "0.1", "--no-cycle-momentum"],
        "--[no-]cycle-momentum does not apply to constant"
      ),
    ] {
      let r = try run(["schedule"] + arguments + ["--total-steps", "20"])
      #expect(r.status == 64 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
    }
    let unwritable = try run([
      "schedule", "constant", "--lr", "0.1", "--total-steps", "5", "--out", "/proc/no/such.csv",
    ])
    #expect(
      unwritable.status == 73 && unwritable.stderr.contains("cannot write /proc/no/such.csv"),
      "\(unwritable.stderr)")
  }

  let spiralsFit = [
    "fit", "--dataset", "spirals", "--samples", "600", "--model", "mlp", "--epochs", "6",
    "--batch-size", "32",
    "--policy", "one-cycle", "--max-lr", "0.05", "--momentum", "0.95:0.85", "--weight-decay",
    "1e-4", "--seed", "3",
  ]

  @Test func fitTrainsAndWritesItsFiles() throws {
    let dir = temporaryDirectory()
    let r = try run(spiralsFit + ["--out", dir, "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let accuracy = summary?["test_accuracy"] as? Double ?? 0
    #expect(accuracy > 0.9, "spirals test accuracy \(accuracy)")
    #expect((summary?["epochs"] as? [Any])?.count == 6)
    for name in [
      "metrics.csv", "metrics.json", "config.json", "curves.svg", "report.html",
      "model.safetensors",
    ] {
      #expect(FileManager.default.fileExists(atPath: dir + "/" + name), "\(name) missing")
    }
    let csv = try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8).split(
      separator: "\n")
    #expect(csv.first == "step,epoch,lr,momentum,train_loss,val_loss,val_accuracy")
    // 540 training samples (10% held out) in batches of 32: 17 steps per epoch.
    #expect(csv.count == 1 + 6 * 17)
    // The checkpoint loads back into the model it names.
    let (checkpoint, _) = try Checkpoint.load(
      from: URL(fileURLWithPath: dir + "/model.safetensors"))
    #expect(checkpoint.specification.architecture == .mlp)
  }

  @Test func interruptedAndResumedRunEqualsUninterruptedRun() throws {
    let whole = temporaryDirectory()
    let split = temporaryDirectory()
    let a = try run(spiralsFit + ["--out", whole])
    #expect(a.status == 0, "\(a.stderr)")
    let stopped = try run(spiralsFit + ["--out", split, "--stop-after-steps", "40"])
    #expect(stopped.status == 130)
    #expect(stopped.stderr.contains("--resume"))
    let resumed = try run(spiralsFit + ["--out", split, "--resume"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let m1 = try Data(contentsOf: URL(fileURLWithPath: whole + "/model.safetensors"))
    let m2 = try Data(contentsOf: URL(fileURLWithPath: split + "/model.safetensors"))
    #expect(m1 == m2, "resumed weights differ from the uninterrupted run's")
    let c1 = try String(contentsOfFile: whole + "/metrics.csv", encoding: .utf8)
    let c2 = try String(contentsOfFile: split + "/metrics.csv", encoding: .utf8)
    #expect(c1 == c2)
    // Resuming with other settings is refused.
    let changed = try run(
      spiralsFit.map { $0 == "0.05" ? "0.07" : $0 } + ["--out", split, "--stop-after-steps", "5"])
    #expect(changed.status == 130)
    let refused = try run(spiralsFit + ["--out", split, "--resume"])
    #expect(refused.status == 64)
    #expect(refused.stderr.contains("different settings"))
  }

  @Test func sameSeedSameResultBitForBit() throws {
    let d1 = temporaryDirectory()
    let d2 = temporaryDirectory()
    _ = try run(spiralsFit + ["--out", d1, "--epochs", "2"])
    _ = try run(spiralsFit + ["--out", d2, "--epochs", "2"])
    let m1 = try Data(contentsOf: URL(fileURLWithPath: d1 + "/model.safetensors"))
    let m2 = try Data(contentsOf: URL(fileURLWithPath: d2 + "/model.safetensors"))
    #expect(m1 == m2)
  }

  @Test func badInputsGiveClearErrors() throws {
    let dir = temporaryDirectory()
    // A truncated IDX image file: named, with the byte count, exit 65.
    let images = Data([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3])
    try images.write(to: URL(fileURLWithPath: dir + "/train-images-idx3-ubyte"))
    let labels = Data([0, 0, 8, 1, 0, 0, 0, 2, 1, 2])
    try labels.write(to: URL(fileURLWithPath: dir + "/train-labels-idx1-ubyte"))
    try images.write(to: URL(fileURLWithPath: dir + "/t10k-images-idx3-ubyte"))
    try labels.write(to: URL(fileURLWithPath: dir + "/t10k-labels-idx1-ubyte"))
    let truncated = try run(["fit", "--dataset", "mnist", "--data-dir", dir, "--out", dir + "/run"])
    #expect(truncated.status == 65, "\(truncated.stderr)")
    #expect(truncated.stderr.contains("train-images-idx3-ubyte"))
    let missing = try run([
      "fit", "--dataset", "mnist", "--data-dir", dir + "/nowhere", "--out", dir + "/run",
    ])
    #expect(missing.status == 66)
    let notCheckpoint = try run(["eval", "--checkpoint", dir + "/train-labels-idx1-ubyte"])
    #expect(notCheckpoint.status == 65)
    #expect(notCheckpoint.stderr.contains("not a safetensors file"))
    let noResume = try run(spiralsFit + ["--out", dir + "/fresh", "--resume"])
    #expect(noResume.status == 66)
    #expect(!truncated.stderr.contains("Fatal error") && !missing.stderr.contains("Fatal error"))
  }
}
