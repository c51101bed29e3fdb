import Foundation
import NumericsKit

extension SimulationEngine {
    /// The engine's hidden, evolving state: the simulated clock (the drift walks are a function of
    /// it), the shot and capture counters that key the noise streams, the meter's noise stream.
    /// Restoring it makes the twin continue exactly as it would have (device settings are the
    /// caller's to re-apply; they are ordinary commands).
    public struct Checkpoint: Sendable, Codable, Equatable {
        public var clock: Double
        public var shotCounter: UInt64
        public var acquireCounter: UInt64
        public var meterRandom: Xoshiro256
    }

    /// The most shots (or captures) a twin counts: 2^48, nine years of shots at 1 MHz. Counters
    /// keyed into the noise streams stay far from UInt64's end, so no addition can overflow.
    public static let maximumCounter: UInt64 = 1 << 48

    public func checkpoint() -> Checkpoint {
        locked {
            Checkpoint(clock: clock, shotCounter: shotCounter, acquireCounter: acquireCounter, meterRandom: meterRng)
        }
    }

    /// Continues from `c`; a clock that is not a finite time within the years the twin represents
    /// (a damaged record) is refused, never used.
    public func restore(_ c: Checkpoint) throws(SimulationError) {
        guard c.clock.isFinite, c.clock >= 0, c.clock <= Double(Duration.maximumFileSeconds) else {
            throw SimulationError("the twin's checkpoint holds the clock \(c.clock) s, not a simulated time: the record is damaged")
        }
        guard c.shotCounter <= Self.maximumCounter, c.acquireCounter <= Self.maximumCounter else {
            throw SimulationError("the twin's checkpoint holds \(c.shotCounter) shots and \(c.acquireCounter) captures, beyond the \(Self.maximumCounter) a twin counts to: the record is damaged; start a new run")
        }
        locked {
            clock = c.clock
            shotCounter = c.shotCounter
            acquireCounter = c.acquireCounter
            meterRng = c.meterRandom
        }
    }
}
