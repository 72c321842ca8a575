import Tensors
import Testing

@testable import Optimizers

/// f(x) = Σ aᵢ·(xᵢ − cᵢ)², an ill-conditioned bowl (curvatures 0.2 to 20) with its minimum at c.
private func minimize(_ optimizer: some Optimizer, steps: Int) -> [Float] {
  let x = optimizer.parameters[0]
  let curvature = Tensor(shape: [4], values: [0.1, 1, 4, 10])
  let target = Tensor(shape: [4], values: [3, -1, 0.5, 2])
  for _ in 0..<steps {
    optimizer.zeroGradients()
    let d = x - target
    (d * d * curvature).sum().backward()
    optimizer.step()
  }
  return x.values
}

extension OptimizerTests {
  @Test func sgdWithMomentumMinimizesAQuadratic() {
    let x = Tensor(zeros: [4], requiresGrad: true)
    let sgd = SGD(parameters: [x], learningRate: 0.04, momentum: 0.9, nesterov: true)
    let result = minimize(sgd, steps: 400)
    for (value, expected) in zip(result, [3, -1, 0.5, 2] as [Float]) {
      #expect(abs(value - expected) < 1e-3, "\(result)")
    }
  }

  @Test func adamWMinimizesAQuadratic() {
    let x = Tensor(zeros: [4], requiresGrad: true)
    let adam = AdamW(parameters: [x], learningRate: 0.05, weightDecay: 0)
    var result: [Float] = []
    // Adam with a constant step size hovers around the minimum; anneal as a schedule would.
    for rate in [0.05, 0.005, 0.0005] {
      adam.learningRate = rate
      result = minimize(adam, steps: 400)
    }
    for (value, expected) in zip(result, [3, -1, 0.5, 2] as [Float]) {
      #expect(abs(value - expected) < 1e-3, "\(result)")
    }
  }
}
