/// Streaming centred second moments of (x1, x2, y), mergeable (Chan et al.): the sufficient
/// statistics of a fit y = c + u·x1 + v·x2 over billions of samples without loss of precision.
public struct RegressionMoments: Sendable, Equatable, Codable {
    public private(set) var count: Int = 0
    public private(set) var mean1: Double = 0
    public private(set) var mean2: Double = 0
    public private(set) var meanY: Double = 0
    /// Centred sums of products: S11, S22, S12, S1y, S2y, Syy.
    public private(set) var s11: Double = 0
    public private(set) var s22: Double = 0
    public private(set) var s12: Double = 0
    public private(set) var s1y: Double = 0
    public private(set) var s2y: Double = 0
    public private(set) var syy: Double = 0

    public init() {}

    /// Adds a block in two passes (block means, then centred sums) and merges it.
    public mutating func add(x1: UnsafeBufferPointer<Float>, x2: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>) {
        // Blocks built by the caller from one frame: internal invariant.
        precondition(x1.count == y.count && x2.count == y.count, "regressors and samples differ in length")
        guard !y.isEmpty else { return }
        var a = 0.0, b = 0.0, c = 0.0
        for i in y.indices { a += Double(x1[i]); b += Double(x2[i]); c += Double(y[i]) }
        let n = Double(y.count)
        let m1 = a / n, m2 = b / n, my = c / n
        var p11 = 0.0, p22 = 0.0, p12 = 0.0, p1y = 0.0, p2y = 0.0, pyy = 0.0
        for i in y.indices {
            let d1 = Double(x1[i]) - m1, d2 = Double(x2[i]) - m2, dy = Double(y[i]) - my
            p11 += d1 * d1; p22 += d2 * d2; p12 += d1 * d2; p1y += d1 * dy; p2y += d2 * dy; pyy += dy * dy
        }
        var block = RegressionMoments()
        block.count = y.count
        block.mean1 = m1; block.mean2 = m2; block.meanY = my
        block.s11 = p11; block.s22 = p22; block.s12 = p12; block.s1y = p1y; block.s2y = p2y; block.syy = pyy
        merge(block)
    }

    public mutating func merge(_ o: RegressionMoments) {
        guard o.count > 0 else { return }
        guard count > 0 else { self = o; return }
        let na = Double(count), nb = Double(o.count), n = na + nb
        let d1 = o.mean1 - mean1, d2 = o.mean2 - mean2, dy = o.meanY - meanY
        let w = na * nb / n
        s11 += o.s11 + d1 * d1 * w
        s22 += o.s22 + d2 * d2 * w
        s12 += o.s12 + d1 * d2 * w
        s1y += o.s1y + d1 * dy * w
        s2y += o.s2y + d2 * dy * w
        syy += o.syy + dy * dy * w
        mean1 += d1 * nb / n
        mean2 += d2 * nb / n
        meanY += dy * nb / n
        count += o.count
    }

    /// Raw (uncentred) sums of one block, for single-pass kernels: n, Σx1, Σx2, Σy, Σx1², Σx2²,
    /// Σx1x2, Σx1y, Σx2y, Σy². Centred in Double, then merged (blocks of up to ~10⁶ samples of
    /// values near zero lose nothing measurable).
    public struct RawSums: Sendable {
        public var n = 0
        public var s1 = 0.0, s2 = 0.0, sy = 0.0, s11 = 0.0, s22 = 0.0, s12 = 0.0, s1y = 0.0, s2y = 0.0, syy = 0.0
        public init() {}
    }

    public mutating func add(_ r: RawSums) {
        guard r.n > 0 else { return }
        let n = Double(r.n)
        var block = RegressionMoments()
        block.count = r.n
        block.mean1 = r.s1 / n; block.mean2 = r.s2 / n; block.meanY = r.sy / n
        block.s11 = r.s11 - r.s1 * r.s1 / n
        block.s22 = r.s22 - r.s2 * r.s2 / n
        block.s12 = r.s12 - r.s1 * r.s2 / n
        block.s1y = r.s1y - r.s1 * r.sy / n
        block.s2y = r.s2y - r.s2 * r.sy / n
        block.syy = r.syy - r.sy * r.sy / n
        merge(block)
    }
}
