import Foundation
import Testing

@Suite(.serialized) struct LRFindCommandTests {
  let spirals = ["lr-find", "--dataset", "spirals", "--samples", "800", "--model", "mlp", "--batch-size", "32", "--seed", "2"]

  @Test func writesCurveSuggestionsAndPlot() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run(spirals + ["--num-iter", "150", "--validate-every", "10", "--json", "--out", dir])
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
    let file = try #require(CLI.json(try Data(contentsOf: URL(fileURLWithPath: dir + "/lr_find.json"))))
    #expect(file["suggested_max_lr"] as? Double == max)

    let csv = try String(contentsOfFile: dir + "/lr_find.csv", encoding: .utf8).split(separator: "\n")
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
    let a = CLI.temporaryDirectory(), b = CLI.temporaryDirectory()
    #expect(try CLI.run(spirals + ["--num-iter", "60", "--out", a]).status == 0)
    #expect(try CLI.run(spirals + ["--num-iter", "60", "--out", b]).status == 0)
    let csvA = try Data(contentsOf: URL(fileURLWithPath: a + "/lr_find.csv"))
    let csvB = try Data(contentsOf: URL(fileURLWithPath: b + "/lr_find.csv"))
    #expect(csvA == csvB)
  }

  @Test func overlaysAndRepeats() throws {
    let dir = CLI.temporaryDirectory()
    let r = try CLI.run(spirals + ["--num-iter", "80", "--weight-decay", "1e-2,0", "--repeats", "2", "--validate-every", "20", "--json", "--out", dir])
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
