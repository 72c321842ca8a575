import Foundation

/// A block of float32 values, 64-byte aligned for vector loads and oneDNN's kernels.
///
/// Storage is shared between a tensor and its reshaped views, so it is a class; tensors never
/// write into storage they did not create except through the optimizer's in-place updates of
/// parameters.
public final class Storage: @unchecked Sendable {
  public let count: Int
  public let pointer: UnsafeMutablePointer<Float>

  /// Uninitialized storage for `count` floats.
  public init(count: Int) {
    self.count = count
    var raw: UnsafeMutableRawPointer?
    let bytes = max(count, 16) * MemoryLayout<Float>.stride
    let status = posix_memalign(&raw, 64, bytes)
    precondition(status == 0 && raw != nil, "out of memory allocating \(bytes) bytes")
    pointer = raw!.bindMemory(to: Float.self, capacity: max(count, 16))
  }

  /// Zero-filled storage.
  public convenience init(zeros count: Int) {
    self.init(count: count)
    pointer.initialize(repeating: 0, count: count)
  }

  deinit { free(pointer) }

  public var buffer: UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }

  var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(pointer) }

  /// A copy of this storage.
  func copy() -> Storage {
    let s = Storage(count: count)
    s.pointer.update(from: pointer, count: count)
    return s
  }
}
