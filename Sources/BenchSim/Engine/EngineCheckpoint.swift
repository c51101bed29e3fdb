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
        locked {
            clock = c.clock
            shotCounter = c.shotCounter
            acquireCounter = c.acquireCounter
            meterRng = c.meterRandom
        }
    }
}
