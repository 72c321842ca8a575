import Foundation

/// Short, human-readable numbers for tick labels, legends, marker labels and tables.
///
/// ```swift
/// NumberFormatting.compact(0.0031622)  // "3.16e-3"
/// NumberFormatting.compact(0.1)        // "0.1"
/// NumberFormatting.compact(12500)      // "12500"
/// NumberFormatting.compact(2.5e6)      // "2.5e6"
/// ```
public enum NumberFormatting {
  /// `value` with at most `significantDigits` significant digits and no trailing zeros: plain
  /// decimals for magnitudes in [0.001, 100000), otherwise `mantissa e exponent` (`3.2e-5`).
  /// Non-finite values come out as `NaN`, `inf` and `-inf`.
  public static func compact(_ value: Double, significantDigits: Int = 3) -> String {
    guard value.isFinite else { return value.isNaN ? "NaN" : (value < 0 ? "-inf" : "inf") }
    if value == 0 { return "0" }
    let digits = max(1, significantDigits)
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e5 {
      let exponent = Int(floor(log10(magnitude)))
      let decimals = max(0, digits - 1 - exponent)
      let text = trimmed(String(format: "%.\(decimals)f", value))
      // Rounding can carry into one more digit (99999.6 → "100000"), which is still fine.
      return text
    }
    return scientific(value, significantDigits: digits)
  }

  /// `value` as `m e k` with `significantDigits` digits in the mantissa, trailing zeros removed:
  /// `1e-7`, `3.2e-4`, `-2.5e6`.
  public static func scientific(_ value: Double, significantDigits: Int = 3) -> String {
    guard value.isFinite else { return compact(value) }
    if value == 0 { return "0" }
    let text = String(format: "%.\(max(0, significantDigits - 1))e", value)
    guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return text }
    let mantissa = trimmed(String(text[..<e]))
    let exponent = Int(text[text.index(after: e)...]) ?? 0
    return "\(mantissa)e\(exponent)"
  }

  /// `value` with exactly `decimals` digits after the point (`-0` printed as `0`).
  static func fixed(_ value: Double, decimals: Int) -> String {
    let text = String(format: "%.\(max(0, decimals))f", value)
    if text.hasPrefix("-"), Double(text) == 0 { return String(text.dropFirst()) }
    return text
  }

  /// Removes trailing zeros after a decimal point, and the point itself if nothing follows.
  static func trimmed(_ text: String) -> String {
    guard text.contains(".") else { return text }
    var result = Substring(text)
    while result.hasSuffix("0") { result = result.dropLast() }
    if result.hasSuffix(".") { result = result.dropLast() }
    if result == "-0" { return "0" }
    return String(result)
  }

  /// Unicode superscript digits and minus for an integer exponent: `-4` → `⁻⁴`.
  static func superscript(_ exponent: Int) -> String {
    let glyphs: [Character: Character] = [
      "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸",
      "9": "⁹", "-": "⁻",
    ]
    return String(String(exponent).map { glyphs[$0] ?? $0 })
  }
}
