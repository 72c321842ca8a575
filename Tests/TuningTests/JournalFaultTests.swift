import Foundation
import Testing
@testable import Tuning

/// Issue 28: a journal line cut short by SIGKILL or a full disk.
@Suite struct JournalFaultTests {
  func entry(_ key: String) -> JournalEntry {
    JournalEntry(key: key, phase: .learningRate, label: key, seconds: 1)
  }

  @Test func aTornLastLineIsCutOffSoEveryLaterResumeReadsTheJournal() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    defer { try? FileManager.default.removeItem(at: url) }
    let settings = ["test": "1"]
    let first = try Journal(url: url, settings: settings, resume: false)
    try first.append(entry("a"))
    try first.append(entry("b"))
    // Killed in the middle of writing the third entry.
    let handle = try FileHandle(forWritingTo: url)
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(#"{"finished":"2026-12-06T07:00:00Z","key":"c","lab"#.utf8))
    try handle.close()
    let second = try Journal(url: url, settings: settings, resume: true)
    #expect(second.entries.map(\.key) == ["a", "b"])
    try second.append(entry("d"))
    // Killed again, then resumed again: the fragment is gone, nothing finished is lost.
    let third = try Journal(url: url, settings: settings, resume: true)
    #expect(third.entries.map(\.key) == ["a", "b", "d"])
    let text = try String(contentsOf: url, encoding: .utf8)
    #expect(!text.contains(#""key":"c""#) && text.hasSuffix("\n"))
  }

  @Test func aWholeEntryThatLostOnlyItsNewlineIsKept() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "journal-\(UUID().uuidString).jsonl")
    defer { try? FileManager.default.removeItem(at: url) }
    let first = try Journal(url: url, settings: [:], resume: false)
    try first.append(entry("a"))
    var data = try Data(contentsOf: url)
    data.removeLast()  // the newline
    try data.write(to: url)
    let second = try Journal(url: url, settings: [:], resume: true)
    try second.append(entry("b"))
    #expect(try Journal(url: url, settings: [:], resume: true).entries.map(\.key) == ["a", "b"])
  }
}
