import Foundation

/// Runs the built `discipline` binary (built beside this test bundle by `swift build`).
enum CLI {
  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  static var binary: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("discipline")
  }

  /// Runs the binary to completion. Output goes through files, not pipes, so a chatty command
  /// cannot block on a full pipe while the other stream is being read.
  static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
    let dir = FileManager.default.temporaryDirectory
    let outURL = dir.appendingPathComponent("discipline-out-\(UUID().uuidString)")
    let errURL = dir.appendingPathComponent("discipline-err-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
      try? FileManager.default.removeItem(at: outURL)
      try? FileManager.default.removeItem(at: errURL)
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    let o = (try? Data(contentsOf: outURL)) ?? Data()
    let e = (try? Data(contentsOf: errURL)) ?? Data()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
      stderr: String(decoding: e, as: UTF8.self))
  }

  /// Runs `script` with /bin/sh, killed after `timeout` seconds (status 137 then).
  static func shell(_ script: String, timeout: Double) throws -> Result {
    let dir = FileManager.default.temporaryDirectory
    let errURL = dir.appendingPathComponent("discipline-err-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errURL) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(50_000) }
    if process.isRunning {
      process.terminate()
      kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    let e = (try? Data(contentsOf: errURL)) ?? Data()
    return Result(
      status: process.terminationStatus, stdout: "", stderr: String(decoding: e, as: UTF8.self))
  }

  static func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "discipline-cli-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
  }

  /// A JSON object from a file or a line of text.
  static func json(_ data: Data) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
  }
}
