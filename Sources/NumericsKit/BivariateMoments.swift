/// Streaming first and second moments of pairs (x, y), mergeable (Chan et al. 1979): the
/// sufficient statistics of a straight-line fit y = a + b x, kept centred so that billions of
/// samples with a large offset lose no precision.
public struct BivariateMoments: Sendable, Equatable, Codable {
    public private(set) var count: Int = 0
    public private(set) var meanX: Double = 0
    public private(set) var meanY: Double = 0
    /// Σ (x − x̄)², Σ (y − ȳ)², Σ (x − x̄)(y − ȳ).
    public private(set) var sxx: Double = 0
    public private(set) var syy: Double = 0
    public private(set) var sxy: Double = 0

    public init() {}

    /// Adds a block of pairs in two passes (block mean, then centred sums) and merges it.
    public mutating func add(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>) {
        // Blocks built by the caller from one frame: internal invariant.
        precondition(x.count == y.count, "x and y blocks differ in length: \(x.count) vs \(y.count)")
        guard !x.isEmpty else { return }
        var block = BivariateMoments()
        block.count = x.count
        var sx = 0.0, sy = 0.0
        for i in x.indices { sx += Double(x[i]); sy += Double(y[i]) }
        let mx = sx / Double(x.count), my = sy / Double(y.count)
        var cxx = 0.0, cyy = 0.0, cxy = 0.0
        for i in x.indices {
            let dx = Double(x[i]) - mx, dy = Double(y[i]) - my
            cxx += dx * dx; cyy += dy * dy; cxy += dx * dy
        }
        block.meanX = mx; block.meanY = my
        block.sxx = cxx; block.syy = cyy; block.sxy = cxy
        merge(block)
    }

    public mutating func add(x: Double, y: Double) {
        count += 1
        let n = Double(count)
        let dx = x - meanX, dy = y - meanY
        meanX += dx / n
        meanY += dy / n
        sxx += dx * (x - meanX)
        syy += dy * (y - meanY)
        sxy += dx * (y - meanY)
    }

    public mutating func merge(_ other: BivariateMoments) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let na = Double(count), nb = Double(other.count), n = na + nb
        let dx = other.meanX - meanX, dy = other.meanY - meanY
        let w = na * nb / n
        sxx += other.sxx + dx * dx * w
        syy += other.syy + dy * dy * w
        sxy += other.sxy + dx * dy * w
        meanX += dx * nb / n
        meanY += dy * nb / n
        count += other.count
    }

    /// Least-squares slope of y on x.
    public var slope: Double { sxy / sxx }
    /// Residual sum of squares of the straight-line fit.
    public var residualSumOfSquares: Double { max(0, syy - sxy * sxy / sxx) }
    /// Unbiased residual variance (n − 2 degrees of freedom).
    public var residualVariance: Double { count > 2 ? residualSumOfSquares / Double(count - 2) : .nan }
    /// Variance of y alone (n − 1).
    public var varianceY: Double { count > 1 ? syy / Double(count - 1) : .nan }
}
