import CNative
import Foundation
import Randomness

/// A float32 tensor with logical shape NCHW (or NC, or any rank), contiguous storage and
/// reverse-mode automatic differentiation.
///
/// Activations flowing between convolution, batch normalization, ReLU and pooling may be held
/// in a blocked layout that oneDNN chose (`layout` non-nil, e.g. nChw8c): the logical shape
/// stays NCHW, and `plain()` reorders to row-major where an operation needs it. Gradients
/// always have the layout of the tensor they belong to.
///
/// ```swift
/// let x = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6], requiresGrad: true)
/// let loss = (x * x).sum()
/// loss.backward()
/// x.grad!.values  // [2, 4, 6, 8, 10, 12]
/// ```
public final class Tensor {
  /// The logical shape, outermost first.
  public let shape: [Int]
  /// The elements, in `layout` (row-major when `layout` is nil).
  public let storage: Storage
  /// A oneDNN layout when the storage is not row-major.
  public internal(set) var layout: MemoryDescriptor?
  /// Whether gradients flow to this tensor (set on parameters).
  public var requiresGrad: Bool
  /// The accumulated gradient, after `backward()`.
  public var grad: Tensor?
  /// How to send this tensor's gradient to its inputs; nil for leaves.
  var gradientFunction: GradientFunction?

  /// The number of logical elements.
  public var count: Int { shape.reduce(1, *) }

  /// A tensor over existing storage.
  public init(
    shape: [Int], storage: Storage, layout: MemoryDescriptor? = nil, requiresGrad: Bool = false
  ) {
    precondition(
      layout != nil || storage.count >= shape.reduce(1, *),
      "storage of \(storage.count) floats is too small for shape \(shape)")
    self.shape = shape
    self.storage = storage
    self.layout = layout.flatMap { $0.isPlain ? nil : $0 }
    self.requiresGrad = requiresGrad
  }

  /// A row-major tensor holding `values`.
  public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
    precondition(
      values.count == shape.reduce(1, *),
      "\(values.count) values do not fill shape \(shape)")
    let s = Storage(count: values.count)
    values.withUnsafeBufferPointer { s.pointer.update(from: $0.baseAddress!, count: values.count) }
    self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
  }

  /// A row-major tensor of zeros.
  public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
    self.init(shape: shape, storage: Storage(zeros: shape.reduce(1, *)), requiresGrad: requiresGrad)
  }

  /// A row-major tensor with every element `value`.
  public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
    let s = Storage(count: shape.reduce(1, *))
    s.pointer.initialize(repeating: value, count: s.count)
    self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
  }

  /// Uniform values in [low, high).
  public static func uniform(
    _ shape: [Int], low: Float, high: Float, using generator: inout SeededGenerator
  ) -> Tensor {
    let n = shape.reduce(1, *)
    let storage = Storage(count: n)
    let p = storage.pointer
    var i = 0
    while i < n {
      p[i] = low + (high - low) * generator.nextUnitFloat()
      i += 1
    }
    return Tensor(shape: shape, storage: storage)
  }

  /// Standard normal values.
  public static func normal(_ shape: [Int], using generator: inout SeededGenerator) -> Tensor {
    let n = shape.reduce(1, *)
    let storage = Storage(count: n)
    for i in 0..<n { storage.pointer[i] = generator.nextNormal() }
    return Tensor(shape: shape, storage: storage)
  }

  /// The elements in row-major order.
  public var values: [Float] {
    let p = plain()
    return Array(UnsafeBufferPointer(start: p.storage.pointer, count: count))
  }

  /// The single value of a one-element tensor.
  public var scalar: Float {
    precondition(count == 1, "scalar of a tensor with shape \(shape)")
    return storage.pointer[0]
  }

  /// Number of floats the storage holds in its layout (padding included).
  var storageCount: Int { layout?.floatCount ?? count }

  /// The layout as a oneDNN descriptor (plain when `layout` is nil).
  var descriptor: MemoryDescriptor { layout ?? MemoryDescriptor.plain(shape) }

  /// A row-major tensor with the same values; `self` when already row-major. Differentiable.
  public func plain() -> Tensor { reordered(to: MemoryDescriptor.plain(shape)) }

  /// The same values in oneDNN's channel-blocked layout nChw8c (`block` 8) or nChw16c (16),
  /// the layouts convolutions pick on AVX2 and AVX-512 CPUs. Differentiable.
  ///
  /// Operations take whichever layout they are given, so this lets a program (a test) run
  /// both blockings on any x86 CPU, not only the one its own vector width selects.
  /// - Precondition: a 4-dimensional tensor, `block` 8 or 16.
  public func channelBlocked(by block: Int) -> Tensor {
    precondition(shape.count == 4, "channelBlocked needs an NCHW tensor, got shape \(shape)")
    precondition(block == 8 || block == 16, "channelBlocked: block must be 8 or 16, got \(block)")
    return reordered(to: MemoryDescriptor(shape, block == 8 ? dnnl_nChw8c : dnnl_nChw16c))
  }

  /// The same values in another layout (a cached oneDNN reorder); `self` if equal.
  func reordered(to target: MemoryDescriptor) -> Tensor {
    let source = descriptor
    if source == target { return self }
    let out = Tensor(shape: shape, storage: Storage(count: target.floatCount), layout: target)
    Reorder.run(from: source, storage, to: target, out.storage)
    if needsGradient(self) {
      out.record([self]) { [shape] g in
        let back = g.reordered(to: source)
        return [Tensor(shape: shape, storage: back.storage, layout: source)]
      }
    }
    return out
  }

  /// A new leaf tensor with a copy of the values, detached from the graph.
  public func detached() -> Tensor {
    Tensor(shape: shape, storage: storage.copy(), layout: layout)
  }

  /// Overwrites this tensor's values with `other`'s (same shape; layout converted).
  public func assign(_ other: Tensor) {
    precondition(other.shape == shape, "assigning shape \(other.shape) to \(shape)")
    let src = other.reordered(to: descriptor)
    storage.pointer.update(from: src.storage.pointer, count: storageCount)
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let v = values
    let shown = v.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
    return "Tensor(\(shape): [\(shown)\(v.count > 8 ? ", …" : "")])"
  }
}

enum Reorder {
  final class Cached {
    let primitive: Primitive
    init(_ p: Primitive) { primitive = p }
  }

  static func run(
    from source: MemoryDescriptor, _ s: Storage, to target: MemoryDescriptor, _ d: Storage
  ) {
    let key = "reorder:\(bytesKey(source)):\(bytesKey(target))"
    let p = DNNL.cached(key) { Cached(Primitive(reorderFrom: source, to: target)) }.primitive
    p.execute([(DNNL_ARG_SRC, source, s.raw), (DNNL_ARG_DST, target, d.raw)])
  }

  /// A string that identifies a descriptor exactly (its bytes).
  static func bytesKey(_ md: MemoryDescriptor) -> String {
    withUnsafeBytes(of: md.raw) { bytes in
      var h: UInt64 = 1_469_598_103_934_665_603
      for b in bytes { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
      return String(h, radix: 36)
    }
  }
}
