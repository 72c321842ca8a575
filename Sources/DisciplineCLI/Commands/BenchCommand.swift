import ArgumentParser
import Engine
import Foundation
import NeuralNetworks
import Optimizers
import Randomness
import RunFolders
import Tensors

/// `discipline bench`: training-step throughput of a built-in model, measured the way
/// `reference/bench.py` measures PyTorch's, so the two can be compared as a ratio.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure training-step throughput (samples/s) of a built-in model.",
    discussion: """
      Times full SGD steps (forward, cross-entropy, backward, SGD with
      momentum 0.9 and weight decay 5e-4) on random input after 5
      warm-up steps, as the median of 5 windows: the protocol of
      python -m discipline.bench (python/), so the numbers compare as a ratio.

      Examples:
        discipline bench --model cnn --batch-size 128
        discipline bench --model mlp --batch-size 512 --json
        discipline bench --model resnet20 --channels 3 --size 32
      """)

  @Option(help: ModelArchitecture.help) var model: String = "cnn"
  @Option(name: .customLong("batch-size"), help: "Samples per step.") var batchSize: Int = 128
  @Option(help: "Steps per timing window (default: about 20000 samples / 3, as bench.py).")
  var steps: Int?
  @Option(help: "Timing windows; the median is reported.") var windows: Int = 5
  @Option(help: "Input channels.") var channels: Int = 1
  @Option(help: "Input height and width.") var size: Int = 28
  @Option(help: "GEMM back end: dnnl or openblas.") var gemm: GEMM.Backend = .dnnl
  @Option(help: "Threads for oneDNN (default: one per core, as bench.py).") var threads: Int?
  @Flag(help: "Print one JSON line.") var json = false

  func validate() throws {
    guard ModelArchitecture(model) != nil else {
      throw ValidationError("unknown model '\(model)': use \(ModelArchitecture.names)")
    }
    try Valid.positive("--batch-size", batchSize)
    try Valid.positive("--windows", windows)
    try Valid.positive("--steps", steps)
  }

  func run() throws {
    GEMM.backend = gemm
    if let threads { DNNL.setThreadCount(threads) }
    let spec = ModelSpecification(
      architecture: ModelArchitecture(model)!, inputChannels: channels, inputSize: size)
    let net = spec.build(seed: 0)
    let optimizer = SGD(
      parameters: net.parameters, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
    var g = SeededGenerator(seed: 1)
    let x = Tensor.normal([batchSize, channels, size, size], using: &g)
    let labels = (0..<batchSize).map { _ in Int32(g.next() % 10) }
    func step() {
      optimizer.zeroGradients()
      let loss = net(x).crossEntropy(labels: labels)
      loss.backward()
      optimizer.step()
    }
    for _ in 0..<5 { step() }
    let perWindow = steps ?? max(3, 20000 / batchSize) / 3
    var rates: [Double] = []
    for _ in 0..<windows {
      let start = DispatchTime.now().uptimeNanoseconds
      for _ in 0..<perWindow { step() }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      rates.append(Double(batchSize * perWindow) / seconds)
    }
    let median = rates.sorted()[rates.count / 2]
    let peak = peakMemoryMiB()
    if json {
      let fields: [String] = [
        "\"engine\": \"discipline\"", "\"threads\": \(DNNL.threadCount)", "\"model\": \"\(model)\"",
        "\"batch\": \(batchSize)", "\"samples_per_s\": \(String(format: "%.1f", median))",
        "\"params\": \(net.parameterCount)", "\"peak_memory_mib\": \(String(format: "%.1f", peak))",
        "\"gemm\": \"\(gemm.rawValue)\"",
      ]
      print("{" + fields.joined(separator: ", ") + "}")
    } else {
      print(
        "\(model) batch \(batchSize): \(String(format: "%.0f", median)) samples/s (median of \(windows) windows of \(perWindow) steps; \(DNNL.threadCount) threads; peak memory \(String(format: "%.0f", peak)) MiB)"
      )
    }
  }
}

extension GEMM.Backend: ExpressibleByArgument {}
