import CKernels
import NumericsKit

/// One shot's pattern as raw pointers (codes and intended amplitudes per slot), read concurrently
/// by the work units of `ReturnedLightStatistics.addShots` and `StreamedShots`.
struct SharedPattern: @unchecked Sendable {
    let codes: UnsafePointer<UInt8>
    let re: UnsafePointer<Float>
    let im: UnsafePointer<Float>

    init(codes: UnsafeBufferPointer<UInt8>, re: UnsafeBufferPointer<Float>, im: UnsafeBufferPointer<Float>) {
        self.codes = codes.baseAddress!; self.re = re.baseAddress!; self.im = im.baseAddress!
    }
}

/// A burst's samples handed to the work units: shot 0's sample of the first slot of a range.
struct SharedSamples: @unchecked Sendable {
    let y: UnsafePointer<Float>
}

/// The raw sums of one range of a pattern's slots over the shots of a burst: X and P slots as
/// regression sums (the pattern-only ones computed once per run of signal slots and scaled by the
/// shot count), vacuum slots as count, Σy and Σy²; the sample-dependent sums of the whole range by
/// `qk_burst_sums` (each slot's sums over the shots, then combined with its kind and regressors).
struct ShotSums: Sendable {
    var x = RegressionMoments.RawSums(), p = RegressionMoments.RawSums()
    var vacuumCount = 0, vacuumSum = 0.0, vacuumSumOfSquares = 0.0

    /// Codes 0 (X) and 1 (P) are signal slots, anything above is a vacuum slot.
    static func isVacuum(_ code: UInt8) -> Bool { code > 1 }

    /// The sums of `range` of the pattern's slots; `y` points at shot 0's sample of its first slot.
    init(_ s: SharedPattern, samples y: UnsafePointer<Float>, slots range: Range<Int>, shots: Int, shotStride: Int) {
        let m = range.count
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * max(1, m)) { w in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 22) { sums in
            sums.initialize(repeating: 0)
            let e1 = w.baseAddress!, e2 = e1 + m, isX = e2 + m
            let sample = sums.baseAddress!, vacuum = sample + 8, pattern = sample + 10
            // Pattern-only sums per quadrature (one shot): n, Σe1, Σe2, Σe1², Σe2², Σe1·e2, and
            // the regressors of every signal slot (zero on the vacuum slots).
            var k = range.lowerBound
            while k < range.upperBound {
                let vacuumRun = Self.isVacuum(s.codes[k])
                var end = k + 1
                while end < range.upperBound, Self.isVacuum(s.codes[end]) == vacuumRun { end += 1 }
                let at = k - range.lowerBound
                if vacuumRun {
                    (e1 + at).initialize(repeating: 0, count: end - k)
                    (e2 + at).initialize(repeating: 0, count: end - k)
                    vacuumCount += (end - k) * shots
                } else {
                    qk_pattern_sums(s.re + k, s.im + k, s.codes + k, end - k, e1 + at, e2 + at, isX + at, pattern, QK_BEST)
                }
                k = end
            }
            // The sample-dependent sums of the whole range over every shot.
            qk_burst_sums(y, shots, shotStride, e1, e2, s.codes + range.lowerBound, m, sample, QK_BEST)
            let nx = Int(pattern[0]), x1 = pattern[1], x2 = pattern[2], x11 = pattern[3], x22 = pattern[4], x12 = pattern[5]
            let np = Int(pattern[6]), p1 = pattern[7], p2 = pattern[8], p11 = pattern[9], p22 = pattern[10], p12 = pattern[11]
            let t = Double(shots)
            x.n = nx * shots; x.s1 = x1 * t; x.s2 = x2 * t; x.s11 = x11 * t; x.s22 = x22 * t; x.s12 = x12 * t
            x.sy = sample[0]; x.syy = sample[1]; x.s1y = sample[2]; x.s2y = sample[3]
            p.n = np * shots; p.s1 = p1 * t; p.s2 = p2 * t; p.s11 = p11 * t; p.s22 = p22 * t; p.s12 = p12 * t
            p.sy = sample[4]; p.syy = sample[5]; p.s1y = sample[6]; p.s2y = sample[7]
            vacuumSum = vacuum[0]; vacuumSumOfSquares = vacuum[1]
        } }
    }
}
