import Foundation
import Testing

@testable import Datasets

/// The real Fashion-MNIST from Debian's dataset-fashion-mnist package, when installed.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist")))
struct FashionMNISTTests {
  @Test func loadsSixtyThousandAndTenThousandImages() throws {
    let clock = ContinuousClock()
    var raw: DataSplits?
    let loading = try clock.measure { raw = try DatasetSpec(parsing: "fashion-mnist").load() }
    let splits = try #require(raw)
    var prepared: DataSplits?
    let preparing = try clock.measure {
      prepared = try splits.prepared(validationFraction: 0.1, seed: 0)
    }
    print("Fashion-MNIST: load \(loading), validation split and normalization \(preparing)")

    #expect(splits.train.count == 60_000)
    #expect(splits.test.count == 10_000)
    #expect(splits.train.sampleShape == [1, 28, 28])
    #expect(splits.train.classNames == DatasetSpec.fashionMNISTClassNames)
    #expect(splits.train.classCounts() == [Int](repeating: 6000, count: 10))
    #expect(splits.test.classCounts() == [Int](repeating: 1000, count: 10))
    #expect(splits.train.labels.first == 9)  // the first training image is an ankle boot
    #expect(splits.train.features.allSatisfy { $0 >= 0 && $0 <= 1 })

    // The widely quoted statistics of the 60 000 training images: mean 0.2860, std 0.3530.
    let whole = Normalization.scalar(of: splits.train)
    #expect(abs(whole.mean[0] - 0.2860) < 5e-4)
    #expect(abs(whole.standardDeviation[0] - 0.3530) < 5e-4)

    let ready = try #require(prepared)
    #expect(ready.train.count == 54_000)
    #expect(ready.validation?.classCounts() == [Int](repeating: 600, count: 10))
    #expect(ready.normalization?.isScalar == true)
    #expect(loading < .seconds(30))  // debug builds; release measures well under 2 s
  }
}
