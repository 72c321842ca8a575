import Foundation
import Testing

@testable import Schedules

/// The primitives and combinators, against values worked out by hand.
@Suite("Curve primitives and combinators")
struct CurveTests {
  @Test(arguments: [
    (Annealing.linear, 0.25, 0.75),
    (.cosine, 0.5, 0.5),
    (.cosine, 0.25, 0.5 + 0.5 * cos(Double.pi / 4)),
    (.exponential, 0.5, 0.1),  // sqrt(1 × 0.01)
    (.polynomial(power: 2), 0.5, 0.75),  // 1 + (0 − 1) × 0.5²
  ])
  func annealingShapes(shape: Annealing, position: Double, expected: Double) {
    let (start, end): (Double, Double) =
      switch shape {
      case .linear, .cosine: (1, 0)
      case .exponential: (1, 0.01)
      case .polynomial: (1, 0)
      }
    #expect(isClose(shape.value(from: start, to: end, at: position), expected))
  }

  @Test func annealingHoldsItsEnds() {
    #expect(Annealing.cosine.value(from: 3, to: 1, at: -0.5) == 3)
    #expect(Annealing.cosine.value(from: 3, to: 1, at: 1.5) == 1)
    #expect(Curve.anneal(shape: .linear, from: 2, to: 4, length: 0).value(at: 0) == 2)
    #expect(Curve.anneal(shape: .linear, from: 2, to: 4, length: 0).value(at: 1) == 4)
  }

  @Test func geometricStairs() {
    let stairs = Curve.geometric(start: 1, factor: 0.5, interval: 3)
    #expect((0..<7).map { stairs.value(at: Double($0)) } == [1, 1, 1, 0.5, 0.5, 0.5, 0.25])
  }

  @Test func sequenceBoundaryBelongsToTheLaterPhase() {
    let curve = Curve.sequence([
      .init(length: 2, curve: .constant(1)),
      .init(length: 0, curve: .constant(2)),
      .init(length: 3, curve: .anneal(shape: .linear, from: 10, to: 13, length: 3)),
    ])
    #expect((0..<7).map { curve.value(at: Double($0)) } == [1, 1, 10, 11, 12, 13, 13])
    // 0.3 × 10 = 3.0000000000000004: the boundary still takes step 3.
    let rounded = Curve.sequence([
      .init(length: 0.3 * 10, curve: .constant(1)), .init(length: 7, curve: .constant(2)),
    ])
    #expect(rounded.value(at: 3) == 2)
  }

  @Test func repeatingAndArithmetic() {
    let saw = Curve.repeating(.anneal(shape: .linear, from: 0, to: 4, length: 4), period: 4)
    #expect((0..<9).map { saw.value(at: Double($0)) } == [0, 1, 2, 3, 0, 1, 2, 3, 0])
    let affine = Curve.sum([.constant(1), .product([.constant(2), saw])])
    #expect(affine.value(at: 6) == 5)
  }

  /// fastai's `combine_scheds([0.25, 0.75], …)` at progress k / 8.
  @Test func fractionsJoin() {
    let curve = Curve.fractions(
      [
        .init(length: 0.25, curve: .anneal(shape: .linear, from: 0, to: 1, length: 1)),
        .init(length: 0.75, curve: .anneal(shape: .linear, from: 1, to: 0, length: 1)),
      ], totalSteps: 8)
    let values = (0..<8).map { curve.value(at: Double($0)) }
    expectClose(values, [0, 0.5, 1, 5.0 / 6, 4.0 / 6, 3.0 / 6, 2.0 / 6, 1.0 / 6])
  }

  @Test func codableRoundTrip() throws {
    let curve = Curve.sum([
      .constant(0.1),
      .product([
        .geometric(start: 1, factor: 0.9, interval: 2),
        .repeating(
          .sequence([
            .init(
              length: 3, curve: .anneal(shape: .polynomial(power: 2), from: 0, to: 1, length: 3))
          ]), period: 3),
      ]),
      .fractions(
        [.init(length: 1, curve: .anneal(shape: .exponential, from: 1, to: 2, length: 1))],
        totalSteps: 5),
    ])
    let data = try JSONEncoder().encode(curve)
    #expect(try JSONDecoder().decode(Curve.self, from: data) == curve)
  }
}

@Test(arguments: [Annealing.linear, .cosine, .exponential, .polynomial(power: 3)])
func annealingCodesAsAName(shape: Annealing) throws {
  let data = try JSONEncoder().encode(shape)
  #expect(try JSONDecoder().decode(Annealing.self, from: data) == shape)
  let text = String(decoding: data, as: UTF8.self)
  #expect(
    text == "\"linear\"" || text == "\"cosine\"" || text == "\"exponential\""
      || text == #"{"polynomial":3}"#)
}
