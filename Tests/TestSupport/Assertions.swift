import Foundation
import Tensors
import Testing

/// Whether `actual` is within `absoluteTolerance + relativeTolerance·|expected|` of `expected`.
public func isClose(
  _ actual: Double, _ expected: Double, relativeTolerance: Double, absoluteTolerance: Double
) -> Bool {
  if actual.isNaN || expected.isNaN { return false }
  if actual == expected { return true }  // equal infinities
  return abs(actual - expected) <= absoluteTolerance + relativeTolerance * abs(expected)
}

/// Expects two arrays to agree element by element within
/// `absoluteTolerance + relativeTolerance·|expected|`; NaN never agrees with anything.
///
/// On failure, records one `Issue` at the caller's location naming the number of mismatches,
/// the largest error and the first few offending indices with both values.
@discardableResult
public func assertClose(
  _ actual: [Float], _ expected: [Float], relativeTolerance: Double = 1e-5,
  absoluteTolerance: Double = 1e-6, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  assertClose(
    actual.map(Double.init), expected.map(Double.init), relativeTolerance: relativeTolerance,
    absoluteTolerance: absoluteTolerance, comment, sourceLocation: sourceLocation)
}

/// `assertClose` for arrays of doubles (reference values computed in double precision).
@discardableResult
public func assertClose(
  _ actual: [Double], _ expected: [Double], relativeTolerance: Double = 1e-5,
  absoluteTolerance: Double = 1e-6, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  let prefix = comment.map { "\($0): " } ?? ""
  guard actual.count == expected.count else {
    Issue.record(
      "\(prefix)\(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    return false
  }
  var bad: [Int] = []
  var worst = 0.0
  for i in actual.indices
  where !isClose(
    actual[i], expected[i], relativeTolerance: relativeTolerance,
    absoluteTolerance: absoluteTolerance)
  {
    bad.append(i)
    let error = abs(actual[i] - expected[i])
    worst = error.isNaN ? .nan : max(worst, error)
  }
  guard !bad.isEmpty else { return true }
  let shown = bad.prefix(6).map { "[\($0)] \(actual[$0]) vs \(expected[$0])" }
  Issue.record(
    """
    \(prefix)\(bad.count) of \(actual.count) values differ (largest error \(worst), \
    tolerance \(absoluteTolerance) + \(relativeTolerance)·|expected|): \
    \(shown.joined(separator: ", "))\(bad.count > 6 ? ", …" : "")
    """, sourceLocation: sourceLocation)
  return false
}

/// Expects a tensor to have `shape` and values close to `expected` (row-major).
@discardableResult
public func assertClose(
  _ tensor: Tensor, shape: [Int], _ expected: [Float], relativeTolerance: Double = 1e-5,
  absoluteTolerance: Double = 1e-6, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  guard tensor.shape == shape else {
    let prefix = comment.map { "\($0): " } ?? ""
    Issue.record(
      "\(prefix)shape \(tensor.shape), expected \(shape)", sourceLocation: sourceLocation)
    return false
  }
  return assertClose(
    tensor.values, expected, relativeTolerance: relativeTolerance,
    absoluteTolerance: absoluteTolerance, comment, sourceLocation: sourceLocation)
}

/// Expects two tensors to have the same shape and close values.
@discardableResult
public func assertClose(
  _ actual: Tensor, _ expected: Tensor, relativeTolerance: Double = 1e-5,
  absoluteTolerance: Double = 1e-6, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  assertClose(
    actual, shape: expected.shape, expected.values, relativeTolerance: relativeTolerance,
    absoluteTolerance: absoluteTolerance, comment, sourceLocation: sourceLocation)
}

/// Expects one value to be close to another.
@discardableResult
public func assertClose(
  _ actual: Double, _ expected: Double, relativeTolerance: Double = 1e-5,
  absoluteTolerance: Double = 1e-6, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  assertClose(
    [actual], [expected], relativeTolerance: relativeTolerance,
    absoluteTolerance: absoluteTolerance, comment, sourceLocation: sourceLocation)
}

/// Expects one float to be close to another.
@discardableResult
public func assertClose(
  _ actual: Float, _ expected: Double, relativeTolerance: Double = 1e-5,
  absoluteTolerance: Double = 1e-6, _ comment: Comment? = nil,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  assertClose(
    [Double(actual)], [expected], relativeTolerance: relativeTolerance,
    absoluteTolerance: absoluteTolerance, comment, sourceLocation: sourceLocation)
}
