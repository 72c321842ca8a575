import CNative
import Randomness

/// How the right operand of a binary operation lines up with the left one.
enum Broadcast: Equatable {
  /// Same shape and layout: element by element.
  case same
  /// A [C] vector against axis 1 of [N, C, ...]: `inner` elements per channel.
  case channel(channels: Int, inner: Int)
  /// A single value.
  case scalar

  init(_ a: Tensor, _ b: Tensor) {
    if a.shape == b.shape {
      self = .same
    } else if b.count == 1 {
      self = .scalar
    } else if b.shape.count == 1, a.shape.count >= 2, a.shape[1] == b.shape[0] {
      self = .channel(channels: b.shape[0], inner: a.shape.dropFirst(2).reduce(1, *))
    } else {
      preconditionFailure("cannot broadcast \(b.shape) against \(a.shape)")
    }
  }
}

extension Tensor {
  /// Element-wise sum; `rhs` may be the same shape, a per-channel [C] vector (a bias), or a
  /// single value.
  public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { binary(lhs, rhs, .add) }
  /// Element-wise difference, broadcasting as `+`.
  public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { binary(lhs, rhs, .subtract) }
  /// Element-wise product, broadcasting as `+`.
  public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { binary(lhs, rhs, .multiply) }

  /// Multiplies every element by a constant.
  public static func * (lhs: Tensor, rhs: Float) -> Tensor {
    let out = Tensor(
      shape: lhs.shape, storage: Storage(count: lhs.storageCount), layout: lhs.layout)
    Vector.scale(lhs.storage.pointer, by: rhs, into: out.storage.pointer, count: lhs.storageCount)
    if needsGradient(lhs) { out.record([lhs]) { g in [g * rhs] } }
    return out
  }

  enum BinaryOperation { case add, subtract, multiply }

  static func binary(_ a: Tensor, _ b: Tensor, _ op: BinaryOperation) -> Tensor {
    let kind = Broadcast(a, b)
    // Same-shape operands may stay in a blocked layout if both share it.
    let (x, y): (Tensor, Tensor)
    if kind == .same {
      x = a
      y = b.reordered(to: a.descriptor)
    } else {
      x = a.plain()
      y = b.plain()
    }
    let n = x.storageCount
    let out = Tensor(shape: x.shape, storage: Storage(count: n), layout: x.layout)
    let (p, q, r) = (x.storage.pointer, y.storage.pointer, out.storage.pointer)
    switch (kind, op) {
    case (.same, .add): Vector.add(p, q, into: r, count: n)
    case (.same, .subtract): Vector.subtract(p, q, into: r, count: n)
    case (.same, .multiply): Vector.multiply(p, q, into: r, count: n)
    case (.scalar, _):
      let s = q[0]
      switch op {
      case .add: for i in 0..<n { r[i] = p[i] + s }
      case .subtract: for i in 0..<n { r[i] = p[i] - s }
      case .multiply: for i in 0..<n { r[i] = p[i] * s }
      }
    case (.channel(let c, let inner), _):
      let outer = n / (c * inner)
      for o in 0..<outer {
        for ch in 0..<c {
          let base = (o * c + ch) * inner
          let s = q[ch]
          switch op {
          case .add: for i in base..<base + inner { r[i] = p[i] + s }
          case .subtract: for i in base..<base + inner { r[i] = p[i] - s }
          case .multiply: for i in base..<base + inner { r[i] = p[i] * s }
          }
        }
      }
    }
    if needsGradient(x, y) {
      let bShape = y.shape
      out.record([x, y]) { g in
        let g = g.reordered(to: x.descriptor)
        switch op {
        case .add: return [g, x.requiresGrad || y.requiresGrad ? reduce(g, to: bShape, kind) : nil]
        case .subtract: return [g, reduce(g * Float(-1), to: bShape, kind)]
        case .multiply:
          let gx = y.requiresGrad || x.requiresGrad ? binary(g, y, .multiply) : nil
          return [gx, reduce(binary(g, x, .multiply), to: bShape, kind)]
        }
      }
    }
    return out
  }

  /// Sums a gradient over the broadcast axes back to the right operand's shape.
  static func reduce(_ g: Tensor, to shape: [Int], _ kind: Broadcast) -> Tensor {
    switch kind {
    case .same: return g
    case .scalar:
      return Tensor(
        shape: shape, values: [Float(Vector.sum(g.storage.pointer, count: g.storageCount))])
    case .channel(let c, let inner):
      let gp = g.plain().storage.pointer
      let out = Tensor(zeros: shape)
      let r = out.storage.pointer
      for o in 0..<(g.count / (c * inner)) {
        for ch in 0..<c { r[ch] += Float(Vector.sum(gp + (o * c + ch) * inner, count: inner)) }
      }
      return out
    }
  }

  /// max(x, 0) element-wise, in any layout (oneDNN's eltwise primitive: JIT-compiled and
  /// spread over the cores; the backward pass reads the output, not the input).
  public func relu() -> Tensor {
    let md = descriptor
    let kernel = DNNL.cached("relu:\(Reorder.bytesKey(md))") { ReLUKernel(md) }
    let out = Tensor(shape: shape, storage: Storage(count: storageCount), layout: layout)
    kernel.forward.execute([(DNNL_ARG_SRC, md, storage.raw), (DNNL_ARG_DST, md, out.storage.raw)])
    if needsGradient(self) {
      let y = out.storage
      out.record([self]) { [shape, layout] g in
        let g = g.reordered(to: md)
        let dx = Tensor(shape: shape, storage: Storage(count: md.floatCount), layout: layout)
        kernel.backward.execute([
          (DNNL_ARG_DST, md, y.raw), (DNNL_ARG_DIFF_DST, md, g.storage.raw),
          (DNNL_ARG_DIFF_SRC, md, dx.storage.raw),
        ])
        return [dx]
      }
    }
    return out
  }

  /// Inverted dropout: zeroes each element with probability `probability` and scales the rest
  /// by 1/(1 − p), with the mask drawn from `generator`.
  public func dropout(probability p: Float, using generator: inout SeededGenerator) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability \(p) is outside [0, 1)")
    if p == 0 { return self }
    let n = storageCount
    let keep = 1 / (1 - p)
    // One draw per element in row-major order, then the mask is put in this tensor's layout:
    // a seed gives the same mask whichever (blocked, padded) layout oneDNN chose here.
    let rowMajor = Storage(count: count)
    for i in 0..<count { rowMajor.pointer[i] = generator.nextUnitFloat() >= p ? keep : 0 }
    let mask: Storage
    if let layout {
      mask = Storage(count: n)
      Reorder.run(from: MemoryDescriptor.plain(shape), rowMajor, to: layout, mask)
    } else {
      mask = rowMajor
    }
    let out = Tensor(shape: shape, storage: Storage(count: n), layout: layout)
    Vector.multiply(storage.pointer, mask.pointer, into: out.storage.pointer, count: n)
    if needsGradient(self) {
      let layout = self.layout
      out.record([self]) { [shape] g in
        let g = g.reordered(to: layout ?? MemoryDescriptor.plain(shape))
        let dx = Tensor(shape: shape, storage: Storage(count: n), layout: layout)
        Vector.multiply(g.storage.pointer, mask.pointer, into: dx.storage.pointer, count: n)
        return [dx]
      }
    }
    return out
  }
}

/// oneDNN's ReLU for one layout, forward and backward (from the output).
final class ReLUKernel {
  let forward: Primitive
  let backward: Primitive

  init(_ md: MemoryDescriptor) {
    var data = md.raw
    var diff = md.raw
    var f = dnnl_eltwise_desc_t()
    DNNL.check(
      dnnl_eltwise_forward_desc_init(
        &f, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &data, 0, 0),
      "describing ReLU")
    forward = Primitive(&f, what: "ReLU")
    var b = dnnl_eltwise_desc_t()
    DNNL.check(
      dnnl_eltwise_backward_desc_init(&b, dnnl_eltwise_relu_use_dst_for_bwd, &diff, &data, 0, 0),
      "describing ReLU's backward pass")
    backward = Primitive(&b, hint: forward, what: "ReLU's backward pass")
  }
}
