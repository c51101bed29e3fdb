import NumericsKit

/// Sufficient statistics of everything the server measured on returned light so far.
///
/// - Signal slots: the raw homodyne sample y (volts) of a returned mode, paired with the value m
///   (SNU) the server intended on the quadrature it chose at random for that mode (m = 2 Re α for
///   X, 2 Im α for P). A straight-line fit y = o + a m gives the response a and the residual noise.
/// - Vacuum slots: raw samples taken with the receiver's signal input blocked locally, interleaved in
///   time with the signal: the in-band shot-noise (plus electronic noise) reference. They are local
///   to the server, so a client cannot add noise to them to hide its own.
public struct ReturnedLightStatistics: Sendable, Equatable, Codable {
    public private(set) var signal = BivariateMoments()
    public private(set) var vacuum = RunningMoments()

    public init() {}

    public var signalSlots: Int { signal.count }
    public var vacuumSlots: Int { vacuum.count }

    /// Adds returned-mode samples `y` (raw units) with the intended quadrature values `m` (SNU).
    public mutating func addSignal(samples y: UnsafeBufferPointer<Float>, intended m: UnsafeBufferPointer<Float>) {
        signal.add(x: m, y: y)
    }

    public mutating func addSignal(samples y: [Float], intended m: [Float]) {
        y.withUnsafeBufferPointer { py in m.withUnsafeBufferPointer { pm in addSignal(samples: py, intended: pm) } }
    }

    /// Adds vacuum-slot samples (raw units).
    public mutating func addVacuum(samples v: UnsafeBufferPointer<Float>) {
        var block = RunningMoments()
        for x in v { block.add(Double(x)) }
        vacuum.merge(block)
    }

    public mutating func addVacuum(samples v: [Float]) { v.withUnsafeBufferPointer { addVacuum(samples: $0) } }

    public mutating func merge(_ other: ReturnedLightStatistics) {
        signal.merge(other.signal)
        vacuum.merge(other.vacuum)
    }
}
