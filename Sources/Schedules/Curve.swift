import Foundation

/// A value as a function of a real coordinate, built from a few primitives and combinators.
///
/// A ``Schedule`` evaluates its curves at the step number `k` (as a `Double`); combinators hand
/// their children a local coordinate, so each child sees its own phase start at 0:
///
/// - primitives: ``constant(_:)``, ``anneal(shape:from:to:length:)`` (a phase of a given
///   ``Annealing`` shape) and ``geometric(start:factor:interval:)`` (stairs that multiply by a
///   factor);
/// - combinators: ``sequence(_:)`` joins phases of given lengths one after another,
///   ``fractions(_:totalSteps:)`` joins phases by fraction of a run as fastai's
///   `combine_scheds` does, ``repeating(_:period:)`` cycles a curve, and ``sum(_:)`` and
///   ``product(_:)`` combine curves pointwise.
///
/// Every policy of this module is one of these trees; see ``SchedulePolicy``. For example
/// PyTorch's `CyclicLR` in `triangular` mode with a base of 0.01, a maximum of 0.1 and 4 steps
/// up and down is
///
/// ```swift
/// let triangle = Curve.sequence([
///   .init(length: 4, curve: .anneal(shape: .linear, from: 0, to: 1, length: 4)),
///   .init(length: 4, curve: .anneal(shape: .linear, from: 1, to: 0, length: 4)),
/// ])
/// let rate = Curve.sum([
///   .constant(0.01), .product([.constant(0.09), .repeating(triangle, period: 8)]),
/// ])
/// rate.value(at: 2)  // 0.055
/// ```
public indirect enum Curve: Sendable, Hashable, Codable {
  /// One value everywhere.
  case constant(Double)
  /// Anneals from `from` to `to` as the coordinate goes from 0 to `length`, and holds the end
  /// values outside that span. A phase of zero length takes its start value at coordinate 0 and
  /// its end value after.
  case anneal(shape: Annealing, from: Double, to: Double, length: Double)
  /// `start · factor^⌊t / interval⌋`: PyTorch's `StepLR` (interval = step size) and
  /// `ExponentialLR` (interval 1).
  case geometric(start: Double, factor: Double, interval: Double)
  /// Phases one after another, each starting where the previous one's length ends. The value
  /// at `t` comes from the last phase whose start is at most `t` (a step on a boundary belongs
  /// to the phase that begins there), evaluated at `t` minus that start; the last phase
  /// extends to infinity.
  case sequence([Phase])
  /// fastai's `combine_scheds`: phases that take the given fractions of a run of `totalSteps`
  /// steps. Coordinate `t` is at progress `t / totalSteps`; each phase is evaluated at its own
  /// progress, from 0 to 1. As in fastai, the fractions' running sums and the position within a
  /// phase are computed in single precision (fastai keeps them in a float32 tensor), so that the
  /// values equal fastai's.
  case fractions([Phase], totalSteps: Int)
  /// Repeats a curve with a period: the value at `t` is the curve's value at `t mod period`.
  case repeating(Curve, period: Double)
  /// The pointwise sum of curves.
  case sum([Curve])
  /// The pointwise product of curves.
  case product([Curve])

  /// One phase of a ``Curve/sequence(_:)`` (where `length` is a number of steps) or of a
  /// ``Curve/fractions(_:totalSteps:)`` join (where `length` is a fraction of the run).
  public struct Phase: Sendable, Hashable, Codable {
    /// The phase's extent: steps in a sequence, a fraction of the run in a fractions join.
    public var length: Double
    /// The curve, evaluated on the phase's own coordinate.
    public var curve: Curve

    /// Creates a phase of `length` following `curve`.
    public init(length: Double, curve: Curve) {
      self.length = length
      self.curve = curve
    }
  }

  /// The curve's value at coordinate `t`.
  ///
  /// - Complexity: proportional to the number of nodes in the tree.
  public func value(at t: Double) -> Double {
    switch self {
    case .constant(let value):
      return value
    case .anneal(let shape, let start, let end, let length):
      let position: Double
      if length > 0 {
        position = t / length
      } else {
        position = t > 0 ? 1 : 0
      }
      return shape.value(from: start, to: end, at: position)
    case .geometric(let start, let factor, let interval):
      let exponent = Self.wholePeriods(in: t, period: interval)
      return exponent == 0 ? start : start * pow(factor, exponent)
    case .sequence(let phases):
      return Self.sequenceValue(phases, at: t)
    case .fractions(let phases, let totalSteps):
      return Self.fractionsValue(phases, totalSteps: totalSteps, at: t)
    case .repeating(let curve, let period):
      let cycles = Self.wholePeriods(in: t, period: period)
      return curve.value(at: max(t - cycles * period, 0))
    case .sum(let curves):
      return curves.reduce(0) { $0 + $1.value(at: t) }
    case .product(let curves):
      return curves.reduce(1) { $0 * $1.value(at: t) }
    }
  }

  /// Relative slack for boundary comparisons: phase boundaries computed from fractions of a run
  /// (0.3 × 10 = 3.0000000000000004) must still put the step on the boundary into the phase
  /// that begins there.
  static let boundarySlack = 1e-12

  /// ⌊t / period⌋, taking a `t` within rounding of a multiple of `period` to that multiple.
  static func wholePeriods(in t: Double, period: Double) -> Double {
    guard period > 0 else { return 0 }
    let quotient = t / period
    let nearest = quotient.rounded()
    if abs(quotient - nearest) <= boundarySlack * max(1, abs(nearest)) { return nearest }
    return quotient.rounded(.down)
  }

  static func sequenceValue(_ phases: [Phase], at t: Double) -> Double {
    guard !phases.isEmpty else { return 0 }
    var starts: [Double] = []
    starts.reserveCapacity(phases.count)
    var start = 0.0
    for phase in phases {
      starts.append(start)
      start += phase.length
    }
    // The last phase whose start is at most t; phases of negative length (which PyTorch's
    // OneCycleLR produces when pct_start × total_steps < 1) are thereby skipped over.
    var index = 0
    for candidate in stride(from: phases.count - 1, through: 0, by: -1) {
      let s = starts[candidate]
      if t >= s - boundarySlack * max(1, abs(s)) {
        index = candidate
        break
      }
    }
    return phases[index].curve.value(at: t - starts[index])
  }

  static func fractionsValue(_ phases: [Phase], totalSteps: Int, at t: Double) -> Double {
    guard !phases.isEmpty else { return 0 }
    // fastai: pcts = torch.cumsum(tensor([0] + pcts), 0), a float32 tensor (PyTorch's CPU
    // cumsum accumulates in double and rounds each running sum to float32); the position is
    // compared with it and reduced within the phase in float32 arithmetic.
    var bounds: [Float] = [0]
    var running = 0.0
    for phase in phases {
      running += Double(Float(phase.length))
      bounds.append(Float(running))
    }
    let position = Float(t / Double(totalSteps))
    var index = 0
    for candidate in 0..<bounds.count where position >= bounds[candidate] {
      index = candidate
    }
    index = min(index, phases.count - 1)
    let width = bounds[index + 1] - bounds[index]
    let local = (position - bounds[index]) / width
    return phases[index].curve.value(at: Double(local))
  }
}
