import CNative
import Foundation

/// The oneDNN engine, stream and primitive cache the tensor operations run on.
///
/// oneDNN primitives are expensive to create and cheap to run, so each operation builds its
/// primitives once per shape (keyed by a string that names the operation and every shape and
/// parameter) and keeps them here for the life of the process. Training is single-threaded
/// from Swift's point of view: oneDNN parallelizes inside each primitive with OpenMP.
public enum DNNL {
  nonisolated(unsafe) static let engine: dnnl_engine_t = {
    tuneAllocator()
    var engine: dnnl_engine_t?
    check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
    return engine!
  }()

  nonisolated(unsafe) static let stream: dnnl_stream_t = {
    var stream: dnnl_stream_t?
    check(
      dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
    return stream!
  }()

  nonisolated(unsafe) static var cache: [String: AnyObject] = [:]

  /// Guards the cache, the kernels' lazily made primitives and the one stream, so that
  /// several threads (parallel tests, a library user's own threads) can use the engine.
  static let lock = NSRecursiveLock()

  /// The cached value for `key`, created by `make` the first time.
  static func cached<T: AnyObject>(_ key: String, _ make: () -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    if let hit = cache[key] { return unsafeDowncast(hit, to: T.self) }
    let value = make()
    cache[key] = value
    return value
  }

  /// Runs `body` holding the engine's lock.
  static func locked<T>(_ body: () -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body()
  }

  /// Stops on a oneDNN error: every call's arguments come from the engine itself, so a failure
  /// is a programming error, reported with the step that failed.
  @inline(__always)
  static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN failed \(what()): status \(status.rawValue)")
  }

  /// Keeps large tensors on the heap instead of fresh `mmap`s, so a training step does not
  /// pay page faults for every activation it allocates (glibc's defaults return big blocks
  /// to the system at each free).
  static func tuneAllocator() {
    mallopt(M_MMAP_THRESHOLD, 1 << 30)
    mallopt(M_TRIM_THRESHOLD, 1 << 30)
    mallopt(M_ARENA_MAX, 2)
  }

  /// Sets the number of threads oneDNN's OpenMP runtime uses (it starts with one per core).
  /// On a machine shared with other busy processes, fewer threads can be much faster: OpenMP's
  /// barriers wait for every thread, and a thread without a core stalls them all.
  public static func setThreadCount(_ count: Int) {
    _ = engine
    typealias Setter = @convention(c) (Int32) -> Void
    guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "omp_set_num_threads")
    else { return }
    unsafeBitCast(symbol, to: Setter.self)(Int32(max(1, count)))
  }

  /// The number of threads oneDNN's OpenMP runtime uses.
  /// (Looked up at run time in the OpenMP library oneDNN loaded.)
  public static var threadCount: Int {
    _ = engine
    typealias Query = @convention(c) () -> Int32
    guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "omp_get_max_threads")
    else { return 1 }
    return Int(unsafeBitCast(symbol, to: Query.self)())
  }
}

/// A memory descriptor: oneDNN's description of how a tensor's elements are laid out.
public struct MemoryDescriptor: @unchecked Sendable {
  var raw: dnnl_memory_desc_t

  init(raw: dnnl_memory_desc_t) { self.raw = raw }

  /// A descriptor for `dims` in the given format (a concrete tag, or `any` to let a primitive
  /// choose).
  init(_ dims: [Int], _ tag: dnnl_format_tag_t) {
    var md = dnnl_memory_desc_t()
    let d = dims.map { Int64($0) }
    DNNL.check(
      dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), d, dnnl_f32, tag),
      "describing memory \(dims)")
    raw = md
  }

  /// The plain row-major (NCHW, NC, X) descriptor for `dims`.
  static func plain(_ dims: [Int]) -> MemoryDescriptor {
    let tags: [dnnl_format_tag_t] = [dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde]
    return MemoryDescriptor(dims, tags[dims.count - 1])
  }

  static func any(_ dims: [Int]) -> MemoryDescriptor { MemoryDescriptor(dims, dnnl_format_tag_any) }

  /// Bytes needed, including the padding of blocked formats.
  var byteCount: Int { withUnsafePointer(to: raw) { dnnl_memory_desc_get_size($0) } }
  var floatCount: Int { byteCount / 4 }

  static func == (a: MemoryDescriptor, b: MemoryDescriptor) -> Bool {
    withUnsafePointer(to: a.raw) { pa in
      withUnsafePointer(to: b.raw) { dnnl_memory_desc_equal(pa, $0) != 0 }
    }
  }

  /// The logical dimensions.
  var dims: [Int] {
    let n = Int(raw.ndims)
    return withUnsafeBytes(of: raw.dims) { $0.bindMemory(to: Int64.self).prefix(n).map { Int($0) } }
  }

  /// Whether this descriptor is the plain row-major layout of its dimensions.
  var isPlain: Bool { self == MemoryDescriptor.plain(dims) }
}

/// A oneDNN primitive with its descriptor, created once and run many times.
final class Primitive {
  let descriptor: dnnl_primitive_desc_t
  let primitive: dnnl_primitive_t

  /// Creates the primitive for an operation descriptor (a pointer to a `dnnl_*_desc_t`).
  init(
    _ opDescriptor: UnsafeRawPointer, attributes: dnnl_primitive_attr_t? = nil,
    hint: Primitive? = nil, what: String
  ) {
    var pd: dnnl_primitive_desc_t?
    DNNL.check(
      dnnl_primitive_desc_create(
        &pd, opDescriptor, attributes, DNNL.engine, hint?.descriptor),
      "creating \(what)")
    descriptor = pd!
    var p: dnnl_primitive_t?
    DNNL.check(dnnl_primitive_create(&p, descriptor), "instantiating \(what)")
    primitive = p!
  }

  /// A reorder from one layout to another.
  init(reorderFrom source: MemoryDescriptor, to destination: MemoryDescriptor) {
    var pd: dnnl_primitive_desc_t?
    var s = source.raw
    var d = destination.raw
    DNNL.check(
      dnnl_reorder_primitive_desc_create(&pd, &s, DNNL.engine, &d, DNNL.engine, nil),
      "creating a reorder")
    descriptor = pd!
    var p: dnnl_primitive_t?
    DNNL.check(dnnl_primitive_create(&p, descriptor), "instantiating a reorder")
    primitive = p!
  }

  /// The memory descriptor the primitive chose for a query (`dnnl_query_src_md`, ...).
  func memoryDescriptor(_ query: dnnl_query_t, _ index: Int32 = 0) -> MemoryDescriptor {
    MemoryDescriptor(raw: dnnl_primitive_desc_query_md(descriptor, query, index).pointee)
  }

  /// Runs the primitive on the given arguments: each a oneDNN argument id, a descriptor and
  /// the storage it describes.
  func execute(_ arguments: [(Int32, MemoryDescriptor, UnsafeMutableRawPointer)]) {
    var args: [dnnl_exec_arg_t] = []
    args.reserveCapacity(arguments.count)
    for (id, md, pointer) in arguments {
      var memory: dnnl_memory_t?
      var raw = md.raw
      DNNL.check(dnnl_memory_create(&memory, &raw, DNNL.engine, pointer), "wrapping memory")
      args.append(dnnl_exec_arg_t(arg: id, memory: memory))
    }
    DNNL.locked {
      DNNL.check(
        dnnl_primitive_execute(primitive, DNNL.stream, Int32(args.count), args),
        "running a primitive")
      DNNL.check(dnnl_stream_wait(DNNL.stream), "waiting for the stream")
    }
    for a in args { dnnl_memory_destroy(a.memory) }
  }
}
