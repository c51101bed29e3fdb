import BenchKit
import Calibrate
import Foundation

/// What one station needs around it: its open bench (of which it touches only its own roles), its
/// calibration store, its run database, and the knobs of execution that do not change the result.
public struct StationEnvironment: Sendable {
    public let bench: Bench
    public let store: CalibrationStore
    public let database: RunDatabase
    public let codeVersion: String
    public let arguments: [String]
    public let stop: StopRequest
    public let observer: any RunObserver
    /// Shots per trigger burst (memory per burst ∝ this × slots per shot).
    /// (The commands default to 32, fewer round trips between the stations; the tests' statistics
    /// are pinned at 8.)
    public var chunkShots = 8
    /// How long to wait for a tripped interlock to clear before giving up.
    public var interlockTimeout: Duration = .seconds(60)
    /// How long to wait for an instrument found gone before a burst to be reconnected (unplugged
    /// and plugged in again, power-cycled) before giving up.
    public var reconnectTimeout: Duration = .seconds(60)
    /// How long to wait for the peer's next message: its longest step is a burst of shots or a
    /// block's check, far below this on any bench that works; beyond it the peer counts as lost.
    public var peerTimeout: Duration = .seconds(300)

    public init(bench: Bench, store: CalibrationStore, database: RunDatabase, codeVersion: String, arguments: [String],
                stop: StopRequest = StopRequest(), observer: any RunObserver = SilentObserver()) {
        self.bench = bench; self.store = store; self.database = database; self.codeVersion = codeVersion
        self.arguments = arguments; self.stop = stop; self.observer = observer
    }
}

/// How long a run pauses, instead of failing, for a tripped interlock and for an instrument found
/// gone: set on a station's environment, or on an in-process run's, which hands them to both.
public protocol PauseTimeouts {
    var interlockTimeout: Duration { get set }
    var reconnectTimeout: Duration { get set }
}

extension StationEnvironment: PauseTimeouts {}
extension RunEnvironment: PauseTimeouts {}
