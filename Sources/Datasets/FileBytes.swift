import CNative
import Foundation

/// Reading a data file whole, gzip-compressed or raw, with errors that name the file.
enum FileBytes {
  /// The bytes of the file at `path`, inflated when the file starts with the gzip magic
  /// (`1F 8B`), whatever its name.
  static func read(_ path: String) throws(DataError) -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .missingFile(path: path, tried: [path])
    }
    if isDirectory.boolValue {
      throw .unreadableFile(path: path, reason: "it is a folder, not a file")
    }
    // An empty file is reported before reading (Foundation's reader also leaks a page on one).
    if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size == 0
    {
      throw .emptyFile(path: path)
    }
    let contents: Data
    do {
      contents = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
    } catch {
      throw .unreadableFile(path: path, reason: error.localizedDescription)
    }
    if contents.isEmpty { throw .emptyFile(path: path) }
    if contents.count >= 2 && contents[contents.startIndex] == 0x1F
      && contents[contents.startIndex + 1] == 0x8B
    {
      let inflated = try gunzip(contents, path: path)
      if inflated.isEmpty { throw .emptyFile(path: path) }
      return inflated
    }
    return contents
  }

  /// The first existing file among `names` in `directory`, each tried raw and then with
  /// `.gz` appended (a raw file is preferred because it needs no decompression).
  static func locate(_ names: [String], in directory: String) throws(DataError) -> String {
    try requireDirectory(directory)
    var tried: [String] = []
    for name in names {
      for candidate in [name, name + ".gz"] {
        let path = (directory as NSString).appendingPathComponent(candidate)
        tried.append(path)
        if FileManager.default.fileExists(atPath: path) { return path }
      }
    }
    throw .missingFile(path: tried[0], tried: tried)
  }

  /// Throws `missingDirectory` unless `directory` is an existing folder.
  static func requireDirectory(_ directory: String) throws(DataError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      isDirectory.boolValue
    else { throw .missingDirectory(path: directory) }
  }

  /// Inflates every gzip member of `compressed` (as `gzip -d` does for concatenated members),
  /// checking each member's CRC-32 and length; a stream cut short is `truncatedGzip`.
  static func gunzip(_ compressed: Data, path: String) throws(DataError) -> Data {
    let total = compressed.count
    // The last four bytes hold the uncompressed size modulo 2³²: a good first capacity, capped
    // by deflate's best ratio (about 1032:1) so that a damaged trailer cannot ask for gigabytes.
    var hint = 1 << 16
    if total >= 18 {
      let i = compressed.startIndex + total - 4
      let size =
        Int(compressed[i]) | Int(compressed[i + 1]) << 8 | Int(compressed[i + 2]) << 16
        | Int(compressed[i + 3]) << 24
      hint = max(hint, min(size, total * 1032) + 1)
    }
    var capacity = hint
    guard var output = malloc(capacity) else {
      throw .unreadableFile(path: path, reason: "out of memory for \(capacity) bytes")
    }
    var produced = 0
    var failure: DataError?

    compressed.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
      let base = input.bindMemory(to: Bytef.self).baseAddress!
      var stream = z_stream()
      guard
        inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
          == Z_OK
      else {
        failure = .corruptGzip(path: path, offset: 0, reason: "zlib could not start")
        return
      }
      defer { inflateEnd(&stream) }
      var fed = 0  // input bytes handed to zlib so far
      func consumed() -> Int { fed - Int(stream.avail_in) }
      while true {
        if stream.avail_in == 0 && fed < total {
          let chunk = min(total - fed, Int(UInt32.max))
          stream.next_in = UnsafeMutablePointer(mutating: base + fed)
          stream.avail_in = uInt(chunk)
          fed += chunk
        }
        if produced == capacity {
          let grown = capacity * 2
          guard let bigger = realloc(output, grown) else {
            failure = .unreadableFile(path: path, reason: "out of memory for \(grown) bytes")
            return
          }
          output = bigger
          capacity = grown
        }
        let room = min(capacity - produced, Int(UInt32.max))
        stream.next_out = output.assumingMemoryBound(to: Bytef.self) + produced
        stream.avail_out = uInt(room)
        let status = inflate(&stream, Z_NO_FLUSH)
        produced += room - Int(stream.avail_out)
        switch status {
        case Z_OK:
          continue
        case Z_STREAM_END:
          let at = consumed()
          if at == total { return }
          // Another member follows only if it starts with the gzip magic.
          if total - at >= 2 && base[at] == 0x1F && base[at + 1] == 0x8B {
            inflateReset(&stream)
            continue
          }
          failure = .corruptGzip(
            path: path, offset: at,
            reason: "\(total - at) bytes that are not gzip data follow the end of the stream")
          return
        case Z_BUF_ERROR where stream.avail_in == 0 && fed == total:
          failure = .truncatedGzip(path: path, compressedBytes: total)
          return
        case Z_BUF_ERROR:
          continue  // no room was left: the loop grows the buffer
        default:
          let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
          failure = .corruptGzip(path: path, offset: consumed(), reason: message)
          return
        }
      }
    }
    if let failure {
      free(output)
      throw failure
    }
    return Data(bytesNoCopy: output, count: produced, deallocator: .free)
  }

  /// Compresses `bytes` as one gzip member (used to write test fixtures).
  static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
    var stream = z_stream()
    guard
      deflateInit2_(
        &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
        Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { return [] }
    defer { deflateEnd(&stream) }
    let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 64
    var output = [UInt8](repeating: 0, count: bound)
    var input = bytes
    let written = input.withUnsafeMutableBufferPointer { source in
      output.withUnsafeMutableBufferPointer { destination in
        stream.next_in = source.baseAddress
        stream.avail_in = uInt(source.count)
        stream.next_out = destination.baseAddress
        stream.avail_out = uInt(destination.count)
        _ = deflate(&stream, Z_FINISH)
        return destination.count - Int(stream.avail_out)
      }
    }
    return Array(output.prefix(written))
  }
}
