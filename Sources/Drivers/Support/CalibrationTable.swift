import BenchKit

/// A monotone table y(x) from a bench file's `options:` (a gain-vs-current or
/// kept-fraction-vs-voltage curve measured on the device), read both ways by piecewise-linear
/// interpolation between its points. x strictly increases and y strictly increases or strictly
/// decreases along the table, so each y inside the table has exactly one x, and interpolation
/// never leaves the interval between two measured points (monotone). Values outside the table
/// are refused rather than extrapolated: the device was never measured there.
public struct CalibrationTable: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public init(x: Double, y: Double) { self.x = x; self.y = y }
    }

    public let points: [Point]
    /// Where the table was declared (`file:line`), for error messages.
    public let source: String

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case tooShort(Int), notFinite(index: Int), xNotIncreasing(index: Int), yNotMonotone(index: Int)
        public var description: String {
            switch self {
            case .tooShort(let n): "needs at least two points, has \(n)"
            case .notFinite(let i): "point \(i + 1) is not a finite number"
            case .xNotIncreasing(let i): "point \(i + 1) does not lie above point \(i): list the points in increasing order, without repeats"
            case .yNotMonotone(let i): "point \(i + 1) breaks the monotone order of the values (each value must rise, or each fall, along the table, so every value has one setting)"
            }
        }
    }

    public init(_ points: [Point], source: String) throws(Problem) {
        guard points.count >= 2 else { throw .tooShort(points.count) }
        for (i, p) in points.enumerated() where !p.x.isFinite || !p.y.isFinite { throw .notFinite(index: i) }
        let rising = points[1].y > points[0].y
        for i in 1..<points.count {
            guard points[i].x > points[i - 1].x else { throw .xNotIncreasing(index: i) }
            guard rising ? points[i].y > points[i - 1].y : points[i].y < points[i - 1].y else { throw .yNotMonotone(index: i) }
        }
        self.points = points
        self.source = source
    }

    public var xRange: ClosedRange<Double> { points.first!.x...points.last!.x }
    public var yRange: ClosedRange<Double> { min(points.first!.y, points.last!.y)...max(points.first!.y, points.last!.y) }

    /// y at `x`, nil outside the table.
    public func y(at x: Double) -> Double? {
        guard x.isFinite, xRange.contains(x) else { return nil }
        return Self.interpolate(x, points.map { ($0.x, $0.y) })
    }

    /// The x that gives `y`, nil outside the table.
    public func x(for y: Double) -> Double? {
        guard y.isFinite, yRange.contains(y) else { return nil }
        var pairs = points.map { ($0.y, $0.x) }
        if pairs[0].0 > pairs[pairs.count - 1].0 { pairs.reverse() }
        return Self.interpolate(y, pairs)
    }

    /// Linear interpolation in a table whose first coordinates increase; `v` inside it.
    private static func interpolate(_ v: Double, _ table: [(Double, Double)]) -> Double {
        var k = 1
        while k < table.count - 1 && v > table[k].0 { k += 1 }
        let (a, fa) = table[k - 1], (b, fb) = table[k]
        if v == a { return fa }
        if v == b { return fb }
        return fa + (fb - fa) * (v - a) / (b - a)
    }
}

extension YAMLReader {
    /// A table written as a list of mappings, e.g.
    /// `[{current: 60 mA, gain: 1}, {current: 120 mA, gain: 4}]`: `xKey` a quantity of `xType`,
    /// `yKey` a plain number. Errors name the file and line.
    func calibrationTable<D>(x xKey: String, _ xType: Quantity<D>.Type, y yKey: String) throws(BenchFileError) -> CalibrationTable {
        var points: [CalibrationTable.Point] = []
        let items = try items
        for item in items {
            try item.onlyKeys([xKey, yKey], in: "a point of the table")
            let x = try item.required(xKey, "the setting of this point").quantity(xType)
            let y = try item.required(yKey, "the measured value at this setting").double()
            points.append(.init(x: x.si, y: y))
        }
        do {
            return try CalibrationTable(points, source: "\(file):\(tree.line)")
        } catch {
            let at: YAMLReader
            switch error {
            case .tooShort: at = self
            case .notFinite(let i), .xNotIncreasing(let i), .yNotMonotone(let i): at = items[i]
            }
            throw at.fail("the \(xKey)-to-\(yKey) table \(error)")
        }
    }
}
