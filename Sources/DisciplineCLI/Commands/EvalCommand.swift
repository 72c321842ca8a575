import ArgumentParser
import Datasets
import Foundation
import NeuralNetworks
import Training

/// `discipline eval`: test loss and accuracy of a saved checkpoint.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Evaluate a checkpoint (safetensors) on a data set's test split.",
    discussion: """
      Rebuilds the model named in the checkpoint's metadata, loads its weights strictly (every
      name and shape must match), normalizes the test images with the checkpoint's input_mean
      and input_std, and prints the test loss and accuracy.

      Examples:
        discipline eval --checkpoint runs/cnn/model.safetensors
        discipline eval --checkpoint model.safetensors --dataset mnist --data-dir ~/mnist --json
      """)

  @Option(help: "The checkpoint file (safetensors, as written by discipline fit).") var checkpoint:
    String
  @Option(
    help: ArgumentHelp(
      "Data set: fashion-mnist, mnist, cifar10, cifar100, csv:PATH.", valueName: "name"))
  var dataset: String = "fashion-mnist"
  @Option(name: .customLong("data-dir"), help: "Folder holding the data set's files.")
  var dataDirectory: String?
  @Flag(help: "Print JSON with test_loss and test_accuracy.") var json = false

  func run() throws {
    try reportingErrors {
      let (saved, model) = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint))
      var options = DatasetOptions()
      options.dataDirectory = dataDirectory
      let raw = try DatasetSpec(parsing: dataset, options: options).load()
      let statistics =
        Normalization(checkpointMetadata: saved.extra)
        ?? Normalization(mean: saved.inputMean, standardDeviation: saved.inputStd)
      let splits = try raw.normalized(with: statistics)
      let spec = saved.specification
      let shape = splits.test.sampleShape
      guard
        shape == [spec.inputChannels, spec.inputSize, spec.inputSize]
          || (spec.architecture == .mlp
            && shape.reduce(1, *) == spec.inputChannels * spec.inputSize * spec.inputSize)
      else {
        throw CommandError(
          "checkpoint \(checkpoint) is for \(spec.inputChannels)×\(spec.inputSize)×\(spec.inputSize) inputs; \(dataset) has samples of shape \(shape)"
        )
      }
      guard splits.test.classCount <= spec.classes else {
        throw CommandError(
          "checkpoint \(checkpoint) has \(spec.classes) classes; \(dataset) has \(splits.test.classCount)"
        )
      }
      let result = EngineSession.evaluate(model, on: splits.test)
      let accuracy = result.accuracy ?? .nan  // the engine always measures it
      if json {
        print(
          "{\"model\": \"\(spec.architecture)\", \"test_loss\": \(result.loss), \"test_accuracy\": \(accuracy), \"samples\": \(result.samples)}"
        )
      } else {
        print(
          String(
            format: "%@ on %@: test loss %.4f, test accuracy %.2f%% (%d samples)",
            spec.architecture.description, dataset, result.loss, 100 * accuracy,
            result.samples))
      }
    }
  }
}
