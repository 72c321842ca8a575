import Foundation

/// Which normalization statistics to compute from the training split.
public enum NormalizationKind: String, Sendable, Codable, CaseIterable {
  /// `scalar` for images, `perChannel` (per feature) for tabular data (H = W = 1).
  case automatic
  /// One mean and standard deviation over every value (what checkpoints carry as
  /// `input_mean` / `input_std`).
  case scalar
  /// One mean and standard deviation per channel; for tabular data, per feature.
  case perChannel = "per-channel"
  /// Leave the features as loaded.
  case none
}

/// The mean and standard deviation that map features to `(x − mean) / std`, either one pair
/// for all values or one per channel.
///
/// Computed from the training split only and applied to every split. A standard deviation of
/// 0 (a constant feature) is stored as 1, so that it maps to 0 rather than NaN.
public struct Normalization: Codable, Sendable, Equatable {
  /// One value, or one per channel.
  public var mean: [Float]
  /// One value, or one per channel; never 0.
  public var standardDeviation: [Float]

  enum CodingKeys: String, CodingKey {
    case mean
    case standardDeviation = "std"
  }

  /// Statistics with one entry (for all channels) or one per channel.
  ///
  /// - Precondition: both arrays have the same, non-zero count.
  public init(mean: [Float], standardDeviation: [Float]) {
    precondition(
      !mean.isEmpty && mean.count == standardDeviation.count,
      "mean (\(mean.count)) and standard deviation (\(standardDeviation.count)) must pair up")
    self.mean = mean
    self.standardDeviation = standardDeviation.map { $0 == 0 || !$0.isFinite ? 1 : $0 }
  }

  /// One mean and standard deviation for every value.
  public init(mean: Float, standardDeviation: Float) {
    self.init(mean: [mean], standardDeviation: [standardDeviation])
  }

  /// Whether one pair applies to every channel.
  public var isScalar: Bool { mean.count == 1 }

  /// The mean and (population) standard deviation of every value in `data`.
  public static func scalar(of data: LabeledData) -> Normalization {
    let (mean, std) = moments(data.features, blockSize: data.features.count, stride: 0, blocks: 1)
    return Normalization(mean: mean, standardDeviation: std)
  }

  /// The mean and (population) standard deviation of each channel of `data` (of each feature,
  /// for tabular data).
  public static func perChannel(of data: LabeledData) -> Normalization {
    let channels = data.sampleShape[0]
    let plane = data.sampleShape[1] * data.sampleShape[2]
    var means: [Float] = []
    var stds: [Float] = []
    for channel in 0..<channels {
      let (mean, std) = data.features.withUnsafeBufferPointer { all in
        moments(
          UnsafeBufferPointer(rebasing: all[(channel * plane)...]), blockSize: plane,
          stride: data.sampleSize, blocks: data.count)
      }
      means.append(mean)
      stds.append(std)
    }
    return Normalization(mean: means, standardDeviation: stds)
  }

  /// The statistics `kind` asks for, computed from `data` (nil for `.none`).
  public static func compute(_ kind: NormalizationKind, from data: LabeledData) -> Normalization? {
    switch kind {
    case .none: nil
    case .scalar: scalar(of: data)
    case .perChannel: perChannel(of: data)
    case .automatic:
      data.sampleShape[1] == 1 && data.sampleShape[2] == 1 ? perChannel(of: data) : scalar(of: data)
    }
  }

  /// What a raw value `value` in `channel` becomes: `(value − mean) / std`. Padding with
  /// `normalizedValue(of: 0, channel:)` after normalizing equals padding with 0 before.
  public func normalizedValue(of value: Float, channel: Int) -> Float {
    let c = isScalar ? 0 : channel
    return (value - mean[c]) / standardDeviation[c]
  }

  /// Replaces every feature `x` of `data` with `(x − mean) / std`.
  ///
  /// - Precondition: the statistics are scalar or have one entry per channel of `data`.
  public func apply(to data: inout LabeledData) {
    let channels = data.sampleShape[0]
    precondition(
      isScalar || mean.count == channels,
      "\(mean.count) channel statistics do not fit samples of shape \(data.sampleShape)")
    let plane = data.sampleShape[1] * data.sampleShape[2]
    let sampleSize = data.sampleSize
    let count = data.count
    let means = mean
    let stds = standardDeviation
    let scalar = isScalar
    data.features.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      if scalar {
        let m = means[0]
        let s = stds[0]
        for i in 0..<buffer.count { base[i] = (base[i] - m) / s }
        return
      }
      for sample in 0..<count {
        for channel in 0..<channels {
          let m = means[channel]
          let s = stds[channel]
          let start = base + sample * sampleSize + channel * plane
          for i in 0..<plane { start[i] = (start[i] - m) / s }
        }
      }
    }
  }

  /// The statistics as checkpoint metadata: `input_mean` and `input_std`, each a number, or
  /// numbers joined by commas when per channel.
  public var checkpointMetadata: [String: String] {
    [
      "input_mean": mean.map { "\($0)" }.joined(separator: ","),
      "input_std": standardDeviation.map { "\($0)" }.joined(separator: ","),
    ]
  }

  /// Reads statistics back from `checkpointMetadata`; nil when they are absent or malformed.
  public init?(checkpointMetadata metadata: [String: String]) {
    func numbers(_ key: String) -> [Float]? {
      guard let text = metadata[key] else { return nil }
      let values = text.split(separator: ",").map {
        Float($0.trimmingCharacters(in: .whitespaces))
      }
      guard !values.isEmpty, values.allSatisfy({ $0?.isFinite == true }) else { return nil }
      return values.map { $0! }
    }
    guard let mean = numbers("input_mean"), let std = numbers("input_std"),
      mean.count == std.count
    else { return nil }
    self.init(mean: mean, standardDeviation: std)
  }
}

/// Mean and population standard deviation of `blocks` runs of `blockSize` values, `stride`
/// apart: two passes (mean, then squared deviations), so that a large offset does not cancel
/// the variance away, each accumulated in Double over four independent sums (plain scalars
/// rather than SIMD types, which debug builds run slowly).
private func moments(_ values: UnsafeBufferPointer<Float>, blockSize: Int, stride: Int, blocks: Int)
  -> (Float, Float)
{
  let total = blockSize * blocks
  guard total > 0, let base = values.baseAddress else { return (0, 1) }
  let vectorEnd = blockSize & ~3
  var s0 = 0.0
  var s1 = 0.0
  var s2 = 0.0
  var s3 = 0.0
  for block in 0..<blocks {
    let start = base + block * stride
    var i = 0
    while i < vectorEnd {
      s0 += Double(start[i])
      s1 += Double(start[i + 1])
      s2 += Double(start[i + 2])
      s3 += Double(start[i + 3])
      i += 4
    }
    while i < blockSize {
      s0 += Double(start[i])
      i += 1
    }
  }
  let mean = (s0 + s1 + s2 + s3) / Double(total)
  var q0 = 0.0
  var q1 = 0.0
  var q2 = 0.0
  var q3 = 0.0
  for block in 0..<blocks {
    let start = base + block * stride
    var i = 0
    while i < vectorEnd {
      let d0 = Double(start[i]) - mean
      let d1 = Double(start[i + 1]) - mean
      let d2 = Double(start[i + 2]) - mean
      let d3 = Double(start[i + 3]) - mean
      q0 += d0 * d0
      q1 += d1 * d1
      q2 += d2 * d2
      q3 += d3 * d3
      i += 4
    }
    while i < blockSize {
      let d = Double(start[i]) - mean
      q0 += d * d
      i += 1
    }
  }
  let variance = (q0 + q1 + q2 + q3) / Double(total)
  return (Float(mean), Float(variance.squareRoot()))
}

private func moments(_ values: [Float], blockSize: Int, stride: Int, blocks: Int) -> (Float, Float)
{
  values.withUnsafeBufferPointer {
    moments($0, blockSize: blockSize, stride: stride, blocks: blocks)
  }
}
