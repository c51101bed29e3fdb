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

    public func restore(_ c: Checkpoint) {
        locked {
            clock = c.clock
            shotCounter = c.shotCounter
            acquireCounter = c.acquireCounter
            meterRng = c.meterRandom
        }
    }
}
