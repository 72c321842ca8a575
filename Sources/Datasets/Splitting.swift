import Randomness

extension SeededGenerator {
  /// A uniform integer in `0..<bound` from one draw, by the multiply-high method (bias below
  /// `bound` / 2⁶⁴). Written out here, rather than `Int.random(in:using:)`, so that shuffles stay
  /// bit-for-bit the same across Swift versions.
  mutating func index(below bound: Int) -> Int {
    Int(UInt64(bound).multipliedFullWidth(by: next()).high)
  }
}

enum Shuffling {
  /// A random permutation of `0..<count` (Fisher–Yates, from the last position down).
  static func permutation(_ count: Int, using generator: inout SeededGenerator) -> [Int] {
    var order = Array(0..<count)
    shuffle(&order, using: &generator)
    return order
  }

  /// Shuffles `values` in place (Fisher–Yates).
  static func shuffle(_ values: inout [Int], using generator: inout SeededGenerator) {
    guard values.count > 1 else { return }
    for i in stride(from: values.count - 1, to: 0, by: -1) {
      let j = generator.index(below: i + 1)
      values.swapAt(i, j)
    }
  }
}

extension LabeledData {
  /// Splits off about `fraction` of each class's samples at random, for a validation or test
  /// set with the same class proportions as the whole.
  ///
  /// Each class holds out `round(fraction × its count)` samples, but always keeps at least one.
  /// Both parts keep the original sample order. The same `seed` gives the same split.
  ///
  /// - Precondition: `0 ≤ fraction < 1`.
  public func splitStratified(holdingOut fraction: Double, seed: UInt64)
    -> (kept: LabeledData, heldOut: LabeledData)
  {
    let (kept, heldOut) = stratifiedIndices(holdingOut: fraction, seed: seed)
    return (subset(kept), subset(heldOut))
  }

  /// Removes about `fraction` of each class's samples, in place, and returns them: the same
  /// split as `splitStratified(holdingOut:seed:)` without copying the samples kept.
  mutating func removeStratified(fraction: Double, seed: UInt64) -> LabeledData {
    let (kept, heldOut) = stratifiedIndices(holdingOut: fraction, seed: seed)
    let removed = subset(heldOut)
    keepOnly(sortedIndices: kept)
    return removed
  }

  /// The sorted indices of the samples kept and held out by a stratified split.
  func stratifiedIndices(holdingOut fraction: Double, seed: UInt64) -> (kept: [Int], heldOut: [Int])
  {
    precondition(fraction >= 0 && fraction < 1, "fraction must be in [0, 1), got \(fraction)")
    var byClass = [[Int]](repeating: [], count: classCount)
    for (index, label) in labels.enumerated() { byClass[Int(label)].append(index) }
    var generator = SeededGenerator(seed: seed)
    var kept: [Int] = []
    var heldOut: [Int] = []
    for var members in byClass {
      Shuffling.shuffle(&members, using: &generator)
      let wanted = Int((Double(members.count) * fraction).rounded())
      let holding = min(wanted, max(0, members.count - 1))
      heldOut += members[..<holding]
      kept += members[holding...]
    }
    return (kept.sorted(), heldOut.sorted())
  }
}
