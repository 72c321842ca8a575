import Foundation
import Testing

@Suite(.serialized) struct TuneCommandTests {
  let spirals = [
    "tune", "--dataset", "spirals", "--samples", "1200", "--model", "mlp", "--batch-sizes",
    "16,32,64",
    "--start-batch-size", "32", "--weight-decays", "1e-3,0", "--momenta", "0.97,0.9", "--seed", "1",
  ]

  @Test func tunesWithinTheBudgetAndWritesEverything() throws {
    // How long it takes is not asserted here: suites run side by side on a shared machine.
    // The recipe's accounting of the budget is tested on a virtual clock (RecipeTests), and
    // scripts/budget-check.sh measures real runs on an idle machine.
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run(spirals + ["--budget", "60s", "--json", "--out", dir])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    #expect((json["test_accuracy"] as? Double ?? 0) > 0.6)
    #expect(json["test_loss"] is Double && json["seconds"] is Double)
    let h = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/hyperparameters.json"))))
    for key in [
      "max_lr", "min_lr", "policy", "momentum", "weight_decay", "dropout", "batch_size", "epochs",
      "reasons",
    ] {
      #expect(h[key] != nil, "hyperparameters.json lacks \(key)")
    }
    #expect([16, 32, 64].contains(h["batch_size"] as? Int ?? 0))
    #expect([1e-3, 0, 3e-4].contains(h["weight_decay"] as? Double ?? -1))
    // The default dropout study ran, and its choice is one of the candidates.
    #expect([0, 0.25, 0.5].contains(h["dropout"] as? Double ?? -1))
    let reasons = try #require(h["reasons"] as? [String: String])
    #expect(reasons.values.allSatisfy { !$0.isEmpty })
    for file in ["report.html", "journal.jsonl", "model.safetensors", "metrics.csv"] {
      #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file) missing")
    }
    let report = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
    #expect(
      report.contains("<svg") && !report.contains("src=\"http") && !report.contains("href=\"http")
        && !report.contains("<script"))
    // The dropout study runs when its range tests fit into the budget at the throughput
    // measured: a slow machine (a debug build on a busy host) drops it, and says so everywhere.
    if r.stderr.contains("no regularization study") {
      #expect(!report.contains("Regularization: dropout"))
      #expect(reasons["dropout"]?.contains("the budget had no room") == true, "\(reasons)")
    } else {
      #expect(report.contains("Regularization: dropout"), "\(r.stderr.suffix(2000))")
    }
    // The journal: a header, then one line per finished trial.
    let lines = try String(contentsOfFile: dir + "/journal.jsonl", encoding: .utf8).split(
      separator: "\n")
    #expect(lines.count > 8)
    #expect(lines.dropFirst().allSatisfy { CLI.json(Data($0.utf8))?["key"] is String })
  }

  /// Starts a 30-second spirals tune into `out` and SIGKILLs it once `ready` holds (then
  /// `settle` seconds later), or after `within` seconds.
  func killTune(out: String, within seconds: Double, settle: Double = 0, until ready: () -> Bool)
    throws
  {
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = spirals + ["--budget", "60s", "--out", out]
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline && !ready() { usleep(50_000) }
    usleep(UInt32(settle * 1_000_000))
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  @Test func killedAndResumedReusesFinishedTrials() throws {
    let dir = CLI.temporaryDirectory()
    let journal = dir + "/journal.jsonl"
    try killTune(out: dir, within: 60) {
      (try? String(contentsOfFile: journal, encoding: .utf8)).map {
        $0.split(separator: "\n").count >= 5
      } ?? false
    }
    let before = try String(contentsOfFile: journal, encoding: .utf8)
    let finished = before.split(separator: "\n").count - 1
    #expect(finished >= 4)

    let r = try CLI.run(spirals + ["--budget", "60s", "--out", dir, "--resume"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("\(finished) finished trial"))
    #expect(r.stderr.components(separatedBy: "reused ").count - 1 >= finished)
    let after = try String(contentsOfFile: journal, encoding: .utf8)
    #expect(
      after.hasPrefix(
        before.hasSuffix("\n") ? before : String(before[..<before.lastIndex(of: "\n")!]) + "\n"))

    // Different settings: refused, naming the difference.
    let other = try CLI.run(
      spirals.map { $0 == "1" ? "2" : $0 } + ["--budget", "60s", "--out", dir, "--resume"])
    #expect(other.status != 0 && other.stderr.contains("seed was 1, now 2"))
  }

  @Test func killedDuringTheFinalRunContinuesIt() throws {
    let dir = CLI.temporaryDirectory()
    let state = dir + "/final-state/resume.json"
    try killTune(out: dir, within: 75, settle: 0.3) {
      FileManager.default.fileExists(atPath: state)
    }
    #expect(FileManager.default.fileExists(atPath: state), "the final run saved no state")

    let r = try CLI.run(spirals + ["--budget", "60s", "--out", dir, "--resume", "--json"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("continuing the final training after epoch"), "\(r.stderr)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/final-state"))
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    #expect((json["test_accuracy"] as? Double ?? 0) > 0.6)
    // The seconds count the killed process's final training too.
    #expect((json["seconds"] as? Double ?? 0) > 40)
  }

  /// With the budget counted in work, a seed gives the same tune twice: the same journal (but
  /// for when each entry finished), the same hyperparameters.json and the same final run's
  /// metrics, however loaded the machine. (60 s at 2000 samples/s hold two range tests and a
  /// final run of about 90 epochs.)
  @Test func aVirtualClockMakesTheTuneReproducible() throws {
    func tune() throws -> (journal: [String], hyperparameters: String, metrics: String) {
      let dir = CLI.temporaryDirectory()
      let r = try CLI.run(spirals + ["--budget", "60s", "--virtual-clock", "2000", "--out", dir])
      #expect(r.status == 0, "\(r.stderr)")
      #expect(r.stderr.contains("counted as work at 2000 samples/s"))
      let journal = try String(contentsOfFile: dir + "/journal.jsonl", encoding: .utf8)
        .split(separator: "\n").map {
          String($0).replacingOccurrences(
            of: #""finished":"[^"]*","#, with: "", options: .regularExpression)
        }
      return (
        journal, try String(contentsOfFile: dir + "/hyperparameters.json", encoding: .utf8),
        try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8)
      )
    }
    let (a, b) = (try tune(), try tune())
    #expect(a.journal.count >= 3)
    #expect(a.metrics.split(separator: "\n").count > 50)
    #expect(a.journal == b.journal)
    #expect(a.hyperparameters == b.hyperparameters)
    #expect(a.metrics == b.metrics)
    let bad = try CLI.run(
      spirals + [
        "--budget", "30s", "--virtual-clock", "1000", "--parallel", "2", "--out",
        CLI.temporaryDirectory(),
      ])
    #expect(bad.status == 64 && bad.stderr.contains("--virtual-clock"))
  }

  @Test func badBudgetIsNamed() throws {
    let r = try CLI.run(spirals + ["--budget", "ten minutes", "--out", CLI.temporaryDirectory()])
    #expect(r.status == 64 && r.stderr.contains("budget"))
  }
}

/// `tune` and `study` with the user's own program: examples/protocol/softmax_regression.py,
/// a standard-library training program that speaks the protocol without any helper.
@Suite(.serialized) struct TuneProgramTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let command = "/usr/bin/python3 \(repository.path)/examples/protocol/softmax_regression.py"

  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func tuneRunsTheWholeRecipeWithTheUsersProgram() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run([
      "tune", "--command", Self.command, "--budget", "40s", "--batch-sizes", "16,32",
      "--start-batch-size", "16",
      "--momenta", "0.95,0.9", "--weight-decays", "1e-3,0", "--json", "--out", dir,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    #expect((json["test_accuracy"] as? Double ?? 0) > 0.8)
    let h = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/hyperparameters.json"))))
    #expect([16, 32].contains(h["batch_size"] as? Int ?? 0))
    // The program applies no dropout: the study is skipped, and the reason says why.
    let reasons = try #require(h["reasons"] as? [String: String])
    #expect(
      reasons["dropout"]?.contains("does not apply dropout") == true, "\(reasons["dropout"] ?? "")")
    // Nor is any of the budget set aside for range tests a study it does not apply would run.
    #expect(!r.stderr.contains("no regularization study"), "\(r.stderr)")
    for file in [
      "report.html", "journal.jsonl", "metrics.csv", "trials/final/model.pt",
      "trials/final/result.json", "trials/lr-range-test-16/events.jsonl",
    ] {
      #expect(FileManager.default.fileExists(atPath: dir + "/" + file), "\(file) missing")
    }
    #expect(r.stderr.contains("trials/final/model.pt"))
    // The final run's epochs are of its own split (training and validation data together),
    // not of the trials' smaller one.
    let events = try String(contentsOfFile: dir + "/trials/final/events.jsonl", encoding: .utf8)
      .split(separator: "\n").compactMap { CLI.json(Data($0.utf8)) }
    let samples = try #require(events.first?["train_samples"] as? Int)
    let steps = events.filter { $0["event"] as? String == "train" }.count
    let batch = try #require(h["batch_size"] as? Int)
    let epochs = max(1, Int((Double(steps) / Double(samples / batch)).rounded()))
    #expect(h["epochs"] as? Int == epochs, "\(steps) steps of \(samples / batch) per epoch")
    // The report's row says what the run trained, not the count rounded ("8" for 7.52).
    let trained = Double(steps) / Double(samples / batch)
    let length =
      abs(trained - trained.rounded()) < 0.005
      ? "\(Int(trained.rounded())) epochs" : String(format: "%.2f epochs", trained)
    let report = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
    #expect(
      report.contains("<td>epochs</td><td class=\"value\">\(length)</td>"),
      "\(length): \(report.components(separatedBy: "<td>epochs</td>").dropFirst().first?.prefix(80) ?? "no row")"
    )
  }

  /// A program that takes a second to start and another per validation pass (a real script
  /// reading a large split, whatever validation_batches asks): its costs are measured by the
  /// throughput probe; a budget too short for the whole recipe with them leaves out the
  /// studies it cannot hold (each named, with the budget the whole recipe needs) and ends
  /// within the budget, and one that cannot hold even the first range test and a final run is
  /// refused at once, instead of overrunning with trials too short to separate anything.
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func aSlowProgramsCostsArePlannedWithOrTheBudgetIsRefusedAtOnce() throws {
    let slow = "env SOFTMAX_STARTUP_SECONDS=1 SOFTMAX_VALIDATION_SECONDS=1 \(Self.command)"
    let dir = CLI.temporaryDirectory()
    var started = Date()
    let reduced = try CLI.run(["tune", "--command", slow, "--budget", "40s", "--out", dir])
    var seconds = Date().timeIntervalSince(started)
    #expect(reduced.status == 0, "\(reduced.stderr.suffix(1500))")
    #expect(
      reduced.stderr.contains("not studied: a budget of 40 s holds the first LR range test"),
      "\(reduced.stderr.prefix(3000))")
    #expect(reduced.stderr.contains("the whole recipe needs about"))
    #expect(reduced.stderr.contains("per validation pass"))
    #expect(seconds < 40 * 1.15, "took \(seconds) s of 40")
    let h = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/hyperparameters.json"))))
    let reasons = h["reasons"] as? [String: String] ?? [:]
    #expect(
      ["batch_size", "momentum", "weight_decay"].contains {
        reasons[$0]?.contains("not studied: a budget of") == true
      }, "\(h)")

    started = Date()
    // Three seconds to start and three a pass: the least (a range test, a final run as long)
    // needs about a minute.
    let slower = "env SOFTMAX_STARTUP_SECONDS=3 SOFTMAX_VALIDATION_SECONDS=3 \(Self.command)"
    let refused = try CLI.run([
      "tune", "--command", slower, "--budget", "30s", "--out", CLI.temporaryDirectory(),
    ])
    seconds = Date().timeIntervalSince(started)
    #expect(refused.status != 0, "\(refused.stderr.suffix(1500))")
    #expect(
      refused.stderr.contains("cannot hold even the first LR range test"),
      "\(refused.stderr.suffix(1500))")
    #expect(refused.stderr.contains("per validation pass"), "\(refused.stderr.suffix(1500))")
    // At once: the probe (a start, 30 steps, a pass) and the final-run check, not the recipe.
    #expect(seconds < 25, "refused after \(seconds) s")
  }

  /// A final run that turns slower than the trials measured is re-planned shorter: its
  /// schedule rewritten mid-run, which the program reads again.
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func aSlowFinalRunOfTheProgramIsReplanned() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run([
      "tune", "--command", "env SOFTMAX_SLOW_FINAL=0.0002 \(Self.command)", "--budget", "40s",
      "--batch-sizes", "16,32",
      "--start-batch-size", "16", "--momenta", "0.95,0.9", "--weight-decays", "1e-3,0",
      "--dropouts", "0", "--json", "--out", dir,
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("final training re-planned to"), "\(r.stderr.suffix(2000))")
    let h = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/hyperparameters.json"))))
    #expect(
      ((h["reasons"] as? [String: String])?["epochs"])?.contains("re-planned after step") == true)
    let result = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/trials/final/result.json"))))
    let spec = try #require(
      CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/trials/final/spec.json"))))
    #expect(
      result["steps"] as? Int == spec["steps"] as? Int,
      "the program ran the shortened schedule to its end")
  }

  /// SIGKILL mid-phase, then --resume: every journaled trial is reused (its files untouched),
  /// none is lost, and the orphaned program stops by itself (DISCIPLINE_PID).
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func killedWithAProgramRunningResumesWithoutRerunningATrial() throws {
    let dir = CLI.temporaryDirectory()
    let arguments = [
      "tune", "--command", Self.command, "--budget", "40s", "--batch-sizes", "16,32",
      "--start-batch-size", "16",
      "--momenta", "0.95,0.9", "--weight-decays", "1e-3,0", "--out", dir,
    ]
    let process = Process()
    process.executableURL = CLI.binary
    process.arguments = arguments
    process.standardError = FileHandle.nullDevice
    try process.run()
    let journal = dir + "/journal.jsonl"
    let deadline = Date().addingTimeInterval(40)
    func lines() -> [Substring] {
      ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n")
    }
    while Date() < deadline && lines().count < 5 { usleep(50_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let finished = lines().dropFirst().compactMap { CLI.json(Data($0.utf8))?["key"] as? String }
    #expect(finished.count >= 4)
    /// When the results of a journal key were written: its run's, or its conditions' (a
    /// range-test overlay runs once per condition, "KEY/CONDITION").
    func stamp(_ key: String) -> [Date]? {
      let folders = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/trials")) ?? []
      let stamps = folders.sorted().compactMap { folder -> Date? in
        let url = URL(fileURLWithPath: "\(dir)/trials/\(folder)/result.json")
        guard let ran = (try? Data(contentsOf: url)).flatMap(CLI.json)?["key"] as? String,
          ran == key || ran.hasPrefix(key + "/")
        else { return nil }
        return (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate]
          as? Date
      }
      return stamps.isEmpty ? nil : stamps
    }
    let before = finished.map(stamp)
    #expect(before.allSatisfy { $0 != nil }, "every journaled trial has its result.json")
    let r = try CLI.run(arguments + ["--resume"])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("\(finished.count) finished trial"))
    #expect(finished.map(stamp) == before, "a journaled trial ran again")
    #expect(FileManager.default.fileExists(atPath: dir + "/hyperparameters.json"))
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func studyRunsTrialsWithTheUsersProgramAndResumes() throws {
    let dir = CLI.temporaryDirectory()
    let arguments = [
      "study", "momentum", "--command", Self.command, "--batch-size", "32", "--max-lr", "0.5",
      "--momenta", "0.97,0.9",
      "--trial-seconds", "1", "--json", "--out", dir,
    ]
    let r = try CLI.run(arguments)
    #expect(r.status == 0, "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    #expect([0.97, 0.9].contains(json["choice"] as? Double ?? 0))
    // Both momenta and their repeats under the next seed (the noise: a first measurement
    // repeats the two lowest trials).
    let rows = try #require(json["trials"] as? [[String: Any]])
    #expect(
      rows.count == 4
        && rows.filter { ($0["label"] as? String)?.hasSuffix("seed 1") ?? false }.count == 2,
      "\(rows)")
    // Resumed, every finished trial is reused: no program runs again.
    let events = dir + "/trials/momentum-0.97/events.jsonl"
    let before =
      try FileManager.default.attributesOfItem(atPath: events)[.modificationDate] as? Date
    let again = try CLI.run(arguments + ["--resume"])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(again.stderr.contains("reused"))
    #expect(
      try FileManager.default.attributesOfItem(atPath: events)[.modificationDate] as? Date == before
    )
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
  func aFailingCandidateCountsAsDivergedAndTheRecipeGoesOn() throws {
    // A wrapper that fails for batch 64 (as a GPU out of memory would) and runs the program otherwise.
    let dir = CLI.temporaryDirectory()
    let wrapper = dir + "/wrapper.sh"
    try """
    if [ "$1" = 64 ]; then echo "RuntimeError: out of memory at batch 64" >&2; exit 1; fi
    exec \(Self.command)
    """.write(toFile: wrapper, atomically: true, encoding: .utf8)
    let r = try CLI.run([
      "study", "batch-size", "--command", "/bin/sh \(wrapper) {batch_size}", "--batch-size", "32",
      "--batch-sizes", "32,64",
      "--max-lr", "0.5", "--trial-seconds", "1", "--json", "--out", dir + "/out",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("out of memory at batch 64"), "\(r.stderr)")
    let json = try #require(CLI.json(Data(r.stdout.utf8)), "stdout: \(r.stdout)")
    #expect(json["choice"] as? Double == 32)
  }
}
