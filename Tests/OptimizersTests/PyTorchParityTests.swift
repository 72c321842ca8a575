import Tensors
import Testing

@testable import Optimizers

/// The worked examples of `SGDTests` and `AdamWTests`, run through PyTorch 2.15 (CPU, float32,
/// `torch.optim.SGD` / `torch.optim.AdamW` with the same hyper-parameters, gradients assigned
/// to `p.grad`, schedules written into `param_groups[0]` before each step), and the printed
/// float32 results pasted here.
///
/// We do the same float32 operations in the same order, but PyTorch's CPU kernels compute
/// `a + α·b` as a fused multiply-add and we do not (a fused multiply-add without the CPU's FMA
/// instructions enabled would be a library call per element). Of these 56 numbers 53 are
/// bit-identical and 3 differ in the last bit, so the test allows 1 ulp.
enum PyTorchCase: String, CaseIterable, Sendable {
  case plain, momentum, dampening, nesterov, weightDecay, weightDecayNesterov
  case scheduled, momentumZeroInTheMiddle, adamW, adamWBeta1

  /// p after each of the steps, as printed by PyTorch.
  var pytorch: [[Float]] {
    switch self {
    case .plain:
      [
        [0.949999988079071, -1.899999976158142], [0.925000011920929, -1.9499999284744263],
        [0.824999988079071, -1.899999976158142],
      ]
    case .momentum:
      [
        [0.949999988079071, -1.899999976158142], [0.8799999952316284, -1.8600000143051147],
        [0.7170000076293945, -1.7740000486373901],
      ]
    case .dampening:
      [
        [0.949999988079071, -1.899999976158142], [0.8924999833106995, -1.834999918937683],
        [0.7907499670982361, -1.751499891281128],
      ]
    case .nesterov:
      [
        [0.9049999713897705, -1.809999942779541], [0.8169999718666077, -1.8240000009536743],
        [0.5702999830245972, -1.6965999603271484],
      ]
    case .weightDecay:
      [
        [0.9399999976158142, -1.8799999952316284], [0.9056000113487244, -1.9112000465393066],
        [0.7965440154075623, -1.842087984085083],
      ]
    case .weightDecayNesterov:
      [
        [0.9099999666213989, -1.8199999332427979], [0.8438499569892883, -1.8376998901367188],
        [0.6651672124862671, -1.7280844449996948],
      ]
    case .scheduled:
      [
        [0.949999988079071, -1.899999976158142], [0.8199999928474426, -1.8399999141693115],
        [0.7391250133514404, -1.8007498979568481],
      ]
    case .momentumZeroInTheMiddle:
      [
        [0.949999988079071, -1.899999976158142], [0.925000011920929, -1.9499999284744263],
        [0.7800000309944153, -1.809999942779541],
      ]
    case .adamW:
      [
        [0.9890000224113464, -1.9880000352859497], [0.9786892533302307, -1.9833487272262573],
        [0.9686197638511658, -1.9768763780593872],
      ]
    case .adamWBeta1:
      [[-0.09999998658895493], [-0.18434004485607147]]
    }
  }

  /// Runs the example as in `SGDTests` / `AdamWTests` and returns p after each step.
  func run() -> [[Float]] {
    if self == .adamWBeta1 {
      let p = Tensor(shape: [1], values: [0], requiresGrad: true)
      let adam = AdamW(parameters: [p], learningRate: 0.1, beta1: 0.5, weightDecay: 0)
      return trajectory(of: p, under: adam, gradients: [[2], [1]])
    }
    let p = exampleParameter()
    let optimizer: any Optimizer
    var schedule: [(learningRate: Double, momentum: Double)]? = nil
    switch self {
    case .plain: optimizer = SGD(parameters: [p], learningRate: 0.1)
    case .momentum: optimizer = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
    case .dampening:
      optimizer = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, dampening: 0.5)
    case .nesterov:
      optimizer = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, nesterov: true)
    case .weightDecay: optimizer = SGD(parameters: [p], learningRate: 0.1, weightDecay: 0.1)
    case .weightDecayNesterov:
      optimizer = SGD(
        parameters: [p], learningRate: 0.1, momentum: 0.5, weightDecay: 0.1, nesterov: true)
    case .scheduled:
      optimizer = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
      schedule = [(0.1, 0.9), (0.2, 0.8), (0.05, 0.95)]
    case .momentumZeroInTheMiddle:
      optimizer = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
      schedule = [(0.1, 0.9), (0.1, 0), (0.1, 0.9)]
    case .adamW, .adamWBeta1:
      optimizer = AdamW(
        parameters: [p], learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
        weightDecay: 0.1)
    }
    return trajectory(of: p, under: optimizer, gradients: exampleGradients) { i in
      if let schedule {
        optimizer.learningRate = schedule[i].learningRate
        optimizer.momentum = schedule[i].momentum
      }
    }
  }
}

/// How many representable floats lie between `a` and `b` (same sign).
func ulpDistance(_ a: Float, _ b: Float) -> Int {
  abs(Int(Int32(bitPattern: a.bitPattern)) - Int(Int32(bitPattern: b.bitPattern)))
}

extension OptimizerTests {
  @Test(arguments: PyTorchCase.allCases)
  func matchesPyTorchFloat32(_ example: PyTorchCase) {
    let result = example.run()
    #expect(result.count == example.pytorch.count)
    for (step, (ours, theirs)) in zip(result, example.pytorch).enumerated() {
      for (x, y) in zip(ours, theirs) {
        #expect(ulpDistance(x, y) <= 1, "step \(step + 1): \(x) vs PyTorch \(y)")
      }
    }
  }
}
