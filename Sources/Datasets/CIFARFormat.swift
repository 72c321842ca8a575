import Foundation

/// The binary versions of CIFAR-10 and CIFAR-100 (https://www.cs.toronto.edu/~kriz/cifar.html):
/// fixed-size records of label byte(s) followed by 3072 pixel bytes, 32×32 red, then green,
/// then blue (already C × H × W).
enum CIFARFormat {
  static let imageBytes = 3 * 32 * 32

  /// The class names of CIFAR-10, by label.
  static let cifar10ClassNames = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
  ]

  /// Loads `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin` from `directory`.
  static func loadCIFAR10(_ directory: String) throws(DataError) -> DataSplits {
    try FileBytes.requireDirectory(directory)
    var trainPaths: [String] = []
    for k in 1...5 {
      trainPaths.append(try FileBytes.locate(["data_batch_\(k).bin"], in: directory))
    }
    let testPath = try FileBytes.locate(["test_batch.bin"], in: directory)
    let train = try load(trainPaths, labelBytes: 1, labelIndex: 0, classNames: cifar10ClassNames)
    let test = try load([testPath], labelBytes: 1, labelIndex: 0, classNames: cifar10ClassNames)
    return DataSplits(train: train, test: test)
  }

  /// Loads `train.bin` and `test.bin` of CIFAR-100 with the 100 fine labels (the second label
  /// byte of each record); class names come from `fine_label_names.txt` when it is there.
  static func loadCIFAR100(_ directory: String) throws(DataError) -> DataSplits {
    try FileBytes.requireDirectory(directory)
    let trainPath = try FileBytes.locate(["train.bin"], in: directory)
    let testPath = try FileBytes.locate(["test.bin"], in: directory)
    var names = (0..<100).map { "class \($0)" }
    let namesPath = (directory as NSString).appendingPathComponent("fine_label_names.txt")
    if let text = try? String(contentsOfFile: namesPath, encoding: .utf8) {
      let lines = text.split(whereSeparator: \.isNewline).map {
        $0.trimmingCharacters(in: .whitespaces)
      }.filter { !$0.isEmpty }
      if lines.count == 100 { names = lines }
    }
    let train = try load([trainPath], labelBytes: 2, labelIndex: 1, classNames: names)
    let test = try load([testPath], labelBytes: 2, labelIndex: 1, classNames: names)
    return DataSplits(train: train, test: test)
  }

  /// Reads the records of every file in `paths`, one after another. Every file is checked
  /// (whole records, labels in range) before the features are converted into one array.
  static func load(_ paths: [String], labelBytes: Int, labelIndex: Int, classNames: [String])
    throws(DataError) -> LabeledData
  {
    let recordSize = labelBytes + imageBytes
    var files: [(bytes: Data, records: Int)] = []
    var labels: [Int32] = []
    for path in paths {
      let bytes = try FileBytes.read(path)
      let whole = bytes.count / recordSize
      if bytes.count % recordSize != 0 {
        throw .truncatedFile(
          path: path, expectedBytes: (whole + 1) * recordSize, actualBytes: bytes.count,
          what: "record \(whole + 1) (records are \(recordSize) bytes)")
      }
      labels += try ByteConversion.labels(
        bytes, from: labelIndex, count: whole, stride: recordSize,
        classCount: classNames.count, path: path)
      files.append((bytes, whole))
    }
    let total = labels.count * imageBytes
    let features = [Float](unsafeUninitializedCapacity: total) { buffer, initialized in
      var to = buffer.baseAddress!
      for (bytes, records) in files {
        bytes.withUnsafeBytes { raw in
          let source = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
          for record in 0..<records {
            let from = source + record * recordSize + labelBytes
            for i in 0..<imageBytes { to[i] = Float(from[i]) / 255 }
            to += imageBytes
          }
        }
      }
      initialized = total
    }
    return LabeledData(
      uncheckedFeatures: features, labels: labels, sampleShape: [3, 32, 32],
      classNames: classNames)
  }
}
