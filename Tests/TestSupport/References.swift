import Foundation

/// Direct, loop-by-loop reference implementations in double precision, written from the
/// definitions PyTorch documents (`torch.nn.functional`), to test the engine against.
/// Arrays are row-major; shapes are passed alongside.
public enum Reference {
  /// `conv2d`: out[n,o,y,x] = b[o] + Σ_{c,i,j} w[o,c,i,j]·in[n,c,y·s+i−p, x·s+j−p], zero padding.
  public static func conv2d(
    input: [Float], _ inputShape: [Int], weight: [Float], _ weightShape: [Int], bias: [Float]?,
    stride: Int, padding: Int
  ) -> (values: [Double], shape: [Int]) {
    let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let (o, kh, kw) = (weightShape[0], weightShape[2], weightShape[3])
    precondition(weightShape[1] == c)
    let oh = (h + 2 * padding - kh) / stride + 1
    let ow = (w + 2 * padding - kw) / stride + 1
    var out = [Double](repeating: 0, count: n * o * oh * ow)
    for b in 0..<n {
      for f in 0..<o {
        for y in 0..<oh {
          for x in 0..<ow {
            var s = bias.map { Double($0[f]) } ?? 0
            for ch in 0..<c {
              for i in 0..<kh {
                let iy = y * stride + i - padding
                guard iy >= 0 && iy < h else { continue }
                for j in 0..<kw {
                  let ix = x * stride + j - padding
                  guard ix >= 0 && ix < w else { continue }
                  s +=
                    Double(weight[((f * c + ch) * kh + i) * kw + j])
                    * Double(input[((b * c + ch) * h + iy) * w + ix])
                }
              }
            }
            out[((b * o + f) * oh + y) * ow + x] = s
          }
        }
      }
    }
    return (out, [n, o, oh, ow])
  }

  public enum Pooling: String, Sendable, CustomStringConvertible {
    case max, average
    public var description: String { rawValue }
  }

  /// `max_pool2d` (padding never wins) or `avg_pool2d` with `count_include_pad=True` (the
  /// divisor is always k², padding counting as zeros).
  public static func pool2d(
    _ kind: Pooling, input: [Float], _ shape: [Int], kernel k: Int, stride: Int, padding: Int
  ) -> (values: [Double], shape: [Int]) {
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
    let oh = (h + 2 * padding - k) / stride + 1
    let ow = (w + 2 * padding - k) / stride + 1
    var out = [Double](repeating: 0, count: n * c * oh * ow)
    for plane in 0..<(n * c) {
      for y in 0..<oh {
        for x in 0..<ow {
          var best = -Double.infinity
          var total = 0.0
          for i in 0..<k {
            for j in 0..<k {
              let iy = y * stride + i - padding
              let ix = x * stride + j - padding
              guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
              let v = Double(input[(plane * h + iy) * w + ix])
              best = max(best, v)
              total += v
            }
          }
          out[(plane * oh + y) * ow + x] = kind == .max ? best : total / Double(k * k)
        }
      }
    }
    return (out, [n, c, oh, ow])
  }

  /// Per-channel mean and biased variance over every axis but 1 of an [N, C, ...] array.
  public static func channelStatistics(_ x: [Float], _ shape: [Int]) -> (
    mean: [Double], variance: [Double]
  ) {
    let c = shape[1]
    let inner = shape.dropFirst(2).reduce(1, *)
    let n = shape[0]
    var mean = [Double](repeating: 0, count: c)
    var variance = mean
    for ch in 0..<c {
      var values: [Double] = []
      for b in 0..<n {
        for i in 0..<inner { values.append(Double(x[(b * c + ch) * inner + i])) }
      }
      let m = values.reduce(0, +) / Double(values.count)
      mean[ch] = m
      variance[ch] = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)
    }
    return (mean, variance)
  }

  /// `batch_norm`: γ·(x − mean)/√(variance + ε) + β per channel, with the given statistics.
  public static func batchNorm(
    _ x: [Float], _ shape: [Int], mean: [Double], variance: [Double], weight: [Float],
    bias: [Float], epsilon: Double
  ) -> [Double] {
    let c = shape[1]
    let inner = shape.dropFirst(2).reduce(1, *)
    return x.indices.map { i in
      let ch = (i / inner) % c
      return Double(weight[ch]) * (Double(x[i]) - mean[ch]) / (variance[ch] + epsilon).squareRoot()
        + Double(bias[ch])
    }
  }

  /// [M, K]·[K, N].
  public static func matmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Double] {
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var s = 0.0
        for l in 0..<k { s += Double(a[i * k + l]) * Double(b[l * n + j]) }
        out[i * n + j] = s
      }
    }
    return out
  }

  /// `linear`: x·Wᵀ + b for x [N, in], W [out, in].
  public static func linear(
    _ x: [Float], weight: [Float], bias: [Float]?, batch: Int, inputs: Int, outputs: Int
  ) -> [Double] {
    var out = [Double](repeating: 0, count: batch * outputs)
    for r in 0..<batch {
      for o in 0..<outputs {
        var s = bias.map { Double($0[o]) } ?? 0
        for i in 0..<inputs { s += Double(x[r * inputs + i]) * Double(weight[o * inputs + i]) }
        out[r * outputs + o] = s
      }
    }
    return out
  }

  /// `cross_entropy` (mean reduction): mean over rows of logsumexp(row) − row[label], with the
  /// log-sum-exp taken around the row maximum.
  public static func crossEntropy(_ logits: [Float], rows: Int, classes: Int, labels: [Int32])
    -> Double
  {
    var total = 0.0
    for r in 0..<rows {
      let row = (0..<classes).map { Double(logits[r * classes + $0]) }
      let m = row.max()!
      let lse = m + log(row.map { exp($0 - m) }.reduce(0, +))
      total += lse - row[Int(labels[r])]
    }
    return total / Double(rows)
  }

  /// The gradient of mean cross-entropy: (softmax − one-hot) / rows.
  public static func crossEntropyGradient(
    _ logits: [Float], rows: Int, classes: Int, labels: [Int32]
  ) -> [Double] {
    var out: [Double] = []
    for r in 0..<rows {
      let row = (0..<classes).map { Double(logits[r * classes + $0]) }
      let m = row.max()!
      let e = row.map { exp($0 - m) }
      let s = e.reduce(0, +)
      for j in 0..<classes {
        out.append((e[j] / s - (j == Int(labels[r]) ? 1 : 0)) / Double(rows))
      }
    }
    return out
  }
}
