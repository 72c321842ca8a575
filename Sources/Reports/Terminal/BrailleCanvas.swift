/// A grid of terminal cells, each a 2 × 4 block of braille dots (U+2800…U+28FF).
///
/// Dot coordinates run from (0, 0) at the top left to (2·width − 1, 4·height − 1).
struct BrailleCanvas: Sendable {
  let width: Int
  let height: Int
  private(set) var bits: [UInt8]
  /// Which series last lit a dot in each cell (−1: none), for colouring.
  private(set) var owners: [Int]

  init(width: Int, height: Int) {
    precondition(width > 0 && height > 0, "canvas needs positive size, got \(width)×\(height)")
    self.width = width
    self.height = height
    bits = Array(repeating: 0, count: width * height)
    owners = Array(repeating: -1, count: width * height)
  }

  var dotWidth: Int { width * 2 }
  var dotHeight: Int { height * 4 }

  /// The bit of dot (`column`, `row`) inside its cell, in Unicode's braille numbering:
  /// dots 1-2-3-7 down the left, 4-5-6-8 down the right.
  static func bit(column: Int, row: Int) -> UInt8 {
    let left: [UInt8] = [0x01, 0x02, 0x04, 0x40]
    let right: [UInt8] = [0x08, 0x10, 0x20, 0x80]
    return column == 0 ? left[row] : right[row]
  }

  /// Lights one dot; dots outside the canvas are ignored.
  mutating func set(x: Int, y: Int, owner: Int = 0) {
    guard x >= 0, y >= 0, x < dotWidth, y < dotHeight else { return }
    let index = (y / 4) * width + x / 2
    bits[index] |= Self.bit(column: x % 2, row: y % 4)
    owners[index] = owner
  }

  /// Lights the dots of the straight line from `a` to `b` (dot coordinates, rounded).
  mutating func line(from a: Point, to b: Point, owner: Int = 0) {
    let steps = Int(max(abs(b.x - a.x), abs(b.y - a.y)).rounded(.up))
    guard steps > 0 else {
      set(x: Int(a.x.rounded()), y: Int(a.y.rounded()), owner: owner)
      return
    }
    for step in 0...steps {
      let t = Double(step) / Double(steps)
      set(
        x: Int((a.x + (b.x - a.x) * t).rounded()), y: Int((a.y + (b.y - a.y) * t).rounded()),
        owner: owner)
    }
  }

  func bits(column: Int, row: Int) -> UInt8 { bits[row * width + column] }
  func owner(column: Int, row: Int) -> Int { owners[row * width + column] }

  /// The braille character of a cell, or `nil` for a cell with no dots lit.
  func character(column: Int, row: Int) -> Character? {
    let value = bits(column: column, row: row)
    guard value != 0 else { return nil }
    return Character(Unicode.Scalar(0x2800 + UInt32(value))!)
  }
}
