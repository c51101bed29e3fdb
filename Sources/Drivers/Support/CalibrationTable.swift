import BenchKit

/// A monotone table y(x) from a bench file's `options:` (a gain-vs-current, kept-fraction-vs-voltage
/// or attenuation-vs-voltage curve measured on the device), read both ways. x strictly increases
/// and y strictly increases or strictly decreases along the table, so each y inside the table has
/// exactly one x. Between two points it interpolates linearly, or by the monotone cubic Hermite
/// scheme (PCHIP: Fritsch and Carlson, SIAM J. Numer. Anal. 17, 238 (1980), with the weighted
/// harmonic-mean slopes of Fritsch and Butland) that docs/hardware.md §6.5 asks for a MEMS VOA's
/// A(V); both never leave the interval between two measured values. Values outside the table are
/// refused rather than extrapolated: the device was never measured there.
public struct CalibrationTable: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var x: Double
        public var y: Double
        public init(x: Double, y: Double) { self.x = x; self.y = y }
    }

    public enum Interpolation: Sendable, Equatable { case linear, monotoneCubic }

    public let points: [Point]
    /// Where the table was declared (`file:line`), for error messages.
    public let source: String
    public let interpolation: Interpolation
    /// The Hermite slopes at the points (monotone cubic only).
    let slopes: [Double]

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

    public init(_ points: [Point], source: String, interpolation: Interpolation = .linear) throws(Problem) {
        guard points.count >= 2 else { throw .tooShort(points.count) }
        for (i, p) in points.enumerated() where !p.x.isFinite || !p.y.isFinite { throw .notFinite(index: i) }
        let rising = points[1].y > points[0].y
        for i in 1..<points.count {
            guard points[i].x > points[i - 1].x else { throw .xNotIncreasing(index: i) }
            guard rising ? points[i].y > points[i - 1].y : points[i].y < points[i - 1].y else { throw .yNotMonotone(index: i) }
        }
        self.points = points
        self.source = source
        self.interpolation = interpolation
        slopes = interpolation == .monotoneCubic ? Self.hermiteSlopes(points) : []
    }

    public var increasing: Bool { points[1].y > points[0].y }
    public var xRange: ClosedRange<Double> { points.first!.x...points.last!.x }
    public var yRange: ClosedRange<Double> { min(points.first!.y, points.last!.y)...max(points.first!.y, points.last!.y) }

    /// y at `x`, nil outside the table.
    public func y(at x: Double) -> Double? {
        guard x.isFinite, xRange.contains(x) else { return nil }
        var k = 0
        while k < points.count - 2, x > points[k + 1].x { k += 1 }
        let a = points[k], b = points[k + 1]
        if x == a.x { return a.y }
        if x == b.x { return b.y }
        let t = (x - a.x) / (b.x - a.x)
        return interpolation == .linear ? a.y + (b.y - a.y) * t : hermite(k, t: t)
    }

    /// The x that gives `y`, nil outside the table.
    public func x(for y: Double) -> Double? {
        guard y.isFinite, yRange.contains(y) else { return nil }
        var k = 0
        while k < points.count - 2, increasing ? y > points[k + 1].y : y < points[k + 1].y { k += 1 }
        let a = points[k], b = points[k + 1]
        if y == a.y { return a.x }
        if y == b.y { return b.x }
        guard interpolation == .monotoneCubic else { return a.x + (b.x - a.x) * (y - a.y) / (b.y - a.y) }
        // The cubic is monotone on the segment: bisection.
        var lo = 0.0, hi = 1.0
        for _ in 0..<64 {
            let mid = (lo + hi) / 2
            if (hermite(k, t: mid) < y) == increasing { lo = mid } else { hi = mid }
        }
        return a.x + (lo + hi) / 2 * (b.x - a.x)
    }

    static func hermiteSlopes(_ p: [Point]) -> [Double] {
        let n = p.count
        let h = (0..<(n - 1)).map { p[$0 + 1].x - p[$0].x }
        let d = (0..<(n - 1)).map { (p[$0 + 1].y - p[$0].y) / h[$0] }
        var m = [Double](repeating: 0, count: n)
        m[0] = d[0]; m[n - 1] = d[n - 2]
        for k in 1..<max(1, n - 1) {
            // Strictly monotone data: neighbouring secants share a sign, never zero.
            let w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1]
            m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k])
        }
        return m
    }

    func hermite(_ k: Int, t: Double) -> Double {
        let a = points[k], b = points[k + 1], h = b.x - a.x, s = 1 - t
        return (1 + 2 * t) * s * s * a.y + t * s * s * h * slopes[k] + t * t * (3 - 2 * t) * b.y + t * t * (t - 1) * h * slopes[k + 1]
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
