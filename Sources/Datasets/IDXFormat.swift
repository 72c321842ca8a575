import Foundation

/// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a magic
/// number `00 00 08 D` (unsigned bytes, `D` dimensions), `D` big-endian 32-bit sizes, then the
/// bytes in row-major order.
enum IDXFormat {
  /// The sizes an IDX file of unsigned bytes declares, and where its values start.
  struct Header: Equatable {
    var dimensions: [Int]
    var payloadOffset: Int
    var payloadCount: Int { dimensions.reduce(1, *) }
  }

  /// Checks `bytes` as an IDX file of unsigned bytes with `dimensionCount` dimensions: the magic
  /// number, non-zero sizes, and a length that is exactly header plus payload.
  static func header(of bytes: Data, path: String, dimensionCount: Int) throws(DataError)
    -> Header
  {
    let expectedMagic = UInt32(0x0800 | dimensionCount)
    let meaning =
      "an IDX file of unsigned bytes with \(dimensionCount) "
      + (dimensionCount == 1 ? "dimension" : "dimensions")
    guard bytes.count >= 4 else {
      throw .truncatedFile(
        path: path, expectedBytes: 4, actualBytes: bytes.count, what: "the magic number")
    }
    let magic = readBigEndian(bytes, at: 0)
    guard magic == expectedMagic else {
      throw .badMagicNumber(path: path, found: magic, expected: expectedMagic, meaning: meaning)
    }
    let headerSize = 4 + 4 * dimensionCount
    guard bytes.count >= headerSize else {
      throw .truncatedFile(
        path: path, expectedBytes: headerSize, actualBytes: bytes.count,
        what: "the header of \(dimensionCount) sizes")
    }
    var dimensions: [Int] = []
    var payload = 1
    for d in 0..<dimensionCount {
      let size = Int(readBigEndian(bytes, at: 4 + 4 * d))
      guard size > 0 else {
        throw .badHeader(path: path, offset: 4 + 4 * d, reason: "dimension \(d) has size 0")
      }
      let (product, overflow) = payload.multipliedReportingOverflow(by: size)
      guard !overflow, product <= Int(Int32.max) * 16 else {
        throw .badHeader(
          path: path, offset: 4 + 4 * d, reason: "the declared sizes are implausibly large")
      }
      payload = product
      dimensions.append(size)
    }
    let expected = headerSize + payload
    if bytes.count < expected {
      let what =
        "the header's " + dimensions.map(String.init).joined(separator: "×") + " values"
      throw .truncatedFile(
        path: path, expectedBytes: expected, actualBytes: bytes.count, what: what)
    }
    if bytes.count > expected {
      throw .trailingBytes(path: path, offset: expected, count: bytes.count - expected)
    }
    return Header(dimensions: dimensions, payloadOffset: headerSize)
  }

  /// Reads an images file and a labels file of one split into samples of shape [1, H, W],
  /// pixels scaled to [0, 1] as `byte / 255`.
  static func load(imagesPath: String, labelsPath: String, classNames: [String])
    throws(DataError) -> LabeledData
  {
    let imageBytes = try FileBytes.read(imagesPath)
    let images = try header(of: imageBytes, path: imagesPath, dimensionCount: 3)
    let labelBytes = try FileBytes.read(labelsPath)
    let labels = try header(of: labelBytes, path: labelsPath, dimensionCount: 1)
    let count = images.dimensions[0]
    guard labels.dimensions[0] == count else {
      throw .countMismatch(
        imagesPath: imagesPath, imageCount: count, labelsPath: labelsPath,
        labelCount: labels.dimensions[0])
    }
    let labelValues = try ByteConversion.labels(
      labelBytes, from: labels.payloadOffset, count: count, stride: 1,
      classCount: classNames.count, path: labelsPath)
    let features = ByteConversion.unitFloats(
      imageBytes, from: images.payloadOffset, count: images.payloadCount)
    return LabeledData(
      uncheckedFeatures: features, labels: labelValues,
      sampleShape: [1, images.dimensions[1], images.dimensions[2]], classNames: classNames)
  }

  /// Loads the four files of an MNIST-style folder (`train-…` and `t10k-…`).
  static func loadFolder(_ directory: String, classNames: [String]) throws(DataError)
    -> DataSplits
  {
    func locate(_ stem: String) throws(DataError) -> String {
      // The canonical names, and the dotted variant some mirrors use.
      let dotted = stem.replacingOccurrences(of: "-idx", with: ".idx")
      return try FileBytes.locate([stem, dotted], in: directory)
    }
    let train = try load(
      imagesPath: try locate("train-images-idx3-ubyte"),
      labelsPath: try locate("train-labels-idx1-ubyte"), classNames: classNames)
    let testImages = try locate("t10k-images-idx3-ubyte")
    let test = try load(
      imagesPath: testImages, labelsPath: try locate("t10k-labels-idx1-ubyte"),
      classNames: classNames)
    guard test.sampleShape == train.sampleShape else {
      throw .shapeMismatch(path: testImages, expected: train.sampleShape, found: test.sampleShape)
    }
    return DataSplits(train: train, test: test)
  }

  private static func readBigEndian(_ bytes: Data, at offset: Int) -> UInt32 {
    let i = bytes.startIndex + offset
    return UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8
      | UInt32(bytes[i + 3])
  }
}

/// Tight loops from raw bytes to the arrays `LabeledData` holds.
enum ByteConversion {
  /// `count` bytes from `offset` as floats `byte / 255` (what PyTorch's `ToTensor` computes).
  static func unitFloats(_ bytes: Data, from offset: Int, count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      bytes.withUnsafeBytes { raw in
        let source = raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset
        let destination = buffer.baseAddress!
        for i in 0..<count { destination[i] = Float(source[i]) / 255 }
      }
      initialized = count
    }
  }

  /// `count` label bytes, `stride` apart from `offset`, each checked against `classCount`.
  static func labels(
    _ bytes: Data, from offset: Int, count: Int, stride: Int, classCount: Int, path: String
  ) throws(DataError) -> [Int32] {
    var result = [Int32](repeating: 0, count: count)
    let bad: (offset: Int, label: Int)? = bytes.withUnsafeBytes { raw in
      let source = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
      return result.withUnsafeMutableBufferPointer { destination in
        for i in 0..<count {
          let at = offset + i * stride
          let label = Int(source[at])
          if label >= classCount { return (at, label) }
          destination[i] = Int32(label)
        }
        return nil
      }
    }
    if let bad {
      throw .labelOutOfRange(
        path: path, offset: bad.offset, label: bad.label, classCount: classCount)
    }
    return result
  }
}
