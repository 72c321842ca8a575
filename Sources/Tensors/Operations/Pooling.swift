import CNative

/// Max and average pooling through oneDNN, in whatever layout the input has.
final class PoolingKernel {
  let source: MemoryDescriptor
  let destination: MemoryDescriptor
  let workspace: MemoryDescriptor?
  let forward: Primitive
  let outputShape: [Int]
  let algorithm: dnnl_alg_kind_t
  let strides: [Int64], kernel: [Int64], padding: [Int64]
  private var backwardPrimitive: Primitive?

  init(
    input: [Int], layout: MemoryDescriptor, algorithm: dnnl_alg_kind_t, kernel k: Int, stride: Int,
    padding: Int
  ) {
    let oh = (input[2] + 2 * padding - k) / stride + 1
    let ow = (input[3] + 2 * padding - k) / stride + 1
    outputShape = [input[0], input[1], oh, ow]
    strides = [Int64(stride), Int64(stride)]
    kernel = [Int64(k), Int64(k)]
    self.padding = [Int64(padding), Int64(padding)]
    self.algorithm = algorithm
    source = layout
    var src = layout.raw
    var dst = MemoryDescriptor.any(outputShape).raw
    var desc = dnnl_pooling_desc_t()
    DNNL.check(
      dnnl_pooling_forward_desc_init(
        &desc, dnnl_forward_training, algorithm, &src, &dst, strides,
        kernel, self.padding, self.padding), "describing pooling of \(input)")
    forward = Primitive(&desc, what: "pooling of \(input)")
    destination = forward.memoryDescriptor(dnnl_query_dst_md)
    let ws = forward.memoryDescriptor(dnnl_query_workspace_md)
    workspace = ws.byteCount > 0 ? ws : nil
  }

  var backward: Primitive {
    DNNL.lock.lock()
    defer { DNNL.lock.unlock() }
    if let p = backwardPrimitive { return p }
    var diffSrc = source.raw
    var diffDst = destination.raw
    var desc = dnnl_pooling_desc_t()
    DNNL.check(
      dnnl_pooling_backward_desc_init(
        &desc, algorithm, &diffSrc, &diffDst, strides, kernel, padding, padding),
      "describing pooling's backward pass")
    let p = Primitive(&desc, hint: forward, what: "pooling's backward pass")
    backwardPrimitive = p
    return p
  }
}

extension Tensor {
  /// Max pooling over `kernelSize`×`kernelSize` windows (PyTorch's `max_pool2d`; stride
  /// defaults to the kernel size).
  public func maxPool2d(kernelSize: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
    pool(dnnl_pooling_max, kernelSize, stride ?? kernelSize, padding)
  }

  /// Average pooling, padding counted in the divisor (PyTorch's `avg_pool2d` default).
  public func avgPool2d(kernelSize: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
    pool(dnnl_pooling_avg_include_padding, kernelSize, stride ?? kernelSize, padding)
  }

  /// Global average pooling: [N, C, H, W] → [N, C].
  public func globalAvgPool() -> Tensor {
    precondition(
      shape.count == 4 && shape[2] == shape[3], "globalAvgPool needs square NCHW, got \(shape)")
    return pool(dnnl_pooling_avg_include_padding, shape[2], shape[2], 0).reshaped([
      shape[0], shape[1],
    ])
  }

  func pool(_ algorithm: dnnl_alg_kind_t, _ k: Int, _ stride: Int, _ padding: Int) -> Tensor {
    precondition(shape.count == 4, "pooling needs NCHW input, got \(shape)")
    let md = descriptor
    let key =
      "pool:\(algorithm.rawValue):\(shape):\(k):\(stride):\(padding):\(Reorder.bytesKey(md))"
    let kernel = DNNL.cached(key) {
      PoolingKernel(
        input: shape, layout: md, algorithm: algorithm, kernel: k, stride: stride, padding: padding)
    }
    let out = Tensor(
      shape: kernel.outputShape, storage: Storage(count: kernel.destination.floatCount),
      layout: kernel.destination)
    var args: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [
      (DNNL_ARG_SRC, md, storage.raw), (DNNL_ARG_DST, kernel.destination, out.storage.raw),
    ]
    var workspace: Storage?
    if let ws = kernel.workspace {
      let s = Storage(count: (ws.byteCount + 3) / 4)
      args.append((DNNL_ARG_WORKSPACE, ws, s.raw))
      workspace = s
    }
    kernel.forward.execute(args)
    if needsGradient(self) {
      let inputShape = shape
      out.record([self]) { g in
        let gy = g.reordered(to: kernel.destination)
        let dx = Tensor(
          shape: inputShape, storage: Storage(count: kernel.source.floatCount),
          layout: kernel.source)
        var bargs: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [
          (DNNL_ARG_DIFF_DST, kernel.destination, gy.storage.raw),
          (DNNL_ARG_DIFF_SRC, kernel.source, dx.storage.raw),
        ]
        if let ws = kernel.workspace, let workspace {
          bargs.append((DNNL_ARG_WORKSPACE, ws, workspace.raw))
        }
        kernel.backward.execute(bargs)
        return [dx]
      }
    }
    return out
  }
}
