/// The recipe's phases, in the order they run: what the journal, the report's sections and
/// `study`'s kinds name. The journal keeps each piece of work's phase by its raw value ("batch
/// size"); the regularization phase journals its two studies apart (dropout, augmentation).
public enum Phase: String, Codable, Sendable, CaseIterable {
  case learningRate = "learning rate"
  case batchSize = "batch size"
  case momentum
  case weightDecay = "weight decay"
  case dropout
  case augmentation

  /// The hyper-parameter a program must list in its start event's `honours` for the phase to
  /// run with it (nil: every program applies it).
  public var honoured: String? {
    switch self {
    case .dropout: "dropout"
    case .augmentation: "augmentation"
    default: nil
    }
  }
}
