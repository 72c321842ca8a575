import Foundation
import Randomness
import Tensors
import Testing

extension EngineTests {
  /// Programmer errors stop the process with a message that names the offending values
  /// (run as exit tests, each in a child process).
  @Suite(.serialized) struct Preconditions {
    /// Expects the child process's standard error to contain `message`.
    func expectMessage(
      _ result: ExitTest.Result?, _ message: String,
      sourceLocation: SourceLocation = #_sourceLocation
    ) {
      // Optimized builds trap without printing a precondition's message.
      #if DEBUG
        guard let result else { return }  // the exit test itself already failed
        let output = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(
          output.contains(message), "stderr: \(output.prefix(400))",
          sourceLocation: sourceLocation)
      #endif
    }

    @Test func broadcastMismatch() async {
      let result = await #expect(
        processExitsWith: .failure, observing: [\.standardErrorContent]
      ) {
        _ = Tensor(zeros: [2, 3]) + Tensor(zeros: [4])
      }
      expectMessage(result, "cannot broadcast [4] against [2, 3]")
    }

    @Test func convolutionChannelMismatch() async {
      let result = await #expect(
        processExitsWith: .failure, observing: [\.standardErrorContent]
      ) {
        _ = Tensor(zeros: [1, 3, 5, 5]).conv2d(weight: Tensor(zeros: [8, 4, 3, 3]))
      }
      expectMessage(result, "conv2d input [1, 3, 5, 5] does not fit weights [8, 4, 3, 3]")
    }

    @Test func labelOutOfRange() async {
      let result = await #expect(
        processExitsWith: .failure, observing: [\.standardErrorContent]
      ) {
        _ = Tensor(zeros: [2, 3]).crossEntropy(labels: [0, 5])
      }
      expectMessage(result, "label 5 outside 0..<3")
    }

    @Test func backwardOfNonScalar() async {
      let result = await #expect(
        processExitsWith: .failure, observing: [\.standardErrorContent]
      ) {
        let x = Tensor(zeros: [2, 2], requiresGrad: true)
        (x * x).backward()
      }
      expectMessage(result, "backward() needs a scalar; this tensor has shape [2, 2]")
    }

    @Test func dropoutProbabilityOne() async {
      let result = await #expect(
        processExitsWith: .failure, observing: [\.standardErrorContent]
      ) {
        var generator = SeededGenerator(seed: 1)
        _ = Tensor(zeros: [2, 2]).dropout(probability: 1, using: &generator)
      }
      expectMessage(result, "dropout probability 1.0 is outside [0, 1)")
    }

    @Test func matmulShapes() async {
      let result = await #expect(
        processExitsWith: .failure, observing: [\.standardErrorContent]
      ) {
        _ = Tensor(zeros: [2, 3]).matmul(Tensor(zeros: [2, 3]))
      }
      expectMessage(result, "matmul of [2, 3] and [2, 3]")
    }
  }
}
