/// What one digitiser slot of a homodyne receiver measures.
public enum SlotKind: UInt8, Sendable, Codable {
    /// The returned mode, on the X or P quadrature (LO phase 0 or π/2).
    case x = 0, p = 1
    /// Signal input blocked locally: shot noise (plus electronic noise) only, the in-band SNU reference.
    case vacuum = 2

    /// The raw values of `pattern` (0 X, 1 P, 2 vacuum), as the shot kernels and the server's sums
    /// take them: one copy of the bytes, since a case's in-memory tag is its raw value (declared
    /// 0, 1, 2 in order; checked here, and by `SlotKindTests`), else element by element.
    public static func codes(_ pattern: [SlotKind]) -> [UInt8] {
        guard tagsAreRawValues else { return pattern.map(\.rawValue) }
        return pattern.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: UInt8.self) { Array($0) }
        }
    }

    /// Whether each case's one-byte in-memory tag equals its raw value.
    static let tagsAreRawValues: Bool = {
        guard MemoryLayout<SlotKind>.size == 1, MemoryLayout<SlotKind>.stride == 1 else { return false }
        return [SlotKind.x, .p, .vacuum].allSatisfy { kind in withUnsafeBytes(of: kind) { $0[0] } == kind.rawValue }
    }()
}

/// Samples from a digitiser: volts, one per optical mode slot.
public struct SampleBlock: Sendable, Equatable {
    public var volts: [Float]
    public var sampleRate: Frequency
    /// Samples at (or beyond) the digitiser's rails: their true value is unknown, so a variance
    /// computed with them is biased low. A saturated receiver hides excess noise; the server's
    /// check refuses to certify a session with any (PROTOCOL.md §5b). Every receiver counts them
    /// against its own full scale, over every digitiser sample that went into `volts` (the scope
    /// driver: codes at the ADC rails; the twin: samples at its digitiser's rails).
    public var clippedSamples: Int
    public init(volts: [Float], sampleRate: Frequency, clippedSamples: Int = 0) {
        self.volts = volts; self.sampleRate = sampleRate; self.clippedSamples = clippedSamples
    }
}

/// A balanced homodyne receiver read by a digitiser.
///
/// Triggered use (the protocol): `loadSlotPattern` once, `arm`, the bench trigger fires, `fetch`
/// returns one sample per mode slot of every triggered shot. Free-running use (calibration):
/// `acquire(count:)` captures what is at the input now.
public protocol HomodyneReceiver: BenchDevice {
    func setLocalOscillatorPower(_ power: Power) async throws
    func localOscillatorPower() async throws -> Power
    /// LO phase offset added to every slot (the phase reference, set by calibration).
    func setLocalOscillatorPhase(_ phase: Phase) async throws
    /// Per-slot measurement plan of one shot, used by every following shot until the next load
    /// (repeated over the shot if shorter). A run loads a fresh random pattern for every burst.
    func loadSlotPattern(_ pattern: [SlotKind]) async throws
    /// Blocks or unblocks the signal input for free-running captures (SNU calibration).
    func setInputBlocked(_ blocked: Bool) async throws
    /// Prepares to record `shots` triggered shots.
    func arm(shots: Int) async throws
    /// Returns the samples of the armed shots once they are in; times out if no trigger came.
    func fetch(timeout: Duration) async throws -> SampleBlock
    /// As `fetch(timeout:)`, but hands the record of `shots` shots of `slotsPerShot` slots to
    /// `sink` in tiles instead of returning it (`SampleSink`); a record of another size is refused
    /// before the sink sees any of it. Default: the fetched record as one tile.
    func fetch(timeout: Duration, shots: Int, slotsPerShot: Int, into sink: any SampleSink) async throws -> StreamedRecord
    /// Captures `count` samples of the current input without a trigger.
    func acquire(count: Int) async throws -> SampleBlock
}
