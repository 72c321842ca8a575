import CNative

/// Batch normalization through oneDNN, in whatever layout the input has, optionally with the
/// ReLU that follows it fused in (one pass over the activations instead of two, forward and
/// backward).
final class BatchNormKernel {
  let data: MemoryDescriptor
  let channels: Int
  let training: Primitive
  let inference: Primitive
  let epsilon: Float
  let flags: UInt32
  /// The mask of positive outputs that a fused ReLU's backward pass reads.
  let workspace: MemoryDescriptor?
  private var backwardPrimitive: Primitive?

  init(layout: MemoryDescriptor, channels: Int, epsilon: Float, fusedReLU: Bool) {
    data = layout
    self.channels = channels
    self.epsilon = epsilon
    flags =
      dnnl_use_scale.rawValue | dnnl_use_shift.rawValue
      | (fusedReLU ? dnnl_fuse_norm_relu.rawValue : 0)
    var md = layout.raw
    var desc = dnnl_batch_normalization_desc_t()
    DNNL.check(
      dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &md, epsilon, flags),
      "describing batch normalization")
    training = Primitive(&desc, what: "batch normalization (training)")
    let ws = training.memoryDescriptor(dnnl_query_workspace_md)
    workspace = ws.byteCount > 0 ? ws : nil
    var inf = dnnl_batch_normalization_desc_t()
    DNNL.check(
      dnnl_batch_normalization_forward_desc_init(
        &inf, dnnl_forward_inference, &md, epsilon, flags | dnnl_use_global_stats.rawValue),
      "describing batch normalization (inference)")
    inference = Primitive(&inf, what: "batch normalization (inference)")
  }

  var backward: Primitive {
    DNNL.lock.lock()
    defer { DNNL.lock.unlock() }
    if let p = backwardPrimitive { return p }
    var md = data.raw
    var diff = data.raw
    var desc = dnnl_batch_normalization_desc_t()
    DNNL.check(
      dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &diff, &md, epsilon, flags),
      "describing batch normalization's backward pass")
    let p = Primitive(&desc, hint: training, what: "batch normalization's backward pass")
    backwardPrimitive = p
    return p
  }
}

extension Tensor {
  /// Batch normalization over the channel axis of an NCHW (or NC) tensor, as PyTorch's
  /// `batch_norm`: in training, normalize with the batch's mean and biased variance and update
  /// the running statistics in place with `momentum`, using the unbiased variance
  /// (`running = (1 − momentum)·running + momentum·batch`); in inference, use the running
  /// statistics. With `fusedReLU` the result is `relu(batch_norm(x))`, computed in one pass.
  public func batchNorm(
    weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor,
    training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5, fusedReLU: Bool = false
  ) -> Tensor {
    precondition(
      shape.count >= 2 && weight.count == shape[1] && bias.count == shape[1],
      "batchNorm input \(shape) does not fit \(weight.count) channels")
    let channels = shape[1]
    let x = shape.count == 2 ? reshaped([shape[0], shape[1], 1, 1]) : self
    let md = x.descriptor
    let kernel = DNNL.cached("bn:\(Reorder.bytesKey(md)):\(epsilon):\(fusedReLU)") {
      BatchNormKernel(layout: md, channels: channels, epsilon: epsilon, fusedReLU: fusedReLU)
    }
    let vector = MemoryDescriptor.plain([channels])
    let gamma = weight.plain()
    let beta = bias.plain()
    let out = Tensor(shape: x.shape, storage: Storage(count: md.floatCount), layout: md)
    if !training {
      kernel.inference.execute([
        (DNNL_ARG_SRC, md, x.storage.raw), (DNNL_ARG_DST, md, out.storage.raw),
        (DNNL_ARG_MEAN, vector, runningMean.storage.raw),
        (DNNL_ARG_VARIANCE, vector, runningVariance.storage.raw),
        (DNNL_ARG_SCALE, vector, gamma.storage.raw), (DNNL_ARG_SHIFT, vector, beta.storage.raw),
      ])
      precondition(
        !needsGradient(self, weight, bias),
        "batchNorm in inference mode is not differentiable here; call it inside withoutGradients")
      return shape.count == 2 ? out.reshaped(shape) : out
    }
    let mean = Storage(count: channels)
    let variance = Storage(count: channels)
    var args: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [
      (DNNL_ARG_SRC, md, x.storage.raw), (DNNL_ARG_DST, md, out.storage.raw),
      (DNNL_ARG_MEAN, vector, mean.raw), (DNNL_ARG_VARIANCE, vector, variance.raw),
      (DNNL_ARG_SCALE, vector, gamma.storage.raw), (DNNL_ARG_SHIFT, vector, beta.storage.raw),
    ]
    var workspace: Storage?
    if let ws = kernel.workspace {
      let s = Storage(count: (ws.byteCount + 3) / 4)
      args.append((DNNL_ARG_WORKSPACE, ws, s.raw))
      workspace = s
    }
    kernel.training.execute(args)
    // Running statistics, exactly as PyTorch: the unbiased variance n/(n−1)·var.
    let n = Float(x.count / channels)
    let unbias = n > 1 ? n / (n - 1) : 1
    let rm = runningMean.storage.pointer
    let rv = runningVariance.storage.pointer
    for c in 0..<channels {
      rm[c] = (1 - momentum) * rm[c] + momentum * mean.pointer[c]
      rv[c] = (1 - momentum) * rv[c] + momentum * variance.pointer[c] * unbias
    }
    if needsGradient(x, weight, bias) {
      out.record([x, weight, bias]) { g in
        let gy = g.reordered(to: md)
        let dx = Tensor(shape: x.shape, storage: Storage(count: md.floatCount), layout: md)
        let dgamma = Tensor(zeros: [channels])
        let dbeta = Tensor(zeros: [channels])
        var bargs: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)] = [
          (DNNL_ARG_SRC, md, x.storage.raw), (DNNL_ARG_MEAN, vector, mean.raw),
          (DNNL_ARG_VARIANCE, vector, variance.raw), (DNNL_ARG_DIFF_DST, md, gy.storage.raw),
          (DNNL_ARG_SCALE, vector, gamma.storage.raw), (DNNL_ARG_SHIFT, vector, beta.storage.raw),
          (DNNL_ARG_DIFF_SRC, md, dx.storage.raw),
          (DNNL_ARG_DIFF_SCALE, vector, dgamma.storage.raw),
          (DNNL_ARG_DIFF_SHIFT, vector, dbeta.storage.raw),
        ]
        if let ws = kernel.workspace, let workspace {
          bargs.append((DNNL_ARG_WORKSPACE, ws, workspace.raw))
        }
        kernel.backward.execute(bargs)
        return [dx, dgamma, dbeta]
      }
    }
    return shape.count == 2 ? out.reshaped(shape) : out
  }
}
