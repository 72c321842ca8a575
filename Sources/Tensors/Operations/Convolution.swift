import CNative

/// 2-D convolution through oneDNN, with primitives created once per shape.
///
/// The source and destination use the layouts oneDNN prefers for the shape (blocked, such as
/// nChw8c, when that is faster), so consecutive convolution, batch-norm, ReLU and pooling
/// operations pass activations along without reordering. Weights stay in PyTorch's
/// [out, in, kh, kw] row-major order for the optimizer and checkpoints, and are reordered
/// (a small copy) on each use.
final class ConvolutionKernel {
  let source: MemoryDescriptor
  let weights: MemoryDescriptor
  let destination: MemoryDescriptor
  let plainWeights: MemoryDescriptor
  let hasBias: Bool
  let forward: Primitive
  let outputShape: [Int]
  let strides: [Int64], padding: [Int64]
  private var backwardDataPrimitive: Primitive?
  private var backwardWeightsPrimitive: Primitive?

  init(
    input: [Int], weight: [Int], hasBias: Bool, stride: Int, padding: Int,
    inputLayout: MemoryDescriptor?
  ) {
    let (n, h, w) = (input[0], input[2], input[3])
    let (o, kh, kw) = (weight[0], weight[2], weight[3])
    let oh = (h + 2 * padding - kh) / stride + 1
    let ow = (w + 2 * padding - kw) / stride + 1
    outputShape = [n, o, oh, ow]
    strides = [Int64(stride), Int64(stride)]
    self.padding = [Int64(padding), Int64(padding)]
    self.hasBias = hasBias
    plainWeights = MemoryDescriptor.plain(weight)
    // A source already in a blocked layout keeps it; a plain source lets oneDNN choose.
    var src = inputLayout?.raw ?? MemoryDescriptor.any(input).raw
    var wei = MemoryDescriptor.any(weight).raw
    var bias = MemoryDescriptor.plain([o]).raw
    var dst = MemoryDescriptor.any(outputShape).raw
    var desc = dnnl_convolution_desc_t()
    let (st, pad) = (strides, self.padding)
    let status = withUnsafePointer(to: &bias) { b in
      dnnl_convolution_forward_desc_init(
        &desc, dnnl_forward_training, dnnl_convolution_direct, &src, &wei,
        hasBias ? b : nil, &dst, st, pad, pad)
    }
    DNNL.check(status, "describing a convolution \(input) * \(weight)")
    forward = Primitive(&desc, what: "a convolution \(input) * \(weight)")
    source = forward.memoryDescriptor(dnnl_query_src_md)
    weights = forward.memoryDescriptor(dnnl_query_weights_md)
    destination = forward.memoryDescriptor(dnnl_query_dst_md)
  }

  var backwardData: Primitive {
    DNNL.lock.lock()
    defer { DNNL.lock.unlock() }
    if let p = backwardDataPrimitive { return p }
    var diffSrc = source.raw
    var wei = MemoryDescriptor.any(plainWeights.dims).raw
    var diffDst = destination.raw
    var desc = dnnl_convolution_desc_t()
    DNNL.check(
      dnnl_convolution_backward_data_desc_init(
        &desc, dnnl_convolution_direct, &diffSrc, &wei, &diffDst, strides, padding, padding),
      "describing a convolution's backward-data pass")
    let p = Primitive(&desc, hint: forward, what: "a convolution's backward-data pass")
    backwardDataPrimitive = p
    return p
  }

  /// The backward-weights primitive, with every layout left to oneDNN: for some shapes (one
  /// input channel) no fast kernel accepts the forward pass's layouts, and a reorder of the
  /// inputs costs far less than the reference kernel it avoids.
  var backwardWeights: Primitive {
    DNNL.lock.lock()
    defer { DNNL.lock.unlock() }
    if let p = backwardWeightsPrimitive { return p }
    var src = MemoryDescriptor.any(source.dims).raw
    var diffWei = MemoryDescriptor.any(plainWeights.dims).raw
    var diffDst = MemoryDescriptor.any(destination.dims).raw
    var diffBias = MemoryDescriptor.plain([plainWeights.dims[0]]).raw
    var desc = dnnl_convolution_desc_t()
    let status = withUnsafePointer(to: &diffBias) { b in
      dnnl_convolution_backward_weights_desc_init(
        &desc, dnnl_convolution_direct, &src, &diffWei, hasBias ? b : nil, &diffDst,
        strides, padding, padding)
    }
    DNNL.check(status, "describing a convolution's backward-weights pass")
    let p = Primitive(&desc, hint: forward, what: "a convolution's backward-weights pass")
    backwardWeightsPrimitive = p
    return p
  }
}

extension Tensor {
  /// 2-D convolution of an NCHW input with [out, in, kh, kw] weights and an optional [out]
  /// bias, as PyTorch's `conv2d` (cross-correlation, zero padding on both sides).
  public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0)
    -> Tensor
  {
    precondition(
      shape.count == 4 && weight.shape.count == 4 && weight.shape[1] == shape[1],
      "conv2d input \(shape) does not fit weights \(weight.shape)")
    let key =
      "conv:\(shape):\(weight.shape):\(bias != nil):\(stride):\(padding):\(layout.map(Reorder.bytesKey) ?? "plain")"
    let kernel = DNNL.cached(key) {
      ConvolutionKernel(
        input: shape, weight: weight.shape, hasBias: bias != nil, stride: stride,
        padding: padding, inputLayout: layout)
    }
    let x = reordered(to: kernel.source)
    let w = weight.reordered(to: kernel.weights)
    let out = Tensor(
      shape: kernel.outputShape, storage: Storage(count: kernel.destination.floatCount),
      layout: kernel.destination)
    var args: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [
      (DNNL_ARG_SRC, kernel.source, x.storage.raw),
      (DNNL_ARG_WEIGHTS, kernel.weights, w.storage.raw),
      (DNNL_ARG_DST, kernel.destination, out.storage.raw),
    ]
    if let bias {
      args.append((DNNL_ARG_BIAS, MemoryDescriptor.plain(bias.shape), bias.plain().storage.raw))
    }
    kernel.forward.execute(args)
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    if needsGradient(x, weight) || (bias.map { needsGradient($0) } ?? false) {
      let wantsInput = x.requiresGrad
      out.record(inputs) { g in
        let gy = g.reordered(to: kernel.destination)
        var gx: Tensor?
        if wantsInput {
          let bd = kernel.backwardData
          let wmd = bd.memoryDescriptor(dnnl_query_weights_md)
          let wb = w.reordered(to: wmd)
          let dx = Tensor(
            shape: x.shape, storage: Storage(count: kernel.source.floatCount), layout: kernel.source
          )
          bd.execute([
            (DNNL_ARG_DIFF_DST, kernel.destination, gy.storage.raw),
            (DNNL_ARG_WEIGHTS, wmd, wb.storage.raw),
            (DNNL_ARG_DIFF_SRC, kernel.source, dx.storage.raw),
          ])
          gx = dx
        }
        let bw = kernel.backwardWeights
        let dwmd = bw.memoryDescriptor(dnnl_query_diff_weights_md)
        let srcmd = bw.memoryDescriptor(dnnl_query_src_md)
        let dymd = bw.memoryDescriptor(dnnl_query_diff_dst_md)
        let xs = x.reordered(to: srcmd)
        let gys = gy.reordered(to: dymd)
        let dw = Tensor(shape: weight.shape, storage: Storage(count: dwmd.floatCount), layout: dwmd)
        var bargs: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [
          (DNNL_ARG_SRC, srcmd, xs.storage.raw), (DNNL_ARG_DIFF_DST, dymd, gys.storage.raw),
          (DNNL_ARG_DIFF_WEIGHTS, dwmd, dw.storage.raw),
        ]
        var db: Tensor?
        if let bias {
          let d = Tensor(zeros: bias.shape)
          bargs.append((DNNL_ARG_DIFF_BIAS, MemoryDescriptor.plain(bias.shape), d.storage.raw))
          db = d
        }
        bw.execute(bargs)
        return [gx, dw.plain()] + (bias != nil ? [db] : [])
      }
    }
    return out
  }
}
