/// A point in pixel (or braille-dot) coordinates, y growing downwards.
struct Point: Sendable, Hashable {
  var x: Double
  var y: Double

  var isFinite: Bool { x.isFinite && y.isFinite }
}

/// An axis-aligned rectangle in pixel coordinates.
struct Rect: Sendable, Hashable {
  var minX: Double
  var minY: Double
  var maxX: Double
  var maxY: Double

  var width: Double { maxX - minX }
  var height: Double { maxY - minY }

  func contains(_ point: Point, tolerance: Double = 1e-9) -> Bool {
    point.x >= minX - tolerance && point.x <= maxX + tolerance && point.y >= minY - tolerance
      && point.y <= maxY + tolerance
  }
}

enum Geometry {
  /// The part of segment `a`–`b` inside `rect` (Liang–Barsky), or `nil` if none is. The ends
  /// come back unchanged (identical values) when they are inside.
  static func clip(_ a: Point, _ b: Point, to rect: Rect) -> (Point, Point)? {
    let dx = b.x - a.x
    let dy = b.y - a.y
    var enter = 0.0
    var leave = 1.0
    for (p, q) in [
      (-dx, a.x - rect.minX), (dx, rect.maxX - a.x), (-dy, a.y - rect.minY), (dy, rect.maxY - a.y),
    ] {
      if p == 0 {
        if q < 0 { return nil }
        continue
      }
      let t = q / p
      if p < 0 { enter = max(enter, t) } else { leave = min(leave, t) }
      if enter > leave { return nil }
    }
    let start = enter == 0 ? a : Point(x: a.x + enter * dx, y: a.y + enter * dy)
    let end = leave == 1 ? b : Point(x: a.x + leave * dx, y: a.y + leave * dy)
    return (start, end)
  }

  /// Connects `points` into polylines clipped to `rect`. A point with a NaN coordinate is a
  /// gap and starts a new polyline; so does a line leaving the rectangle and coming back.
  /// Infinite coordinates must have been clamped to large finite ones beforehand.
  /// Polylines of a single point (an isolated value between gaps) are dropped.
  static func clippedPolylines(_ points: [Point], in rect: Rect) -> [[Point]] {
    var result: [[Point]] = []
    var current: [Point] = []
    var previous: Point? = nil
    func flush() {
      if current.count >= 2 { result.append(current) }
      current = []
    }
    for point in points {
      guard !point.x.isNaN, !point.y.isNaN else {
        flush()
        previous = nil
        continue
      }
      defer { previous = point }
      guard let previous else { continue }
      guard let (start, end) = clip(previous, point, to: rect) else {
        flush()
        continue
      }
      if current.last != start {
        flush()
        current = [start]
      }
      if end != start { current.append(end) }
    }
    flush()
    return result
  }

  /// Thins a polyline to at most four points per pixel column (first, lowest, highest, last,
  /// kept in their original order), which draws the same picture as the full line.
  static func decimated(_ line: [Point], columnWidth: Double = 1) -> [Point] {
    guard line.count > 8 else { return line }
    var result: [Point] = []
    result.reserveCapacity(line.count)
    var start = 0
    while start < line.count {
      let column = (line[start].x / columnWidth).rounded(.down)
      var end = start + 1
      while end < line.count && (line[end].x / columnWidth).rounded(.down) == column { end += 1 }
      if end - start <= 4 {
        result.append(contentsOf: line[start..<end])
      } else {
        var lowest = start
        var highest = start
        for index in start..<end {
          if line[index].y < line[lowest].y { lowest = index }
          if line[index].y > line[highest].y { highest = index }
        }
        for index in Set([start, lowest, highest, end - 1]).sorted() { result.append(line[index]) }
      }
      start = end
    }
    return result
  }
}
