/// A measured, strictly monotone table y(x), x ascending, interpolated by the monotone cubic Hermite
/// scheme (PCHIP: Fritsch and Carlson, SIAM J. Numer. Anal. 17, 238 (1980), with the weighted
/// harmonic-mean slopes of Fritsch and Butland), as docs/hardware.md §6.5 asks for a MEMS VOA's
/// A(V): between two points it never overshoots, so every y in the table's range has exactly one
/// x. Never extrapolated: outside the table there is no value.
public struct MonotoneTable: Sendable, Equatable {
    public let x: [Double]
    public let y: [Double]
    let slopes: [Double]

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case tooFewPoints(Int), notFinite(index: Int), xNotAscending(index: Int), yNotMonotone(index: Int)
        public var description: String {
            switch self {
            case let .tooFewPoints(n): "a table needs at least two points (it has \(n))"
            case let .notFinite(i): "point \(i + 1) is not a finite number"
            case let .xNotAscending(i): "point \(i + 1): the control values must rise strictly from one point to the next"
            case let .yNotMonotone(i): "point \(i + 1): the measured values must rise (or fall) strictly all the way: a table that turns back has two settings for one value"
            }
        }
    }

    public init(x: [Double], y: [Double]) throws(Problem) {
        let n = min(x.count, y.count)
        guard n >= 2, x.count == y.count else { throw .tooFewPoints(n) }
        for i in 0..<n where !(x[i].isFinite && y[i].isFinite) { throw .notFinite(index: i) }
        for i in 1..<n where !(x[i] > x[i - 1]) { throw .xNotAscending(index: i) }
        let rising = y[1] > y[0]
        for i in 1..<n where !(rising ? y[i] > y[i - 1] : y[i] < y[i - 1]) { throw .yNotMonotone(index: i) }
        self.x = x; self.y = y
        let h = (0..<(n - 1)).map { x[$0 + 1] - x[$0] }
        let d = (0..<(n - 1)).map { (y[$0 + 1] - y[$0]) / h[$0] }
        var m = [Double](repeating: 0, count: n)
        m[0] = d[0]; m[n - 1] = d[n - 2]
        for k in 1..<(n - 1) {
            // Strictly monotone data: neighbouring secants share a sign, never zero.
            let w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1]
            m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k])
        }
        slopes = m
    }

    public var increasing: Bool { y[1] > y[0] }
    public var xRange: ClosedRange<Double> { x[0]...x[x.count - 1] }
    public var yRange: ClosedRange<Double> { min(y[0], y[y.count - 1])...max(y[0], y[y.count - 1]) }

    /// y at `v`, or nil outside the table.
    public func value(at v: Double) -> Double? {
        guard xRange.contains(v) else { return nil }
        let k = segment(containing: v)
        return hermite(k, t: (v - x[k]) / (x[k + 1] - x[k]))
    }

    /// The x whose y is `target`, or nil outside the table's range (bisection on the segment: the
    /// interpolant is monotone there).
    public func inverse(_ target: Double) -> Double? {
        guard yRange.contains(target) else { return nil }
        var k = 0
        while k < x.count - 2, increasing ? target > y[k + 1] : target < y[k + 1] { k += 1 }
        var lo = 0.0, hi = 1.0
        for _ in 0..<64 {
            let mid = (lo + hi) / 2
            if (hermite(k, t: mid) < target) == increasing { lo = mid } else { hi = mid }
        }
        return x[k] + (lo + hi) / 2 * (x[k + 1] - x[k])
    }

    func segment(containing v: Double) -> Int {
        var k = 0
        while k < x.count - 2, v > x[k + 1] { k += 1 }
        return k
    }

    func hermite(_ k: Int, t: Double) -> Double {
        let h = x[k + 1] - x[k], s = 1 - t
        return (1 + 2 * t) * s * s * y[k] + t * s * s * h * slopes[k] + t * t * (3 - 2 * t) * y[k + 1] + t * t * (t - 1) * h * slopes[k + 1]
    }
}
