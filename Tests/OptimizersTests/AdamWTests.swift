import Tensors
import Testing

@testable import Optimizers

// PyTorch's documented algorithm for torch.optim.AdamW (amsgrad off), for each step t:
//   p ← p·(1 − η·λ)
//   m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
//   m̂ ← m / (1 − β₁ᵗ),       v̂ ← v / (1 − β₂ᵗ)
//   p ← p − η·m̂ / (√v̂ + ε)

extension OptimizerTests {
  @Test func adamWWithWeightDecay() {
    let p = exampleParameter()
    let adam = AdamW(
      parameters: [p], learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
      weightDecay: 0.1)
    let result = trajectory(of: p, under: adam, gradients: exampleGradients)
    expectClose(
      result,
      [
        // t = 1, decay factor 1 − 0.01·0.1 = 0.999: p = [0.999, −1.998]
        // m = 0.1·g = [0.05, −0.1], v = 0.001·g² = [0.00025, 0.001]
        // m̂ = m / 0.1 = [0.5, −1], v̂ = v / 0.001 = [0.25, 1], √v̂ = [0.5, 1]
        // p = [0.999 − 0.01·0.5/(0.5 + 1e-8), −1.998 + 0.01·1/(1 + 1e-8)]
        [0.9890000002, -1.9880000001],
        // t = 2: p·0.999 = [0.9880110002, −1.9860120001]
        // m = 0.9·m + 0.1·[0.25, 0.5] = [0.07, −0.04]
        // v = 0.999·v + 0.001·[0.0625, 0.25] = [0.00031225, 0.001249]
        // 1 − 0.9² = 0.19, 1 − 0.999² = 0.001999
        // m̂ = [0.3684210526, −0.2105263158], √v̂ = √[0.1562031016, 0.6248124062]
        //    = [0.3952253807, 0.7904507614]
        // p −= 0.01·m̂/(√v̂ + 1e-8) = [0.0093217962, −0.0026633704]
        [0.9786892040, -1.9833486297],
        // t = 3: p·0.999 = [0.9777105148, −1.9813652811]
        // m = 0.9·[0.07, −0.04] + 0.1·[1, −0.5] = [0.163, −0.086]
        // v = 0.999·v + 0.001·[1, 0.25] = [0.0013119378, 0.001497751]
        // 1 − 0.9³ = 0.271, 1 − 0.999³ = 0.002997001
        // m̂ = [0.6014760148, −0.3173431734], √v̂ = √[0.4377501876, 0.4997499167]
        //    = [0.6616269248, 0.7069299234]
        // p −= 0.01·m̂/(√v̂ + 1e-8) = [0.0090908635, −0.0044890329]
        [0.9686196514, -1.9768762482],
      ])
  }

  /// `beta1` and `momentum` are the same value; a changed β₁ is used from the next step,
  /// including in the bias correction 1 − β₁ᵗ.
  @Test func adamWMomentumIsBeta1() {
    let p = Tensor(shape: [1], values: [0], requiresGrad: true)
    let adam = AdamW(parameters: [p], learningRate: 0.1, beta1: 0.9, weightDecay: 0)
    adam.momentum = 0.5
    #expect(adam.beta1 == 0.5)
    let result = trajectory(of: p, under: adam, gradients: [[2], [1]])
    expectClose(
      result,
      [
        // m = 0.5·2 = 1, v = 0.001·4 = 0.004; m̂ = 1/0.5 = 2, √v̂ = √(0.004/0.001) = 2
        // p = 0 − 0.1·2/(2 + 1e-8)
        [-0.0999999995],
        // m = 0.5·1 + 0.5·1 = 1, m̂ = 1/(1 − 0.25) = 4/3
        // v = 0.999·0.004 + 0.001·1 = 0.004996, v̂ = 0.004996/0.001999 = 2.4992496248
        // p = −0.0999999995 − 0.1·(4/3)/(1.5809015228 + 1e-8) = −0.0999999995 − 0.0843400620
        [-0.1843400615],
      ])
  }

  /// Each parameter counts its own steps (PyTorch's `state["step"]`): a parameter first
  /// updated at the optimizer's second step gets the bias correction of t = 1.
  @Test func adamWCountsStepsPerParameter() {
    let a = Tensor(shape: [1], values: [1], requiresGrad: true)
    let b = Tensor(shape: [1], values: [2], requiresGrad: true)
    let adam = AdamW(parameters: [a, b], learningRate: 0.01, weightDecay: 0.1)
    a.grad = Tensor(shape: [1], values: [1])
    adam.step()
    #expect(b.scalar == 2)  // no gradient: not even decayed
    a.grad = Tensor(shape: [1], values: [1])
    b.grad = Tensor(shape: [1], values: [1])
    adam.step()
    // t = 1 for b: 2·0.999 − 0.01·1/(1 + 1e-8) = 1.998 − 0.0099999999
    expectClose([[b.scalar]], [[1.9880000001]])
    let state = adam.snapshot()
    #expect(state.scalars == ["0.step": 2, "1.step": 1])
    #expect(adam.stepCount == 2)
  }
}
