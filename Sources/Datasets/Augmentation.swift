import Randomness

/// Random changes applied to each training sample as its batch is assembled.
public enum Augmentation: Sendable, Equatable {
  /// Samples as they are.
  case none
  /// Pad each side of every channel by `padding` pixels with `fill` (one value, or one per
  /// channel), crop a random H × W window, then mirror it left–right with probability 0.5:
  /// torchvision's `RandomCrop(size, padding)` followed by `RandomHorizontalFlip()`. With a
  /// padding of 0 only the flip remains.
  case cropFlip(padding: Int, fill: [Float])

  /// The names `named(_:…)` understands.
  public static let names = ["none", "flip", "crop-flip"]

  /// The augmentation called `name` (`"none"`, `"flip"` or `"crop-flip"`) for samples of
  /// `sampleShape` normalized with `normalization`: crop-flip pads by 4 with the value a raw 0
  /// becomes, so padding after normalizing equals padding before; flip mirrors only.
  ///
  /// - Throws: `DataError.invalidOption` for an unknown name, or crop-flip on samples with no
  ///   spatial extent (tabular data).
  public static func named(
    _ name: String, sampleShape: [Int], normalization: Normalization?
  ) throws(DataError) -> Augmentation {
    switch name.lowercased() {
    case "none", "": return .none
    case "crop-flip", "cropflip", "crop_flip", "flip":
      guard sampleShape.count == 3, sampleShape[1] > 1 && sampleShape[2] > 1 else {
        throw .invalidOption(
          name: "augmentation", value: name,
          reason: "\(name.lowercased()) needs images, but samples have shape \(sampleShape)")
      }
      let channels = sampleShape[0]
      let fill = (0..<channels).map { normalization?.normalizedValue(of: 0, channel: $0) ?? 0 }
      return .cropFlip(padding: name.lowercased() == "flip" ? 0 : 4, fill: fill)
    default:
      throw .invalidOption(
        name: "augmentation", value: name,
        reason: "expected one of " + names.joined(separator: ", "))
    }
  }

  /// Augments `count` samples of `shape` [C, H, W] stored one after another in `samples`.
  /// Draws, per sample in order: the crop's row offset, its column offset, the flip.
  func apply(
    to samples: inout [Float], count: Int, shape: [Int], using generator: inout SeededGenerator
  ) {
    guard case .cropFlip(let padding, let fill) = self else { return }
    let channels = shape[0]
    let height = shape[1]
    let width = shape[2]
    let size = channels * height * width
    var original = [Float](repeating: 0, count: size)
    samples.withUnsafeMutableBufferPointer { all in
      original.withUnsafeMutableBufferPointer { copy in
        let source = copy.baseAddress!
        for sample in 0..<count {
          let top = generator.index(below: 2 * padding + 1) - padding
          let left = generator.index(below: 2 * padding + 1) - padding
          let flip = generator.nextUnitFloat() < 0.5
          let target = all.baseAddress! + sample * size
          source.update(from: target, count: size)
          for c in 0..<channels {
            let value = fill.count == 1 ? fill[0] : fill[c]
            for y in 0..<height {
              let row = target + (c * height + y) * width
              let sy = y + top
              guard sy >= 0 && sy < height else {
                row.update(repeating: value, count: width)
                continue
              }
              let sourceRow = source + (c * height + sy) * width
              for x in 0..<width {
                let sx = (flip ? width - 1 - x : x) + left
                row[x] = sx >= 0 && sx < width ? sourceRow[sx] : value
              }
            }
          }
        }
      }
    }
  }
}
