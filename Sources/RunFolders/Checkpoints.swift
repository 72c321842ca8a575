import Datasets
import NeuralNetworks

extension Checkpoint {
  /// A checkpoint of `specification` with the data's normalization in its metadata, so
  /// `discipline eval` and PyTorch loaders normalize inputs as training did.
  package init(_ specification: ModelSpecification, normalization: Normalization?) {
    let n = normalization ?? Normalization(mean: 0, standardDeviation: 1)
    self.init(
      specification: specification, inputMean: n.mean.first ?? 0,
      inputStd: n.standardDeviation.first ?? 1,
      extra: n.isScalar ? [:] : n.checkpointMetadata)
  }
}
