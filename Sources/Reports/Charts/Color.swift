/// An sRGB colour with 8-bit channels, written as `#rrggbb` in SVG and HTML.
///
/// ```swift
/// Color(hex: "#0072B2")?.hex  // "#0072b2"
/// ```
public struct Color: Sendable, Hashable, CustomStringConvertible {
  public var red: UInt8
  public var green: UInt8
  public var blue: UInt8

  public init(red: UInt8, green: UInt8, blue: UInt8) {
    self.red = red
    self.green = green
    self.blue = blue
  }

  /// Parses `#rrggbb`, `rrggbb`, `#rgb` or `rgb` (any case); `nil` for anything else.
  public init?(hex: String) {
    var digits = Substring(hex)
    if digits.hasPrefix("#") { digits = digits.dropFirst() }
    if digits.count == 3 { digits = Substring(digits.map { "\($0)\($0)" }.joined()) }
    guard digits.count == 6, let value = UInt32(digits, radix: 16) else { return nil }
    self.init(
      red: UInt8((value >> 16) & 0xFF), green: UInt8((value >> 8) & 0xFF),
      blue: UInt8(value & 0xFF))
  }

  /// `#rrggbb` in lower case.
  public var hex: String {
    "#"
      + [red, green, blue].map { channel in
        let text = String(channel, radix: 16)
        return channel < 16 ? "0" + text : text
      }.joined()
  }

  public var description: String { hex }

  /// The ANSI escape that sets this colour as the 24-bit foreground colour.
  var ansiForeground: String { "\u{1B}[38;2;\(red);\(green);\(blue)m" }
}

/// An ordered list of series colours; charts hand them out in order, wrapping around.
///
/// The default, ``okabeIto``, is the colour-blind-safe set of Okabe and Ito (2002), ordered so
/// that the first colours contrast best on white and yellow, the weakest on white, comes last.
public struct Palette: Sendable, Hashable {
  public var colors: [Color]

  /// - Precondition: `colors` is not empty.
  public init(colors: [Color]) {
    precondition(!colors.isEmpty, "a palette needs at least one colour")
    self.colors = colors
  }

  /// The colour for the `index`-th series, wrapping around the palette.
  public subscript(index: Int) -> Color {
    let count = colors.count
    return colors[((index % count) + count) % count]
  }

  public static let black = Color(red: 0x00, green: 0x00, blue: 0x00)
  public static let orange = Color(red: 0xE6, green: 0x9F, blue: 0x00)
  public static let skyBlue = Color(red: 0x56, green: 0xB4, blue: 0xE9)
  public static let bluishGreen = Color(red: 0x00, green: 0x9E, blue: 0x73)
  public static let yellow = Color(red: 0xF0, green: 0xE4, blue: 0x42)
  public static let blue = Color(red: 0x00, green: 0x72, blue: 0xB2)
  public static let vermillion = Color(red: 0xD5, green: 0x5E, blue: 0x00)
  public static let reddishPurple = Color(red: 0xCC, green: 0x79, blue: 0xA7)
  /// A neutral dark grey for reference lines and annotations (not an Okabe–Ito colour).
  public static let grey = Color(red: 0x55, green: 0x55, blue: 0x55)

  /// Okabe–Ito: blue, vermillion, bluish green, orange, reddish purple, sky blue, black, yellow.
  public static let okabeIto = Palette(colors: [
    blue, vermillion, bluishGreen, orange, reddishPurple, skyBlue, black, yellow,
  ])
}
