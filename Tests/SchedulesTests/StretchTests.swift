import Foundation
import Testing

@testable import Schedules

/// A run re-planned to another length goes on from where its learning rate is.
@Suite struct StretchTests {
  let policy = Policy.oneCycle(OneCycle(maxLearningRate: 0.1))

  @Test func aStretchKeepsThePastAndSpreadsTheRestOverTheNewLength() throws {
    let original = try Schedule(policy, totalSteps: 1000)
    for newTotal in [1400, 700] {
      let stretched = original.stretched(from: 500, totalSteps: newTotal)
      #expect(stretched.totalSteps == newTotal)
      // Steps before the re-plan, and the step it happens at, keep their values.
      for k in [0, 100, 299, 499, 500] {
        #expect(stretched.learningRate(at: k) == original.learningRate(at: k))
        #expect(stretched.momentum(at: k) == original.momentum(at: k))
      }
      // The rest of the curve, spread: the new run's last step reads the old run's last step,
      // and its midway point the old midway point.
      #expect(
        isClose(
          stretched.learningRate(at: newTotal - 1), original.learningRate(at: 999), relative: 1e-2))
      let middle = 500 + (newTotal - 500) / 2
      #expect(
        isClose(stretched.learningRate(at: middle), original.learningRate(at: 750), relative: 1e-2))
      // No jump: a step after the re-plan moves the rate as a step of the old run would, at
      // the new pace (the old remainder over the new one).
      let pace = 499.0 / Double(newTotal - 1 - 500)
      let jump = abs(stretched.learningRate(at: 501) - stretched.learningRate(at: 500))
      let step = abs(original.learningRate(at: 501) - original.learningRate(at: 500))
      #expect(jump <= 1.1 * max(1, pace) * step + 1e-15, "\(jump) against \(step)")
    }
    // A schedule made anew at the new length jumps instead (the reason for stretching).
    let remade = try Schedule(policy, totalSteps: 1400)
    #expect(abs(remade.learningRate(at: 500) - original.learningRate(at: 500)) > 0.01)
  }

  @Test func stretchesCompose() throws {
    let once = try Schedule(policy, totalSteps: 1000).stretched(from: 300, totalSteps: 1200)
    let twice = once.stretched(from: 800, totalSteps: 1100)
    for k in [0, 299, 300, 650, 799, 800] {
      #expect(twice.learningRate(at: k) == once.learningRate(at: k))
    }
    #expect(isClose(twice.learningRate(at: 1099), once.learningRate(at: 1199), relative: 1e-2))
    // Made again from its policy, length and stretches (a resumed run), and through JSON.
    let again = try Schedule(policy, totalSteps: 1100, stretches: twice.stretches)
    #expect(again == twice)
    let decoded = try JSONDecoder().decode(Schedule.self, from: JSONEncoder().encode(twice))
    #expect(decoded == twice && decoded.values() == twice.values())
    // A schedule never stretched encodes as before: no "stretches" key.
    let plain = String(
      decoding: try JSONEncoder().encode(Schedule(policy, totalSteps: 10)), as: UTF8.self)
    #expect(!plain.contains("stretches"))
  }
}
