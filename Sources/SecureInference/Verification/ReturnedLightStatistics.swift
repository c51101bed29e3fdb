import Foundation
import NumericsKit

/// Sufficient statistics of everything the server measured on returned light so far.
///
/// - Signal slots: the raw homodyne sample y (volts) of a returned mode on the quadrature the server
///   chose at random for it (X or P), with the amplitude α the server intended for that mode. The
///   fit is rotation-aware: an X sample is modelled as c_X + u·2Re α + v·2Im α and a P sample as
///   c_P + u·2Im α − v·2Re α, i.e. a response of magnitude √(u² + v²) rotated by atan2(v, u). A
///   phase offset between the returned light and the server's LO (the round trip's own phase,
///   its slow drift) then costs nothing, while loss shows in the magnitude and added noise in the
///   residual. X and P slots get their own intercept (a residual carrier or offset shifts them
///   differently).
/// - Vacuum slots: raw samples taken with the receiver's signal input blocked locally, interleaved in
///   time with the signal: the in-band shot-noise (plus electronic noise) reference. They are local
///   to the server, so a client cannot add noise to them to hide its own.
public struct ReturnedLightStatistics: Sendable, Equatable, Codable {
    public enum Quadrature: Sendable, Codable { case x, p }

    public private(set) var signalX = RegressionMoments()
    public private(set) var signalP = RegressionMoments()
    public private(set) var vacuum = RunningMoments()

    public init() {}

    public var signalSlots: Int { signalX.count + signalP.count }
    public var vacuumSlots: Int { vacuum.count }

    /// Adds returned-mode samples `y` (raw units) measured on `quadrature`, with the intended
    /// amplitudes (√photons) of those modes.
    public mutating func addSignal(samples y: UnsafeBufferPointer<Float>, alphaRe: UnsafeBufferPointer<Float>,
                                   alphaIm: UnsafeBufferPointer<Float>, quadrature: Quadrature) {
        let n = y.count
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * max(n, 1)) { tmp in
            let m1 = UnsafeMutableBufferPointer(rebasing: tmp[0..<n]), m2 = UnsafeMutableBufferPointer(rebasing: tmp[n..<(2 * n)])
            switch quadrature {
            case .x: for i in 0..<n { m1[i] = 2 * alphaRe[i]; m2[i] = 2 * alphaIm[i] }
            case .p: for i in 0..<n { m1[i] = 2 * alphaIm[i]; m2[i] = -2 * alphaRe[i] }
            }
            switch quadrature {
            case .x: signalX.add(x1: UnsafeBufferPointer(m1), x2: UnsafeBufferPointer(m2), y: y)
            case .p: signalP.add(x1: UnsafeBufferPointer(m1), x2: UnsafeBufferPointer(m2), y: y)
            }
        }
    }

    public mutating func addSignal(samples y: [Float], alphaRe: [Float], alphaIm: [Float], quadrature: Quadrature) {
        y.withUnsafeBufferPointer { py in alphaRe.withUnsafeBufferPointer { pr in alphaIm.withUnsafeBufferPointer { pi in
            addSignal(samples: py, alphaRe: pr, alphaIm: pi, quadrature: quadrature)
        } } }
    }

    /// The pooled within-quadrature fit: a common rotated response (u, v), one intercept per quadrature.
    public struct PooledFit: Sendable, Equatable {
        public let count: Int
        public let s11: Double, s22: Double, s12: Double, s1y: Double, s2y: Double, syy: Double
        public let intercepts: Int
        var determinant: Double { s11 * s22 - s12 * s12 }
        public var u: Double { (s22 * s1y - s12 * s2y) / determinant }
        public var v: Double { (s11 * s2y - s12 * s1y) / determinant }
        /// |response|² = u² + v².
        public var responseSquared: Double { u * u + v * v }
        /// The rotation of the returned light against the server's LO, radians.
        public var rotation: Double { atan2(v, u) }
        public var residualSumOfSquares: Double { max(0, syy - u * s1y - v * s2y) }
        public var degreesOfFreedom: Int { count - intercepts - 2 }
        public var residualVariance: Double { residualSumOfSquares / Double(max(1, degreesOfFreedom)) }
        /// Var(u² + v²) by the delta method from Cov(u, v) = s² · S⁻¹.
        public var responseSquaredVariance: Double {
            let s2 = residualVariance, d = determinant
            let vu = s2 * s22 / d, vv = s2 * s11 / d, cuv = -s2 * s12 / d
            return 4 * (u * u * vu + v * v * vv + 2 * u * v * cuv)
        }
    }

    public var pooled: PooledFit {
        let g = [signalX, signalP].filter { $0.count > 0 }
        func sum(_ k: KeyPath<RegressionMoments, Double>) -> Double { g.reduce(0) { $0 + $1[keyPath: k] } }
        return PooledFit(count: g.reduce(0) { $0 + $1.count }, s11: sum(\.s11), s22: sum(\.s22), s12: sum(\.s12),
                         s1y: sum(\.s1y), s2y: sum(\.s2y), syy: sum(\.syy), intercepts: g.count)
    }

    /// Slots per work unit of `addShots`: the units are fixed ranges of the pattern, so the sums
    /// (and their order) do not depend on the number of threads.
    public static let slotsPerUnit = 8_192

    /// Adds `shots` shots measured with one slot pattern: `codes` per slot (0 X, 1 P, 2 vacuum), the
    /// intended amplitudes per slot, the samples of shot s at y[s · shotStride + slot]. The fast
    /// path of a protocol run: the pattern's ranges of `slotsPerUnit` slots run on every core, each
    /// computing its pattern-only sums once and the sample-dependent ones over all the shots (C
    /// kernels, Double accumulation); the ranges are merged in order. `StreamedShots` computes the
    /// same units from tiles of the record as they arrive, with the same result to the bit.
    public mutating func addShots(samples y: UnsafeBufferPointer<Float>, shots: Int, shotStride: Int, codes: UnsafeBufferPointer<UInt8>,
                                  alphaRe: UnsafeBufferPointer<Float>, alphaIm: UnsafeBufferPointer<Float>) {
        let slots = codes.count
        precondition(alphaRe.count == slots && alphaIm.count == slots, "one shot's slots")
        precondition(shots >= 0 && shotStride >= slots && (shots == 0 || y.count >= (shots - 1) * shotStride + slots), "\(shots) shots of \(slots) slots")
        guard shots > 0, slots > 0 else { return }
        let pattern = SharedPattern(codes: codes, re: alphaRe, im: alphaIm)
        merge(units: Self.unitSums(pattern, samples: y.baseAddress!, slots: 0..<slots, shots: shots, shotStride: shotStride))
    }

    /// The sums of the units of `range` (which starts at a unit's first slot and ends at a unit's
    /// end or the pattern's last slot), each unit on any core, in unit order; `y` is shot 0's
    /// sample of the range's first slot.
    static func unitSums(_ pattern: SharedPattern, samples y: UnsafePointer<Float>, slots range: Range<Int>, shots: Int, shotStride: Int) -> [ShotSums] {
        let first = range.lowerBound / slotsPerUnit
        let units = (range.upperBound - range.lowerBound + slotsPerUnit - 1) / slotsPerUnit
        let samples = SharedSamples(y: y)
        return parallelMap(chunks: units) { i in
            let lo = (first + i) * slotsPerUnit, hi = min(range.upperBound, lo + slotsPerUnit)
            return ShotSums(pattern, samples: samples.y + (lo - range.lowerBound), slots: lo..<hi, shots: shots, shotStride: shotStride)
        }
    }

    /// Adds units' sums in the order given.
    mutating func merge(units parts: [ShotSums]) {
        for p in parts {
            signalX.add(p.x)
            signalP.add(p.p)
            vacuum.add(count: p.vacuumCount, sum: p.vacuumSum, sumOfSquares: p.vacuumSumOfSquares)
        }
    }

    /// Adds vacuum-slot samples (raw units).
    public mutating func addVacuum(samples v: UnsafeBufferPointer<Float>) {
        var block = RunningMoments()
        for x in v { block.add(Double(x)) }
        vacuum.merge(block)
    }

    public mutating func addVacuum(samples v: [Float]) { v.withUnsafeBufferPointer { addVacuum(samples: $0) } }

    public mutating func merge(_ other: ReturnedLightStatistics) {
        signalX.merge(other.signalX)
        signalP.merge(other.signalP)
        vacuum.merge(other.vacuum)
    }
}
