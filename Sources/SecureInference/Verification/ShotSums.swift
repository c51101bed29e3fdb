import CKernels
import NumericsKit

/// One burst's samples and its pattern as raw pointers, read concurrently by the work units of
/// `ReturnedLightStatistics.addShots`.
struct SharedSlots: @unchecked Sendable {
    let y: UnsafePointer<Float>
    let codes: UnsafePointer<UInt8>
    let re: UnsafePointer<Float>
    let im: UnsafePointer<Float>

    init(y: UnsafeBufferPointer<Float>, codes: UnsafeBufferPointer<UInt8>, re: UnsafeBufferPointer<Float>, im: UnsafeBufferPointer<Float>) {
        self.y = y.baseAddress!; self.codes = codes.baseAddress!; self.re = re.baseAddress!; self.im = im.baseAddress!
    }
}

/// The raw sums of one range of a pattern's slots over the shots of a burst: X and P slots as
/// regression sums (the pattern-only ones computed once and scaled by the shot count, the
/// sample-dependent ones by `qk_signal_sums`), vacuum slots as count, Σy and Σy² (`qk_vacuum_sums`).
/// The range is cut into runs of signal and of vacuum slots as the pattern lies.
struct ShotSums: Sendable {
    var x = RegressionMoments.RawSums(), p = RegressionMoments.RawSums()
    var vacuumCount = 0, vacuumSum = 0.0, vacuumSumOfSquares = 0.0

    /// Codes 0 (X) and 1 (P) are signal slots, anything above is a vacuum slot.
    static func isVacuum(_ code: UInt8) -> Bool { code > 1 }

    init(_ s: SharedSlots, slots range: Range<Int>, shots: Int, shotStride: Int) {
        let m = range.count
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * max(1, m)) { w in
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 10) { sums in
            sums.initialize(repeating: 0)
            let e1 = w.baseAddress!, e2 = e1 + m, isX = e2 + m
            let sample = sums.baseAddress!, vacuum = sample + 8
            // Pattern-only sums per quadrature: n, Σe1, Σe2, Σe1², Σe2², Σe1·e2 (one shot).
            var nx = 0, x1 = 0.0, x2 = 0.0, x11 = 0.0, x22 = 0.0, x12 = 0.0
            var np = 0, p1 = 0.0, p2 = 0.0, p11 = 0.0, p22 = 0.0, p12 = 0.0
            var k = range.lowerBound
            while k < range.upperBound {
                let vacuumRun = Self.isVacuum(s.codes[k])
                var end = k + 1
                while end < range.upperBound, Self.isVacuum(s.codes[end]) == vacuumRun { end += 1 }
                if vacuumRun {
                    qk_vacuum_sums(s.y + k, shots, shotStride, end - k, vacuum, QK_BEST)
                    vacuumCount += (end - k) * shots
                } else {
                    for j in 0..<(end - k) {
                        // X: (2 Re α, 2 Im α); P: (2 Im α, −2 Re α).
                        let re = 2 * s.re[k + j], im = 2 * s.im[k + j]
                        let onX = s.codes[k + j] == 0
                        let u1 = onX ? re : im, u2 = onX ? im : -re
                        e1[j] = u1; e2[j] = u2; isX[j] = onX ? 1 : 0
                        let c = onX ? 1.0 : 0.0, d1 = Double(u1), d2 = Double(u2)
                        let q1 = d1 * d1, q2 = d2 * d2, q12 = d1 * d2
                        nx += onX ? 1 : 0; np += onX ? 0 : 1
                        x1 += c * d1; x2 += c * d2; x11 += c * q1; x22 += c * q2; x12 += c * q12
                        p1 += (1 - c) * d1; p2 += (1 - c) * d2; p11 += (1 - c) * q1; p22 += (1 - c) * q2; p12 += (1 - c) * q12
                    }
                    qk_signal_sums(s.y + k, shots, shotStride, e1, e2, isX, end - k, sample, QK_BEST)
                }
                k = end
            }
            let t = Double(shots)
            x.n = nx * shots; x.s1 = x1 * t; x.s2 = x2 * t; x.s11 = x11 * t; x.s22 = x22 * t; x.s12 = x12 * t
            x.sy = sample[0]; x.syy = sample[1]; x.s1y = sample[2]; x.s2y = sample[3]
            p.n = np * shots; p.s1 = p1 * t; p.s2 = p2 * t; p.s11 = p11 * t; p.s22 = p22 * t; p.s12 = p12 * t
            p.sy = sample[4]; p.syy = sample[5]; p.s1y = sample[6]; p.s2y = sample[7]
            vacuumSum = vacuum[0]; vacuumSumOfSquares = vacuum[1]
        } }
    }
}
