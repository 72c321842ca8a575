import ArgumentParser
import Engine
import Foundation
import NeuralNetworks
import Training

extension TrainingSetup {
  /// The setup of a command's data options: the data loaded (and split) under `seed`.
  init(
    data: DataOptions, model: ModelArchitecture, optimizer: OptimizerKind = .sgd,
    nesterov: Bool = false, augment: String, seed: UInt64
  ) throws {
    try self.init(
      data: data.source, model: model, optimizer: optimizer, nesterov: nesterov, augment: augment,
      seed: seed)
  }
}

/// A comma-separated list of values for an option, e.g. `--weight-decay 1e-3,1e-4,0`.
struct ValueList<Element: ExpressibleByArgument>: ExpressibleByArgument {
  var values: [Element]
  init?(argument: String) {
    let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
    var values: [Element] = []
    for part in parts {
      guard let value = Element(argument: part) else { return nil }
      values.append(value)
    }
    guard !values.isEmpty else { return nil }
    self.values = values
  }
  init(_ values: [Element]) { self.values = values }
  var isOverlay: Bool { values.count > 1 }
  /// As a user would type it: "0.99,0.97,0.95".
  var defaultValueDescription: String {
    values.map(\.defaultValueDescription).joined(separator: ",")
  }
}
