import Foundation
import Testing

@Suite(.serialized) struct LRFindCommandTests {
  let spirals = [
    "lr-find", "--dataset", "spirals", "--samples", "800", "--model", "mlp", "--batch-size", "32",
    "--seed", "2",
  ]

  @Test func writesCurveSuggestionsAndPlot() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run(
      spirals + ["--num-iter", "150", "--validate-every", "10", "--json", "--out", dir])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    let max = try #require(json["suggested_max_lr"] as? Double)
    let min = try #require(json["suggested_min_lr"] as? Double)
    #expect(abs(min - max / 10) < 1e-12 * max)
    #expect(abs((json["suggested_min_lr_cyclic"] as? Double ?? 0) - max / 4) < 1e-12 * max)
    let suggestions = try #require(json["suggestions"] as? [String: Any])
    #expect(Set(suggestions.keys) == ["steepest", "minimum", "valley", "smith"])
    #expect((json["reason"] as? String)?.isEmpty == false)
    #expect((json["conditions"] as? [[String: Any]])?.count == 1)
    // The file holds the same JSON.
    let file = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/lr_find.json"))))
    #expect(file["suggested_max_lr"] as? Double == max)

    let csv = try String(contentsOfFile: dir + "/lr_find.csv", encoding: .utf8).split(
      separator: "\n")
    #expect(csv.first == "condition,step,lr,loss,smoothed_loss,val_loss")
    let rows = csv.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    #expect(rows.count > 20 && rows.count <= 150)
    // Learning rates rise geometrically from the start LR; validation every 10th step.
    let lrs = rows.map { Double($0[2])! }
    #expect(abs(lrs[0] - 1e-7) < 1e-15)
    #expect(zip(lrs, lrs.dropFirst()).allSatisfy { $1 > $0 })
    #expect(rows.filter { !$0[5].isEmpty }.map { Int($0[1])! }.prefix(3) == [9, 19, 29])

    let svg = try String(contentsOfFile: dir + "/lr_find.svg", encoding: .utf8)
    #expect(svg.contains("learning rate") && svg.contains("loss") && svg.contains("smith"))
    #expect(r.stderr.contains("suggested max LR"))
  }

  @Test func sameSeedSameCurveBitForBit() throws {
    let a = CLI.temporaryDirectory()
    let b = CLI.temporaryDirectory()
    #expect(try CLI.run(spirals + ["--num-iter", "60", "--out", a]).status == 0)
    #expect(try CLI.run(spirals + ["--num-iter", "60", "--out", b]).status == 0)
    let csvA = try Data(contentsOf: URL(fileURLWithPath: a + "/lr_find.csv"))
    let csvB = try Data(contentsOf: URL(fileURLWithPath: b + "/lr_find.csv"))
    #expect(csvA == csvB)
  }

  @Test func overlaysAndRepeats() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run(
      spirals + [
        "--num-iter", "80", "--weight-decay", "1e-2,0", "--repeats", "2", "--validate-every", "20",
        "--json", "--out", dir,
      ])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)))
    let conditions = try #require(json["conditions"] as? [[String: Any]])
    #expect(conditions.map { $0["name"] as? String } == ["wd 0.01", "wd 0"])
    #expect(conditions.allSatisfy { ($0["seeds"] as? [Int]) == [2, 3] })
    #expect(["wd 0.01", "wd 0"].contains(json["lowest_loss_condition"] as? String ?? ""))
    let csv = try String(contentsOfFile: dir + "/lr_find.csv", encoding: .utf8)
    #expect(csv.contains("wd 0.01 (seed 3),"))
  }

  @Test func badInputsAreNamed() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run(spirals + ["--start-lr", "1", "--end-lr", "0.1", "--out", dir])
    #expect(r.status == 64 && r.stderr.contains("--end-lr"))
    let list = try CLI.run(spirals + ["--weight-decay", "1e-3,x", "--out", dir])
    #expect(list.status == 64 && list.stderr.contains("weight-decay"))
    let mode = try CLI.run(spirals + ["--mode", "cubic", "--out", dir])
    #expect(mode.status != 0 && mode.stderr.contains("--mode"))
  }
}

/// `--command`: the user's program as the runner, and `discipline trial` running one spec.
@Suite(.serialized) struct ProgramTrialTests {
  /// Tests/Programs/follow_schedule.sh: a loss that falls, then blows up as the learning rate
  /// rises (1/(1 + 1000·lr) + 10⁵·lr²), and a validation loss every 10 steps.
  static let program = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Programs/follow_schedule.sh").path

  @Test func lrFindRunsTheUsersProgram() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run([
      "lr-find", "--command", "/bin/sh \(Self.program) --batch {batch_size}", "--num-iter", "120",
      "--start-lr", "1e-5",
      "--end-lr", "1", "--validate-every", "10", "--weight-decay", "1e-4,0", "--json", "--out", dir,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    let max = try #require(json["suggested_max_lr"] as? Double)
    // The curve is lowest near lr = 3e-4 and blows up past 1e-2: a tenth of where it still
    // trains lies between.
    #expect(max > 1e-5 && max < 1e-2, "\(max)")
    #expect((json["conditions"] as? [[String: Any]])?.count == 2)
    let trials = try FileManager.default.contentsOfDirectory(atPath: dir + "/trials").sorted()
    #expect(trials.count == 2, "\(trials)")
    for trial in trials {
      for file in [
        "spec.json", "schedule.csv", "events.jsonl", "result.json", "stdout.txt", "stderr.txt",
        "stop",
      ] {
        #expect(
          FileManager.default.fileExists(atPath: "\(dir)/trials/\(trial)/\(file)"),
          "\(trial)/\(file) missing")
      }
      let result = try #require(
        CLI.json(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/trials/\(trial)/result.json"))))
      #expect(
        result["status"] as? String == "stopped"
          && (result["validations"] as? [Any])?.isEmpty == false)
    }
    let csv = try String(contentsOfFile: dir + "/lr_find.csv", encoding: .utf8)
    #expect(csv.split(separator: "\n").count > 40)
  }

  @Test func lrFindNamesAFailingProgram() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run([
      "lr-find", "--command", "/bin/sh -c 'echo no GPU here >&2; exit 2'", "--num-iter", "20",
      "--out", dir,
    ])
    #expect(r.status == 1)
    #expect(
      r.stderr.contains("exited with code 2") && r.stderr.contains("no GPU here"), "\(r.stderr)")
  }

  @Test func badCommandsAreRefusedBeforeAnyWork() throws {
    let r = try CLI.run([
      "lr-find", "--command", "train.py --wd {wd}", "--out", CLI.temporaryDirectory(),
    ])
    #expect(r.status == 64 && r.stderr.contains("{wd}"), "\(r.stderr)")
    let missing = try CLI.run([
      "lr-find", "--command", "/no/such/program", "--num-iter", "10", "--out",
      CLI.temporaryDirectory(),
    ])
    #expect(missing.status == 1 && missing.stderr.contains("/no/such/program"), "\(missing.stderr)")
  }

  /// A spec written by hand (as a cluster job would get it) runs on the built-in engine.
  @Test func trialRunsOneSpecOnTheEngine() throws {
    let dir = CLI.temporaryDirectory()
    let spec = """
      {"protocol": 1, "kind": "trial", "key": "momentum/0.9", "batch_size": 32, "seed": 4, "weight_decay": 0.0005,
       "dropout": 0, "augmentation": "none", "steps": 60, "schedule": "schedule.csv", "validate_at": [30, 60],
       "validation_batches": null, "final": false, "save_model": null, "max_seconds": null,
       "engine": {"dataset": "spirals", "samples": "600", "model": "mlp", "validation_split": "0.2"}}
      """
    try spec.write(toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
    let rows = (0..<60).map { "\($0),\(0.01 + 0.09 * Double(min($0, 30)) / 30),0.9" }
    try (["step,lr,momentum"] + rows).joined(separator: "\n").write(
      toFile: dir + "/schedule.csv", atomically: true, encoding: .utf8)
    let r = try CLI.run(["trial", "--spec", dir + "/spec.json"])
    #expect(r.status == 0, "\(r.stderr)")
    let result = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/result.json"))))
    #expect(result["status"] as? String == "finished" && result["steps"] as? Int == 60)
    #expect((result["validations"] as? [[String: Any]])?.map { $0["step"] as? Int } == [30, 60])
    let events = try String(contentsOfFile: dir + "/events.jsonl", encoding: .utf8).split(
      separator: "\n")
    #expect(events.count == 1 + 60 + 2 + 1)
    // The same spec runs to the same losses (a cluster job is reproducible).
    let again = try CLI.run(["trial", "--spec", dir + "/spec.json"])
    #expect(again.status == 0)
    let second = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/result.json"))))
    #expect((second["losses"] as? [Double]) == (result["losses"] as? [Double]))

    try spec.replacingOccurrences(of: "\"protocol\": 1", with: "\"protocol\": 7").write(
      toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
    let wrong = try CLI.run(["trial", "--spec", dir + "/spec.json"])
    #expect(wrong.status == 65 && wrong.stderr.contains("protocol 7"), "\(wrong.stderr)")

    // A bad engine field is named with its value; a spec without an engine section is a
    // program's.
    for (field, bad) in [
      ("\"validation_split\": \"0.2\"", "\"validation_split\": \"1.5\""),
      ("\"model\": \"mlp\"", "\"model\": \"transformer\""),
      ("\"samples\": \"600\"", "\"samples\": \"many\""),
    ] {
      try spec.replacingOccurrences(of: field, with: bad).write(
        toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
      let r = try CLI.run(["trial", "--spec", dir + "/spec.json"])
      let name = String(bad.split(separator: "\"")[0])
      #expect(
        r.status == 65 && r.stderr.contains(name) && r.stderr.contains("engine section"),
        "\(r.stderr)")
    }
    let noEngine = spec.replacingOccurrences(
      of: #"\s*,\s*"engine": \{[^}]*\}"#, with: "", options: .regularExpression)
    #expect(noEngine != spec)
    try noEngine.write(toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
    let program = try CLI.run(["trial", "--spec", dir + "/spec.json"])
    #expect(
      program.status == 65 && program.stderr.contains("no \"engine\" section"), "\(program.stderr)")
  }
}
