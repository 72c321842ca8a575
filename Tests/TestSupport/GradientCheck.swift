import Foundation
import Tensors
import Testing

/// The outcome of comparing analytic gradients with finite differences.
public struct GradientCheckReport: CustomStringConvertible, Sendable {
  /// Elements compared (over all inputs).
  public var checked = 0
  /// Elements left out because the function was not smooth there (see `skipNonSmooth`).
  public var skipped = 0
  /// Elements whose analytic and numeric derivatives disagree.
  public var failures: [Mismatch] = []
  /// The largest |analytic − numeric| seen.
  public var largestError = 0.0

  /// One disagreement: input `input`, row-major element `index`.
  public struct Mismatch: CustomStringConvertible, Sendable {
    public var input: Int, index: Int
    public var analytic: Double, numeric: Double
    public var description: String {
      "input \(input)[\(index)]: analytic \(analytic), numeric \(numeric)"
    }
  }

  public var passed: Bool { failures.isEmpty }
  public var description: String {
    "\(checked) checked, \(skipped) skipped, \(failures.count) failed, "
      + "largest error \(largestError)"
  }
}

/// Compares the gradients `backward()` computes for `function` with central differences.
///
/// `function` maps the inputs to a tensor y; it is called once with gradients recorded, then
/// twice per checked element under `withoutGradients` with that element moved by ±`epsilon`
/// (so it must be deterministic: a dropout inside it must draw its mask from a generator
/// created inside the closure). The inputs must be row-major leaves; they get
/// `requiresGrad = true` and their `grad` is reset.
///
/// The function checked is f = y when y has one element, else f = Σ yᵢ·rᵢ with fixed random
/// weights rᵢ in [-1, 1) (seeded by `projectionSeed`), so that every output matters and errors
/// cannot cancel. The analytic side runs `backward()` on `(y * r).sum()`; the numeric side sums
/// yᵢ·rᵢ in double, so the loss is not rounded to float32 before differencing.
///
/// An element passes when |analytic − numeric| ≤ `absoluteTolerance` +
/// `relativeTolerance`·max(|analytic|, |numeric|). The numeric derivative is
/// (f(x+ε) − f(x−ε)) / ((x+ε) − (x−ε)); its error is about ε²·|f‴| plus the float32 rounding
/// of y divided by ε (for a scalar y, ulp(y)/ε: keep scalar losses of order 1). Choose test
/// points away from kinks (ReLU at 0, ties in max pooling).
///
/// With `skipNonSmooth`, elements where the one-sided differences disagree by more than the
/// tolerance (a kink inside [x−ε, x+ε]) are skipped rather than compared; an issue is
/// recorded when more than `maxSkippedFraction` of the elements are skipped. Only the forward
/// pass decides what is skipped, so a wrong gradient cannot hide there.
///
/// At most `maxElementsPerInput` elements of each input are checked (evenly spaced, always
/// including the first and the last). Records one `Issue` at the caller's location on failure.
@discardableResult
public func checkGradients(
  _ inputs: [Tensor], epsilon: Float = 1e-2, relativeTolerance: Double = 1e-2,
  absoluteTolerance: Double = 1e-3, maxElementsPerInput: Int = 1000, skipNonSmooth: Bool = false,
  maxSkippedFraction: Double = 0.1, projectionSeed: UInt64 = 99, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation,
  of function: ([Tensor]) -> Tensor
) -> GradientCheckReport {
  let prefix = comment.map { "\($0): " } ?? ""
  for x in inputs {
    precondition(x.layout == nil && x.isLeaf, "checkGradients needs row-major leaf inputs")
    x.requiresGrad = true
    x.zeroGradient()
  }
  let output = function(inputs)
  let weights: [Float] =
    output.count == 1 ? [1] : TestData.uniform([output.count], seed: projectionSeed).values
  if output.count == 1 {
    output.backward()
  } else {
    (output * Tensor(shape: output.shape, values: weights)).sum().backward()
  }
  let analytic = inputs.map { $0.grad?.values }
  for (i, x) in inputs.enumerated() {
    if let g = x.grad, g.shape != x.shape {
      Issue.record(
        "\(prefix)gradient of input \(i) has shape \(g.shape), input \(x.shape)",
        sourceLocation: sourceLocation)
      return GradientCheckReport()
    }
  }
  func evaluate() -> Double {
    let y = withoutGradients { function(inputs).values }
    precondition(y.count == weights.count, "the function's output changed size")
    var total = 0.0
    for (v, r) in zip(y, weights) { total += Double(v) * Double(r) }
    return total
  }

  var report = GradientCheckReport()
  for (i, x) in inputs.enumerated() {
    let p = x.storage.pointer
    for index in sampledIndices(count: x.count, limit: maxElementsPerInput) {
      let original = p[index]
      let up = original + epsilon
      let down = original - epsilon
      p[index] = up
      let plus = evaluate()
      p[index] = down
      let minus = evaluate()
      var center = 0.0
      if skipNonSmooth {
        p[index] = original
        center = evaluate()
      }
      p[index] = original
      let numeric = (plus - minus) / (Double(up) - Double(down))
      let a = analytic[i].map { Double($0[index]) } ?? 0
      let tolerance = { (u: Double, v: Double) in
        absoluteTolerance + relativeTolerance * max(abs(u), abs(v))
      }
      if skipNonSmooth {
        let right = (plus - center) / (Double(up) - Double(original))
        let left = (center - minus) / (Double(original) - Double(down))
        if abs(right - left) > tolerance(right, left) {
          report.skipped += 1
          continue
        }
      }
      report.checked += 1
      let error = abs(a - numeric)
      report.largestError = error.isNaN ? .nan : max(report.largestError, error)
      if !(error <= tolerance(a, numeric)) {
        report.failures.append(.init(input: i, index: index, analytic: a, numeric: numeric))
      }
    }
  }
  if !report.failures.isEmpty {
    let shown = report.failures.prefix(6).map(\.description).joined(separator: "; ")
    let missing = analytic.enumerated().filter { $0.element == nil }.map(\.offset)
    Issue.record(
      """
      \(prefix)gradients disagree with finite differences at \(report.failures.count) of \
      \(report.checked) elements (largest error \(report.largestError)): \(shown)\
      \(report.failures.count > 6 ? "; …" : "")\
      \(missing.isEmpty ? "" : " (no gradient reached inputs \(missing))")
      """, sourceLocation: sourceLocation)
  }
  let total = report.checked + report.skipped
  if total > 0, Double(report.skipped) > maxSkippedFraction * Double(total) {
    Issue.record(
      """
      \(prefix)\(report.skipped) of \(total) elements skipped as non-smooth; choose smoother \
      test points
      """, sourceLocation: sourceLocation)
  }
  return report
}

/// Up to `limit` indices evenly spread over 0..<count, first and last included.
func sampledIndices(count: Int, limit: Int) -> [Int] {
  guard count > limit, limit > 1 else { return Array(0..<count) }
  return (0..<limit).map { Int((Double($0) * Double(count - 1) / Double(limit - 1)).rounded()) }
}
