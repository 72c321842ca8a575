import Tensors

/// Something that updates parameters in place from their gradients.
///
/// The hyper-parameters are plain mutable values: a training loop may set them before every
/// step (from a learning-rate or momentum schedule), and `step()` uses whatever they hold at
/// that moment. For Adam-style optimizers `momentum` is β₁.
///
/// ```swift
/// let optimizer = SGD(parameters: model.parameters, learningRate: 0.1, momentum: 0.9)
/// for batch in batches {
///   optimizer.zeroGradients()
///   loss(model(batch)).backward()
///   optimizer.learningRate = schedule(progress)
///   optimizer.step()
/// }
/// ```
public protocol Optimizer: AnyObject {
  /// The parameters this optimizer updates, in the order their state is numbered.
  var parameters: [Tensor] { get }
  /// The step size η.
  var learningRate: Double { get set }
  /// The momentum coefficient μ (SGD) or β₁ (Adam).
  var momentum: Double { get set }
  /// The weight-decay coefficient λ (L2 for SGD, decoupled for AdamW).
  var weightDecay: Double { get set }
  /// How many times `step()` has been called.
  var stepCount: Int { get }

  /// Updates every parameter that has a gradient, in place; parameters whose `grad` is nil are
  /// skipped and their state is left untouched, as in PyTorch.
  func step()
  /// A copy of everything `step()` depends on: hyper-parameters, step counts and buffers.
  func snapshot() -> OptimizerState
  /// Throws if `state` cannot be restored into this optimizer (another kind of optimizer, or
  /// buffers that do not fit the parameters). Use it before `restore(_:)` on a state read from
  /// a file.
  func validate(_ state: OptimizerState) throws(OptimizerStateError)
  /// Puts back a state from `snapshot()` (hyper-parameters included), so the next steps are
  /// bit-identical to the ones the snapshotted optimizer would have taken, given the same
  /// parameter values. The state must be valid (see `validate(_:)`).
  func restore(_ state: OptimizerState)
}

extension Optimizer {
  /// Clears every parameter's gradient (sets it to nil, as PyTorch's `zero_grad()` does).
  public func zeroGradients() {
    for parameter in parameters { parameter.zeroGradient() }
  }
}

/// Checks that parameters can be updated in place: row-major storage.
func checkParameters(_ parameters: [Tensor]) {
  for (index, parameter) in parameters.enumerated() {
    precondition(
      parameter.layout == nil,
      "parameter \(index) of shape \(parameter.shape) is not row-major; optimizers update "
        + "row-major parameters only")
  }
  let identities = Set(parameters.map(ObjectIdentifier.init))
  precondition(
    identities.count == parameters.count, "the same parameter tensor is listed more than once")
}

/// The gradient of `parameter` as a row-major tensor (read only), or nil if it has none.
func plainGradient(of parameter: Tensor, index: Int) -> Tensor? {
  guard let grad = parameter.grad else { return nil }
  precondition(
    grad.shape == parameter.shape,
    "gradient of shape \(grad.shape) for parameter \(index) of shape \(parameter.shape)")
  precondition(parameter.layout == nil, "parameter \(index) is no longer row-major")
  return grad.layout == nil ? grad : withoutGradients { grad.plain() }
}
