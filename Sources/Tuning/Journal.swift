import Foundation
import RangeTests
import TrialProtocol

/// One finished piece of tuning work, as one line of the journal.
public struct JournalEntry: Codable, Sendable, Equatable {
  /// Identifies the work within a tuning run ("batch-size/trial/256"); a resumed run looks it up.
  public var key: String
  public var phase: Phase
  /// What a person reads: "batch 256", "momentum 0.97".
  public var label: String
  public var rangeTest: RangeTestComparison?
  public var trial: TrialSettings?
  public var result: TrialResult?
  public var seconds: Double
  /// When it finished.
  public var finished: Date
  /// What the program that ran it said about itself (nil for in-process work of old journals).
  public var program: ProgramFacts?
  /// Where its runs ran (host names) and on what kind of machine, where a runner said: trials
  /// compared by equal wall time need equal machines.
  public var nodes: [String]?
  public var machines: [String]?
  /// The key of the trial this one repeats under another seed, to measure the noise.
  public var repeatOf: String?

  public init(
    key: String, phase: Phase, label: String, rangeTest: RangeTestComparison? = nil,
    trial: TrialSettings? = nil,
    result: TrialResult? = nil, seconds: Double, finished: Date = Date()
  ) {
    self.key = key
    self.phase = phase
    self.label = label
    self.rangeTest = rangeTest
    self.trial = trial
    self.result = result
    self.seconds = seconds
    self.finished = finished
  }
}

/// Why a journal cannot be used.
public struct JournalError: Error, CustomStringConvertible {
  public var description: String
}

/// `journal.jsonl`: a header line with the run's settings, then one line per finished trial or
/// range test, appended (and flushed) as soon as it finishes, so that a killed run loses only
/// the work in progress. Lines already written are never rewritten.
public final class Journal {
  public let url: URL
  public let settings: [String: String]
  public private(set) var entries: [JournalEntry] = []
  private var byKey: [String: Int] = [:]

  struct Header: Codable {
    var journal: String
    var version: Int
    var settings: [String: String]
  }

  static let encoder: JSONEncoder = {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    e.dateEncodingStrategy = .iso8601
    return e
  }()
  static let decoder: JSONDecoder = {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    d.dateDecodingStrategy = .iso8601
    return d
  }()

  /// Starts a new journal (replacing any file there), or with `resume` reads an existing one and
  /// checks that it was written with the same settings.
  public init(url: URL, settings: [String: String], resume: Bool) throws(JournalError) {
    self.url = url
    self.settings = settings
    if resume {
      guard let data = FileManager.default.contents(atPath: url.path) else {
        throw JournalError(
          description:
            "nothing to resume: \(url.path) does not exist (run without --resume to start)")
      }
      let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      guard let first = lines.first,
        let header = try? Self.decoder.decode(Header.self, from: Data(first)),
        header.journal == "discipline tune"
      else {
        throw JournalError(description: "\(url.path), line 1: not a discipline tune journal")
      }
      let changed = Set(header.settings.keys).union(settings.keys).sorted().filter {
        header.settings[$0] != settings[$0]
      }
      if let key = changed.first {
        throw JournalError(
          description:
            "\(url.path) was written with different settings: \(key) was \(header.settings[key] ?? "unset"), now \(settings[key] ?? "unset"); resume with the same options, or start afresh without --resume"
        )
      }
      var tornAt: Int?
      var offset = lines[0].count + 1
      for (i, line) in lines.enumerated().dropFirst() {
        defer { offset += line.count + 1 }
        if line.isEmpty { continue }
        do {
          let entry = try Self.decoder.decode(JournalEntry.self, from: Data(line))
          byKey[entry.key] = entries.count
          entries.append(entry)
        } catch {
          // A line cut short by a kill or a full disk is the last one, without its newline;
          // anything else is damage worth naming.
          if i == lines.count - 1 {
            tornAt = offset
            break
          }
          throw JournalError(
            description: "\(url.path), line \(i + 1): unreadable journal entry (\(error))")
        }
      }
      if let tornAt {
        // The torn tail is cut off before anything is appended, so it never ends up inside
        // the file, where the next resume would stop at it.
        try truncate(to: tornAt)
      } else if let last = data.last, last != UInt8(ascii: "\n") {
        try append(raw: Data("\n".utf8))  // a whole entry that lost only its newline
      }
    } else {
      let header = Header(journal: "discipline tune", version: 1, settings: settings)
      var data = (try? Self.encoder.encode(header)) ?? Data()
      data.append(UInt8(ascii: "\n"))
      do { try data.write(to: url, options: .atomic) } catch {
        throw JournalError(description: "cannot write \(url.path): \(error.localizedDescription)")
      }
    }
  }

  public func entry(_ key: String) -> JournalEntry? { byKey[key].map { entries[$0] } }

  /// Appends an entry as one line and flushes it to disk.
  public func append(_ entry: JournalEntry) throws(JournalError) {
    var data: Data
    do { data = try Self.encoder.encode(entry) } catch {
      throw JournalError(description: "cannot encode journal entry \(entry.key): \(error)")
    }
    data.append(UInt8(ascii: "\n"))
    try append(raw: data)
    byKey[entry.key] = entries.count
    entries.append(entry)
  }

  private func truncate(to length: Int) throws(JournalError) {
    do {
      let handle = try FileHandle(forWritingTo: url)
      defer { try? handle.close() }
      try handle.truncate(atOffset: UInt64(length))
      try handle.synchronize()
    } catch {
      throw JournalError(
        description:
          "cannot repair the torn last line of \(url.path): \(error.localizedDescription)")
    }
  }

  private func append(raw data: Data) throws(JournalError) {
    do {
      let handle = try FileHandle(forWritingTo: url)
      defer { try? handle.close() }
      try handle.seekToEnd()
      try handle.write(contentsOf: data)
      try handle.synchronize()
    } catch {
      throw JournalError(description: "cannot append to \(url.path): \(error.localizedDescription)")
    }
  }
}
