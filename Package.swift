// swift-tools-version:6.0
import PackageDescription

// Layers, bottom to top (see Docs/ARCHITECTURE.md): CNative → Tensors → NeuralNetworks,
// Optimizers → Training (the engine's sessions) → the `discipline` executable. The tuning side
// builds without oneDNN: TrialProtocol (specs, schedules, events and results as data) →
// Runners (carry a spec out: in-process sessions, local programs, Slurm) → RangeTests (the LR
// range test and its reading) → Tuning (the recipe: phases, rules, budget, final run). Schedules
// and Reports depend on nothing in the project; Datasets only on CNative (zlib).
/// Modules whose tests use `@testable import` are compiled for testing in release builds too,
/// so the whole suite runs optimized (`swift test -c release`).
let testable: [SwiftSetting] = [.unsafeFlags(["-enable-testing"], .when(configuration: .release))]

let package = Package(
  name: "Discipline",
  products: [
    .executable(name: "discipline", targets: ["DisciplineCLI"]),
    .library(name: "Schedules", targets: ["Schedules"]),
    .library(name: "Tensors", targets: ["Tensors"]),
    .library(name: "NeuralNetworks", targets: ["NeuralNetworks"]),
    .library(name: "Optimizers", targets: ["Optimizers"]),
    .library(name: "Datasets", targets: ["Datasets"]),
    .library(name: "Reports", targets: ["Reports"]),
    .library(name: "Sessions", targets: ["Sessions"]),
    .library(name: "Training", targets: ["Training"]),
    .library(name: "TrialProtocol", targets: ["TrialProtocol"]),
    .library(name: "Runners", targets: ["Runners"]),
    .library(name: "RangeTests", targets: ["RangeTests"]),
    .library(name: "Tuning", targets: ["Tuning"]),
    .library(name: "Engine", targets: ["Engine"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    .systemLibrary(name: "CNative", path: "Sources/CNative"),
    .target(name: "Randomness"),
    .target(name: "Tensors", dependencies: ["CNative", "Randomness"]),
    .target(name: "NeuralNetworks", dependencies: ["Tensors"]),
    .target(name: "Optimizers", dependencies: ["Tensors"], swiftSettings: testable),
    .target(name: "Schedules", swiftSettings: testable),
    .target(name: "Datasets", dependencies: ["CNative", "Randomness"], swiftSettings: testable),
    .target(name: "Reports", swiftSettings: testable),
    .target(name: "Sessions", dependencies: ["Schedules"]),
    .target(
      name: "Training",
      dependencies: [
        "Sessions", "Tensors", "NeuralNetworks", "Optimizers", "Schedules", "Datasets",
        "Randomness",
      ]),
    // The trial protocol as data (spec, schedule, events, results); the runners that carry a
    // spec out (in-process sessions, local programs, Slurm); the recipe on top of both.
    .target(name: "TrialProtocol", dependencies: ["Schedules"], swiftSettings: testable),
    .target(
      name: "Runners", dependencies: ["TrialProtocol", "Sessions", "Schedules"],
      swiftSettings: testable),
    // The LR range test (lr-find's sweep and its reading), on any runner.
    .target(
      name: "RangeTests", dependencies: ["TrialProtocol", "Runners", "Sessions", "Schedules"],
      swiftSettings: testable),
    .target(
      name: "Tuning",
      dependencies: ["TrialProtocol", "Runners", "RangeTests", "Sessions", "Schedules"],
      swiftSettings: testable),
    // What a run leaves behind: the files of fit, lr-find, tune and study runs and their reports.
    .target(
      name: "RunFolders",
      dependencies: [
        "Training", "TrialProtocol", "RangeTests", "Tuning", "Reports", "Schedules", "Datasets",
        "NeuralNetworks",
      ]),
    // The built-in engine behind the recipe: a training setup from a data set and a model, and
    // the backend the recipe's in-process sessions come from.
    .target(
      name: "Engine",
      dependencies: [
        "Training", "Tuning", "Sessions", "Datasets", "NeuralNetworks", "RunFolders", "Runners",
        "RangeTests", "TrialProtocol", "Tensors",
      ]),
    .executableTarget(
      name: "DisciplineCLI",
      dependencies: [
        "Tensors", "NeuralNetworks", "Optimizers", "Schedules", "Datasets", "Reports", "Sessions",
        "Training", "TrialProtocol", "Runners", "RangeTests", "Tuning", "RunFolders", "Engine",
        "Randomness", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .target(
      name: "TestSupport", dependencies: ["Tensors", "Randomness"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport", "Randomness"]),
    .testTarget(
      name: "NeuralNetworksTests",
      dependencies: ["NeuralNetworks", "Optimizers", "Tensors", "TestSupport"]),
    .testTarget(name: "OptimizersTests", dependencies: ["Optimizers", "Tensors"]),
    .testTarget(name: "SchedulesTests", dependencies: ["Schedules"]),
    .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Randomness"]),
    .testTarget(name: "ReportsTests", dependencies: ["Reports"]),
    .testTarget(
      name: "TrainingTests",
      dependencies: ["Training", "Datasets", "NeuralNetworks", "Optimizers", "Randomness"]),
    .testTarget(
      name: "TuningTests",
      dependencies: [
        "TrialProtocol", "Runners", "RangeTests", "Tuning", "RunFolders", "Sessions", "Schedules",
        "Randomness",
      ]),
    .testTarget(name: "DisciplineCLITests", dependencies: ["NeuralNetworks"]),
  ]
)
