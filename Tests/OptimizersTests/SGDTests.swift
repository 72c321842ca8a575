import Tensors
import Testing

@testable import Optimizers

// PyTorch's documented algorithm for torch.optim.SGD, for each step:
//   g ← ∇ + λ·p                       (if λ ≠ 0)
//   if μ ≠ 0: b ← g on the first step, else b ← μ·b + (1 − τ)·g
//             g ← g + μ·b if nesterov, else g ← b
//   p ← p − η·g
// Every case starts from p = [1, −2] with gradients [0.5, −1], [0.25, 0.5], [1, −0.5].

extension OptimizerTests {
  @Test func plainSGD() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients)
    expectClose(
      result,
      [
        [0.95, -1.9],  // [1 − 0.1·0.5, −2 + 0.1·1]
        [0.925, -1.95],  // [0.95 − 0.025, −1.9 − 0.05]
        [0.825, -1.9],  // [0.925 − 0.1, −1.95 + 0.05]
      ])
    #expect(sgd.stepCount == 3)
  }

  @Test func momentum() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients)
    expectClose(
      result,
      [
        // b = g = [0.5, −1]; p = [1 − 0.05, −2 + 0.1]
        [0.95, -1.9],
        // b = 0.9·[0.5, −1] + [0.25, 0.5] = [0.7, −0.4]; p = [0.95 − 0.07, −1.9 + 0.04]
        [0.88, -1.86],
        // b = 0.9·[0.7, −0.4] + [1, −0.5] = [1.63, −0.86]; p = [0.88 − 0.163, −1.86 + 0.086]
        [0.717, -1.774],
      ])
  }

  @Test func dampening() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, dampening: 0.5)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients)
    expectClose(
      result,
      [
        // first step is not dampened: b = g = [0.5, −1]; p = [0.95, −1.9]
        [0.95, -1.9],
        // b = 0.9·[0.5, −1] + 0.5·[0.25, 0.5] = [0.575, −0.65]; p = [0.95 − 0.0575, −1.9 + 0.065]
        [0.8925, -1.835],
        // b = 0.9·[0.575, −0.65] + 0.5·[1, −0.5] = [1.0175, −0.835]
        // p = [0.8925 − 0.10175, −1.835 + 0.0835]
        [0.79075, -1.7515],
      ])
  }

  @Test func nesterov() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, nesterov: true)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients)
    expectClose(
      result,
      [
        // b = [0.5, −1]; g + 0.9·b = [0.95, −1.9]; p = [1 − 0.095, −2 + 0.19]
        [0.905, -1.81],
        // b = [0.7, −0.4]; g + 0.9·b = [0.25 + 0.63, 0.5 − 0.36] = [0.88, 0.14]
        // p = [0.905 − 0.088, −1.81 − 0.014]
        [0.817, -1.824],
        // b = [1.63, −0.86]; g + 0.9·b = [1 + 1.467, −0.5 − 0.774] = [2.467, −1.274]
        // p = [0.817 − 0.2467, −1.824 + 0.1274]
        [0.5703, -1.6966],
      ])
  }

  @Test func weightDecay() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, weightDecay: 0.1)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients)
    expectClose(
      result,
      [
        // g = [0.5 + 0.1·1, −1 + 0.1·(−2)] = [0.6, −1.2]; p = [1 − 0.06, −2 + 0.12]
        [0.94, -1.88],
        // g = [0.25 + 0.094, 0.5 − 0.188] = [0.344, 0.312]; p = [0.94 − 0.0344, −1.88 − 0.0312]
        [0.9056, -1.9112],
        // g = [1 + 0.09056, −0.5 − 0.19112] = [1.09056, −0.69112]
        // p = [0.9056 − 0.109056, −1.9112 + 0.069112]
        [0.796544, -1.842088],
      ])
  }

  @Test func weightDecayWithNesterovMomentum() {
    let p = exampleParameter()
    let sgd = SGD(
      parameters: [p], learningRate: 0.1, momentum: 0.5, weightDecay: 0.1, nesterov: true)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients)
    expectClose(
      result,
      [
        // g = [0.6, −1.2]; b = g; g + 0.5·b = [0.9, −1.8]; p = [1 − 0.09, −2 + 0.18]
        [0.91, -1.82],
        // g = [0.25 + 0.091, 0.5 − 0.182] = [0.341, 0.318]
        // b = 0.5·[0.6, −1.2] + [0.341, 0.318] = [0.641, −0.282]
        // g + 0.5·b = [0.341 + 0.3205, 0.318 − 0.141] = [0.6615, 0.177]
        // p = [0.91 − 0.06615, −1.82 − 0.0177]
        [0.84385, -1.8377],
        // g = [1 + 0.084385, −0.5 − 0.18377] = [1.084385, −0.68377]
        // b = 0.5·[0.641, −0.282] + g = [0.3205 + 1.084385, −0.141 − 0.68377]
        //   = [1.404885, −0.82477]
        // g + 0.5·b = [1.084385 + 0.7024425, −0.68377 − 0.412385] = [1.7868275, −1.096155]
        // p = [0.84385 − 0.17868275, −1.8377 + 0.1096155]
        [0.66516725, -1.7280845],
      ])
  }

  /// Cyclical momentum and learning rate: each step uses the values set just before it.
  @Test func hyperParametersChangedBetweenSteps() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
    let schedule: [(learningRate: Double, momentum: Double)] = [
      (0.1, 0.9), (0.2, 0.8), (0.05, 0.95),
    ]
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients) { i in
      sgd.learningRate = schedule[i].learningRate
      sgd.momentum = schedule[i].momentum
    }
    expectClose(
      result,
      [
        // b = [0.5, −1]; p = [1 − 0.1·0.5, −2 + 0.1·1]
        [0.95, -1.9],
        // μ = 0.8: b = 0.8·[0.5, −1] + [0.25, 0.5] = [0.65, −0.3]
        // η = 0.2: p = [0.95 − 0.13, −1.9 + 0.06]
        [0.82, -1.84],
        // μ = 0.95: b = 0.95·[0.65, −0.3] + [1, −0.5] = [1.6175, −0.785]
        // η = 0.05: p = [0.82 − 0.080875, −1.84 + 0.03925]
        [0.739125, -1.80075],
      ])
  }

  /// With μ = 0 the buffer is left alone (PyTorch skips the momentum branch), and is used
  /// again when μ becomes non-zero.
  @Test func momentumSetToZeroKeepsTheBuffer() {
    let p = exampleParameter()
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
    let result = trajectory(of: p, under: sgd, gradients: exampleGradients) { i in
      sgd.momentum = i == 1 ? 0 : 0.9
    }
    expectClose(
      result,
      [
        [0.95, -1.9],  // b = [0.5, −1]
        [0.925, -1.95],  // plain step with [0.25, 0.5]; b unchanged
        // b = 0.9·[0.5, −1] + [1, −0.5] = [1.45, −1.4]; p = [0.925 − 0.145, −1.95 + 0.14]
        [0.78, -1.81],
      ])
  }

  /// Parameters without a gradient are skipped, and so is their momentum buffer.
  @Test func parametersWithoutGradientAreSkipped() {
    let a = Tensor(shape: [1], values: [1], requiresGrad: true)
    let b = Tensor(shape: [1], values: [2], requiresGrad: true)
    let sgd = SGD(parameters: [a, b], learningRate: 0.1, momentum: 0.9)
    let one = Tensor(shape: [1], values: [1])
    var values: [[Float]] = []
    for step in 0..<3 {
      sgd.zeroGradients()
      a.grad = one
      if step != 1 { b.grad = one }
      sgd.step()
      values.append([a.scalar, b.scalar])
    }
    expectClose(
      values,
      [
        [0.9, 1.9],  // both: buffer 1, p − 0.1
        [0.71, 1.9],  // a: buffer 0.9 + 1 = 1.9, p = 0.9 − 0.19; b untouched
        // a: buffer 0.9·1.9 + 1 = 2.71, p = 0.71 − 0.271; b: buffer 0.9·1 + 1 = 1.9, p = 1.9 − 0.19
        [0.439, 1.71],
      ])
    #expect(sgd.snapshot().buffers["1.momentum_buffer"] == [1.9])
  }

  @Test func zeroGradientsClearsEveryGradient() {
    let a = exampleParameter()
    let b = exampleParameter()
    a.grad = Tensor(shape: [2], values: [1, 1])
    b.grad = Tensor(shape: [2], values: [1, 1])
    SGD(parameters: [a, b], learningRate: 0.1).zeroGradients()
    #expect(a.grad == nil && b.grad == nil)
  }

  /// The gradient tensor is read, never written: it may be shared with another tensor.
  @Test func gradientsAreNotModified() {
    let p = exampleParameter()
    let gradient = Tensor(shape: [2], values: [0.5, -1])
    let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
    for _ in 0..<3 {
      p.grad = gradient
      sgd.step()
    }
    #expect(gradient.values == [0.5, -1])
  }
}
