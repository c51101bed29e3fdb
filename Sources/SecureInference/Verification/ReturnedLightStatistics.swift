import NumericsKit

/// Sufficient statistics of everything the server measured on returned light so far.
///
/// - Signal slots: the raw homodyne sample y (volts) of a returned mode, paired with the value m
///   (SNU) the server intended on the quadrature it chose at random for that mode (m = 2 Re α for
///   X, 2 Im α for P). A straight-line fit y = o + a m gives the response a and the residual noise.
/// - Vacuum slots: raw samples taken with the receiver's signal input blocked locally, interleaved in
///   time with the signal: the in-band shot-noise (plus electronic noise) reference. They are local
///   to the server, so a client cannot add noise to them to hide its own.
///
/// X and P slots are kept apart: each gets its own intercept in the fit (a residual carrier from the
/// modulator's finite extinction, or a receiver offset, shifts the two differently), with one
/// common slope.
public struct ReturnedLightStatistics: Sendable, Equatable, Codable {
    public enum Quadrature: Sendable, Codable { case x, p }

    public private(set) var signalX = BivariateMoments()
    public private(set) var signalP = BivariateMoments()
    public private(set) var vacuum = RunningMoments()

    public init() {}

    public var signalSlots: Int { signalX.count + signalP.count }
    public var vacuumSlots: Int { vacuum.count }

    /// Adds returned-mode samples `y` (raw units) measured on `quadrature`, with the values `m`
    /// (SNU) the server intended on that quadrature.
    public mutating func addSignal(samples y: UnsafeBufferPointer<Float>, intended m: UnsafeBufferPointer<Float>, quadrature: Quadrature = .x) {
        switch quadrature {
        case .x: signalX.add(x: m, y: y)
        case .p: signalP.add(x: m, y: y)
        }
    }

    public mutating func addSignal(samples y: [Float], intended m: [Float], quadrature: Quadrature = .x) {
        y.withUnsafeBufferPointer { py in m.withUnsafeBufferPointer { pm in addSignal(samples: py, intended: pm, quadrature: quadrature) } }
    }

    /// The pooled within-quadrature fit: common slope, one intercept per quadrature.
    public struct PooledFit: Sendable, Equatable {
        public let count: Int
        public let sxx: Double
        public let sxy: Double
        public let syy: Double
        public let intercepts: Int
        public var slope: Double { sxy / sxx }
        public var residualSumOfSquares: Double { max(0, syy - sxy * sxy / sxx) }
        public var degreesOfFreedom: Int { count - intercepts - 1 }
        public var residualVariance: Double { residualSumOfSquares / Double(max(1, degreesOfFreedom)) }
    }

    public var pooled: PooledFit {
        let groups = [signalX, signalP].filter { $0.count > 0 }
        return PooledFit(count: groups.reduce(0) { $0 + $1.count }, sxx: groups.reduce(0) { $0 + $1.sxx },
                         sxy: groups.reduce(0) { $0 + $1.sxy }, syy: groups.reduce(0) { $0 + $1.syy }, intercepts: groups.count)
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
