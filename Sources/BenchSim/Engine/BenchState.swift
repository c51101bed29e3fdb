import BenchKit

/// The settings of every simulated device of one bench: the single source of truth the physics
/// reads at each shot. Guarded by the engine's lock; devices change it only through the engine.
struct BenchState: Sendable {
    struct LaserState: Sendable {
        var current = 0.0
        var emissionRequested = false
        var temperature = 298.15
    }
    struct ModulatorState: Sendable {
        var staticI = 0.0
        var staticQ = 0.0
        var bias: [ModulatorChannel: Double] = [.i: 0, .q: 0, .phase: 0]
        /// The uploaded drive frames (nil: none; the AWG idles at the static drive).
        var frame: DriveFrame?
    }
    struct PowerMeterState: Sendable {
        var wavelength = 1550e-9
        var zero = 0.0
        /// Where the reference meter's fibre is connected (moved by the patch panel).
        var probe = ProbePoint.tap
    }
    struct ProcessorState: Sendable {
        var symbols: [[ComplexSymbol]] = []
        var layout: FrameLayout?
    }
    struct ReceiverState: Sendable {
        var loPower = 0.0
        var loPhase = 0.0
        var pattern: [SlotKind] = [] { didSet { patternCodes = SlotKind.codes(pattern) } }
        /// The pattern as codes 0 (X), 1 (P), 2 (vacuum), kept ready for the shot kernels.
        private(set) var patternCodes: [UInt8] = []
        var inputBlocked = false
        var armedShots = 0
        var recordedShots = 0
        var record: [Float] = []
        /// Samples of `record` at the digitiser's rails.
        var recordClipped = 0
        /// The server receiver's bursts fired since the arming, computed when fetched (after `record`).
        var bursts: [PendingBurst] = []
        /// Shots being computed by a `fire` that has not delivered yet.
        var pendingShots = 0
        /// Bumped by every `arm`, so a `fire` that was computing for an older arming drops its samples.
        var generation = 0
        var remaining: Int { armedShots - recordedShots - pendingShots }
    }

    var laser = LaserState()
    var modulator = ModulatorState()
    var attenuation = 60.0
    var powerMeter = PowerMeterState()
    var path = SwitchPath.backToBack
    var processor = ProcessorState()
    var gain = 1.0
    var keptFraction = 0.0
    var receivers: [Role: ReceiverState] = [.serverReceiver: ReceiverState(), .clientReceiver: ReceiverState()]
    var shutterOpen = false
    var interlockClear = true
    /// The client's own interlock chain (a two-site testbed's client site has one).
    var clientInterlockClear = true
    var triggerPulses = 0
}
