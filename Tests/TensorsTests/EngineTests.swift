import Tensors
import TestSupport
import Testing

/// Every test that runs the engine, in one serialized suite.
///
/// The engine keeps process-wide state that is not thread-safe (oneDNN's primitive cache,
/// the gradient-recording flag, `GEMM.backend`), while Swift Testing runs tests in parallel
/// by default; so all engine tests are nested in this suite (as extensions in the other files)
/// and `.serialized` applies to all of them.
@Suite(.serialized) struct EngineTests {}

/// A copy of `x` in the layout oneDNN picks for a convolution's output (blocked, such as
/// nChw8c, for 8 or more channels on x86), made by a 1×1 convolution with identity weights:
/// the values are exactly `x`'s and gradients flow back to `x` unchanged.
func blockedCopy(_ x: Tensor) -> Tensor {
  let c = x.shape[1]
  var w = [Float](repeating: 0, count: c * c)
  for i in 0..<c { w[i * c + i] = 1 }
  return x.conv2d(weight: Tensor(shape: [c, c, 1, 1], values: w))
}

/// The layouts an activation can reach an operation in: row-major, the one this CPU's
/// convolutions pick (`blockedCopy`), and both channel blockings x86 CPUs use — nChw8c (AVX2)
/// and nChw16c (AVX-512) — forced, so every machine tests both, whatever its vector width.
enum TestLayout: String, CaseIterable, CustomTestStringConvertible, Sendable {
  case plain, native, nChw8c, nChw16c
  var testDescription: String { rawValue }
}

/// `x` in `layout` (a 4-D tensor for the blocked ones); gradients flow back to `x` unchanged.
func laidOut(_ x: Tensor, _ layout: TestLayout) -> Tensor {
  switch layout {
  case .plain: x
  case .native: blockedCopy(x)
  case .nChw8c: x.channelBlocked(by: 8)
  case .nChw16c: x.channelBlocked(by: 16)
  }
}

/// Whether oneDNN is expected to pick a blocked layout for `channels`-channel activations
/// on this machine (x86 with AVX2 or AVX-512: nChw8c or nChw16c).
func expectsBlockedLayout(channels: Int) -> Bool {
  #if arch(x86_64)
    return channels >= 8
  #else
    return false
  #endif
}

/// `values` as doubles.
func doubles(_ t: Tensor) -> [Double] { t.values.map(Double.init) }
