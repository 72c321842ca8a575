import Tensors

/// A network building block with named parameters and buffers, as PyTorch's `nn.Module`.
///
/// Names are dotted paths built from each child's name, in a deterministic order (children in
/// the order they are listed, a module's own tensors before its children's), so that
/// `namedParameters()` of the `cnn` model yields `0.weight`, `1.weight`, `1.bias`, `4.weight`…
/// exactly as PyTorch's `state_dict()` keys.
open class Module {
  /// Training mode (batch statistics, dropout) or evaluation mode.
  public private(set) var isTraining = true

  public init() {}

  /// The direct children, with their names.
  open var children: [(String, Module)] { [] }
  /// This module's own parameters (not its children's).
  open var ownParameters: [(String, Tensor)] { [] }
  /// This module's own buffers: state that is saved but not trained (running statistics).
  open var ownBuffers: [(String, Tensor)] { [] }

  /// The module's computation.
  open func forward(_ input: Tensor) -> Tensor { input }

  public func callAsFunction(_ input: Tensor) -> Tensor { forward(input) }

  /// Every parameter under this module, with its dotted name.
  public func namedParameters() -> [(String, Tensor)] { collect(\.ownParameters) }
  /// Every buffer under this module, with its dotted name.
  public func namedBuffers() -> [(String, Tensor)] { collect(\.ownBuffers) }
  /// Every parameter, in `namedParameters()` order.
  public var parameters: [Tensor] { namedParameters().map(\.1) }

  /// Parameters and buffers together: PyTorch's `state_dict()` (without num_batches_tracked).
  public func stateDictionary() -> [(String, Tensor)] {
    var out: [(String, Tensor)] = []
    visit(prefix: "") { prefix, module in
      // PyTorch orders a module's parameters then its buffers, then its children.
      for (n, t) in module.ownParameters { out.append((prefix + n, t)) }
      for (n, t) in module.ownBuffers { out.append((prefix + n, t)) }
    }
    return out
  }

  /// Switches this module and all below it to training (`true`) or evaluation mode.
  public func train(_ on: Bool = true) {
    visit(prefix: "") { _, m in m.isTraining = on }
  }

  /// Evaluation mode: running statistics, no dropout.
  public func eval() { train(false) }

  /// The number of trainable values.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  private func collect(_ own: KeyPath<Module, [(String, Tensor)]>) -> [(String, Tensor)] {
    var out: [(String, Tensor)] = []
    visit(prefix: "") { prefix, module in
      for (n, t) in module[keyPath: own] { out.append((prefix + n, t)) }
    }
    return out
  }

  private func visit(prefix: String, _ body: (String, Module) -> Void) {
    body(prefix, self)
    for (name, child) in children { child.visit(prefix: prefix + name + ".", body) }
  }
}

/// A copy of a model's parameters and buffers, to put back later (the LR range test leaves no
/// trace on the model this way).
public struct ModuleState: Sendable {
  public let tensors: [String: [Float]]

  public init(tensors: [String: [Float]]) { self.tensors = tensors }
}

extension Module {
  /// A copy of every parameter and buffer.
  public func snapshot() -> ModuleState {
    ModuleState(
      tensors: Dictionary(uniqueKeysWithValues: stateDictionary().map { ($0.0, $0.1.values) }))
  }

  /// Puts back values taken by `snapshot()` of a module of the same architecture.
  public func restore(_ state: ModuleState) {
    for (name, tensor) in stateDictionary() {
      guard let values = state.tensors[name] else {
        preconditionFailure("snapshot has no tensor \(name)")
      }
      tensor.assign(Tensor(shape: tensor.shape, values: values))
    }
  }
}

extension Module {
  /// This module and every module below it, depth first.
  public var allModules: [Module] {
    [self] + children.flatMap { $0.1.allModules }
  }

  /// The dropout layers, whose generators are part of a training run's state.
  public var dropoutLayers: [Dropout] { allModules.compactMap { $0 as? Dropout } }
}
