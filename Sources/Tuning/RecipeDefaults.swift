import TrialProtocol

/// The recipe's defaults that depend on the data and the model, in one place: the commands
/// (`tune`, `study`) parse options and override these, and never restate them.
extension RecipeSettings {
  /// Momentum candidates (the top of the cycle) of the momentum phase.
  public static let defaultMomenta = [0.99, 0.97, 0.95, 0.9]
  /// Batch-size candidates before the training split's size filters them.
  public static let defaultBatchSizes = [64, 128, 256, 512]
  /// Weight-decay grid where nothing is known of the data or the model (a user's program).
  public static let defaultWeightDecays = [1e-3, 1e-4, 1e-5, 0]
  /// Dropout candidates of the regularization phase, weakest first. Not 0.5: stacked with
  /// flips it left a 20-epoch Fashion-MNIST cnn run underfitting (92.16%), where 0.25 with
  /// flips reached 92.44–92.73% in 20–26 epochs.
  public static let defaultDropouts = [0, 0.25]
  /// Augmentation candidates of the regularization phase (images only), weakest first.
  public static let defaultAugmentations = ["none", "flip"]

  /// The weight decay trials use before the weight-decay phase has chosen one, and where its
  /// ties settle: Smith's 5e-4, and 1e-4 for deep residual networks.
  public static func priorWeightDecay(deepNetwork: Bool) -> Double { deepNetwork ? 1e-4 : 5e-4 }

  /// The weight-decay grid for a data set and a network (Docs/METHOD.md §5: small data sets and
  /// shallow networks want larger values, large data sets and deep networks smaller ones).
  public static func weightDecayGrid(trainingSamples: Int, deepNetwork: Bool) -> [Double] {
    if trainingSamples < 20_000 && !deepNetwork { return [1e-2, 1e-3, 1e-4, 0] }
    if deepNetwork && trainingSamples >= 20_000 { return [1e-3, 1e-4, 1e-5, 0] }
    return [3e-3, 1e-3, 1e-4, 0]
  }

  /// Steps of the first LR range test for a training split: half an epoch, within 100–400.
  public static func rangeTestSteps(trainingSamples: Int, batchSize: Int) -> Int {
    max(100, min(400, trainingSamples / max(1, batchSize) / 2))
  }

  /// The defaults for a training split of `trainingSamples` (the built-in engine, whose data
  /// the recipe knows): a start batch size no larger than the split, batch-size candidates
  /// with at least 20 batches an epoch (or the one that fits), the weight-decay grid and prior
  /// for the data and network, and the first range test's length. `batchSizes` and
  /// `weightDecays` are the user's, where given.
  public mutating func fit(
    trainingSamples n: Int, deepNetwork: Bool, batchSizes: [Int]?, weightDecays: [Double]?
  ) {
    startBatchSize = min(startBatchSize, n)
    self.batchSizes = batchSizes?.sorted() ?? Self.defaultBatchSizes.filter { $0 * 20 <= n }
    if self.batchSizes.isEmpty { self.batchSizes = [max(1, min(startBatchSize, n / 20))] }
    self.weightDecays =
      weightDecays ?? Self.weightDecayGrid(trainingSamples: n, deepNetwork: deepNetwork)
    priorWeightDecay = Self.priorWeightDecay(deepNetwork: deepNetwork)
    rangeTestSteps = Self.rangeTestSteps(trainingSamples: n, batchSize: startBatchSize)
  }
}

/// The candidates that follow a program's optimizer (its start event's `optimizer` and
/// `decoupled_weight_decay`): the defaults above are Smith's, for SGD with momentum and L2
/// weight decay (the built-in engine's optimizer). A grid the user gave is kept as given.
extension RecipeSettings {
  /// Weight decays for decoupled weight decay (AdamW): each step shrinks the weights by
  /// lr × wd, and Adam's rates are one to two orders below SGD's, so the useful values are
  /// about a hundred times the L2 grid's (PyTorch's AdamW defaults to 1e-2).
  public static let decoupledWeightDecays = [1e-1, 1e-2, 1e-3, 0]
  /// The prior for decoupled weight decay: PyTorch's AdamW default.
  public static let decoupledPriorWeightDecay = 1e-2
  /// β₁ candidates for the Adam family, whose first moment plays momentum's part: not 0.99,
  /// which averages the gradient over a hundred steps and lags the one-cycle's rate.
  public static let adaptiveMomenta = [0.97, 0.95, 0.9]

  /// Whether `program`'s optimizer is of the Adam family (momentum is its β₁).
  static func isAdaptive(_ program: ProgramFacts?) -> Bool {
    program?.optimizer?.lowercased().contains("adam") ?? false
  }

  /// The weight-decay grid for `program`'s optimizer, and why where it is not the default.
  public func weightDecayCandidates(for program: ProgramFacts?) -> (grid: [Double], why: String?) {
    guard program?.decoupledWeightDecay == true, weightDecays == Self.defaultWeightDecays else {
      return (weightDecays, nil)
    }
    return (
      Self.decoupledWeightDecays,
      "the grid for decoupled weight decay (your program's \(program?.optimizer ?? "optimizer")), about 100× the L2 grid"
    )
  }

  /// The weight decay trials use before the weight-decay phase, for `program`'s optimizer.
  public func weightDecayPrior(for program: ProgramFacts?) -> Double {
    program?.decoupledWeightDecay == true
      && priorWeightDecay == RecipeSettings(budget: 0).priorWeightDecay
      ? Self.decoupledPriorWeightDecay : priorWeightDecay
  }

  /// The momentum candidates for `program`'s optimizer.
  public func momentumGrid(for program: ProgramFacts?) -> [Double] {
    Self.isAdaptive(program) && momenta == Self.defaultMomenta ? Self.adaptiveMomenta : momenta
  }
}
