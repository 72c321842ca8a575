import Foundation
import Testing

/// The examples each command's --help shows are what a user types first: every option they
/// use must be one the command has, and every option its usage line requires must be there.
/// (`discipline schedule`'s cyclic example lacked --total-steps and failed as typed.)
struct HelpExampleTests {
  static let commands = [
    "tune", "study", "lr-find", "fit", "trial", "eval", "bench", "schedule",
  ]

  /// The example command lines of a help text: those after "Examples:" that start with
  /// `discipline`, a line ending in a backslash joined with the next.
  static func examples(in help: String) -> [String] {
    var result: [String] = []
    var current: String?
    var inExamples = false
    for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
      let text = line.trimmingCharacters(in: .whitespaces)
      if text.hasSuffix("Examples:") {
        inExamples = true
        continue
      }
      guard inExamples else { continue }
      if var open = current {
        open += " " + text
        if text.hasSuffix("\\") {
          current = String(open.dropLast())
        } else {
          result.append(open)
          current = nil
        }
        continue
      }
      if text.hasPrefix("discipline ") {
        if text.hasSuffix("\\") { current = String(text.dropLast()) } else { result.append(text) }
      } else if text.isEmpty && !result.isEmpty {
        inExamples = false
      }
    }
    return result
  }

  /// The options a command line uses (`--name`, without a value given with `=`), quoted
  /// arguments left out.
  static func options(of line: String) -> Set<String> {
    let unquoted = line.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
      .filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: " ")
    return Set(
      unquoted.split(whereSeparator: \.isWhitespace).filter { $0.hasPrefix("--") }.map {
        String($0.split(separator: "=").first!)
      })
  }

  /// The options the usage line requires: those outside square brackets.
  static func required(in help: String) -> Set<String> {
    guard let start = help.range(of: "USAGE:") else { return [] }
    let usage = help[start.upperBound...].prefix { $0 != "\n" }
    var depth = 0
    var outside = ""
    for c in usage {
      if c == "[" {
        depth += 1
      } else if c == "]" {
        depth -= 1
      } else if depth == 0 {
        outside.append(c)
      }
    }
    return options(of: outside)
  }

  @Test(arguments: commands)
  func everyHelpExampleUsesTheCommandsOptionsAndTheRequiredOnes(command: String) throws {
    let help = try CLI.run([command, "--help"])
    #expect(help.status == 0, "\(help.stderr)")
    let text = help.stdout + help.stderr
    let examples = Self.examples(in: text)
    #expect(!examples.isEmpty, "discipline \(command) --help shows no example")
    let required = Self.required(in: text)
    for example in examples {
      let used = Self.options(of: example)
      for option in used {
        #expect(
          text.contains(option + " ") || text.contains(option + ",")
            || text.contains(option + "\n") || text.contains(option + "="),
          "\(example): \(option) is not an option of discipline \(command)")
      }
      #expect(
        required.isSubset(of: used),
        "\(example): lacks \(required.subtracting(used).sorted()), which discipline \(command) requires"
      )
    }
  }

  /// The check finds what it is for: an example without a required option.
  @Test func aMissingRequiredOptionIsFound() {
    let help = """
      USAGE: discipline schedule [<options>] <policy> --total-steps <total-steps>

        Examples:
          discipline schedule cyclic --base-lr 0.08 --max-lr 0.8 \\
            --step-size-up 200
          discipline schedule step --lr 0.1 --total-steps 90

      OPTIONS:
      """
    let examples = Self.examples(in: help)
    #expect(examples.count == 2)
    #expect(Self.required(in: help) == ["--total-steps"])
    #expect(!Self.required(in: help).isSubset(of: Self.options(of: examples[0])))
    #expect(Self.required(in: help).isSubset(of: Self.options(of: examples[1])))
  }
}
