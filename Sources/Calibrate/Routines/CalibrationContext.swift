import BenchKit
import Foundation

/// How hard each routine measures, and for how long its result stays valid.
public struct CalibrationSettings: Sendable, Codable, Equatable {
    /// Averaging of each power-meter reading.
    public var meterAveraging: Duration = .milliseconds(50)
    /// Points of the laser L-I sweep and of each modulator bias sweep.
    public var laserPoints = 24
    public var biasPoints = 121
    /// Samples per LO power level (SNU fit) and for the electronic noise.
    public var homodyneSamples = 1_000_000
    /// Shots of the back-to-back and link measurements, and their frame size.
    public var referenceShots = 256
    public var referenceRows = 64
    public var referenceModesPerRow = 392
    public var referenceVacuumPerRow = 392
    /// The operating point the run will use: μ at the client input and the client's gain.
    public var photonsPerMode = 4.0
    public var gain = 2.0
    /// Largest arm field used when encoding (|t| ≤ this keeps the arcsin pre-distortion well conditioned).
    public var maximumField = 0.3
    /// Relative (1σ) calibration uncertainty of the reference power meter, from its certificate.
    public var meterCertificateUncertainty = 0.005
    /// Validity of each kind.
    public var validity: [CalibrationKind: Duration] = [
        .laser: .seconds(30 * 86400), .modulator: .seconds(3600), .attenuation: .seconds(7 * 86400),
        .homodyne: .seconds(8 * 3600), .backToBack: .seconds(3600), .link: .seconds(86400),
    ]
    public init() {}
}

/// Everything a routine needs: the open bench, the store, settings, and bookkeeping of the
/// measurements it takes and the bench time they cost.
public final class CalibrationContext: @unchecked Sendable {
    public let bench: Bench
    public let store: CalibrationStore
    public let settings: CalibrationSettings
    public let codeVersion: String
    public let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var measurementCount = 0
    private var seconds = 0.0

    public init(bench: Bench, store: CalibrationStore, settings: CalibrationSettings = CalibrationSettings(),
                codeVersion: String, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.bench = bench; self.store = store; self.settings = settings; self.codeVersion = codeVersion; self.log = log
    }

    public var benchName: String { bench.description.name }
    public var symbolRate: Frequency { bench.description.symbolRate }

    /// Counts `n` measurements costing `benchTime` seconds of bench time.
    public func count(_ n: Int, benchTime: Double) {
        lock.lock(); measurementCount += n; seconds += benchTime; lock.unlock()
    }

    /// Resets and returns the tally (one per routine).
    public func takeTally() -> (measurements: Int, seconds: Double) {
        lock.lock(); defer { measurementCount = 0; seconds = 0; lock.unlock() }
        return (measurementCount, seconds)
    }

    // MARK: measurement helpers that keep the tally

    /// One meter reading, averaged `factor` times the standard averaging time.
    public func readPower(_ meter: any PowerMeter, averagingFactor factor: Int = 1) async throws -> Power {
        let averaging = settings.meterAveraging * factor
        let p = try await meter.readPower(averaging: averaging)
        count(1, benchTime: averaging.inSeconds)
        return p
    }

    public func acquire(_ receiver: any HomodyneReceiver, count n: Int) async throws -> [Float] {
        let block = try await receiver.acquire(count: n)
        count(n, benchTime: Double(n) / block.sampleRate.hertz)
        return block.volts
    }

    /// Fires `shots` shots of `layout` and returns the samples of the armed receivers.
    public func shots(_ shots: Int, layout: FrameLayout, receivers: [any HomodyneReceiver]) async throws -> [[Float]] {
        for r in receivers { try await r.arm(shots: shots) }
        try await bench.trigger().fire(shots: shots)
        var out: [[Float]] = []
        for r in receivers { out.append(try await r.fetch(timeout: .seconds(30)).volts) }
        count(shots * layout.slotsPerShot, benchTime: Double(shots * layout.slotsPerShot) / symbolRate.hertz)
        return out
    }

    /// The active record of a kind a routine depends on (with the present instrument's identity).
    public func prerequisite(_ kind: CalibrationKind, role: Role, for routine: CalibrationKind) async throws -> CalibrationRecord {
        do {
            return try store.active(bench: benchName, role: role.rawValue, kind: kind, device: try await bench.device(role).identify())
        } catch let e as CalibrationError {
            if case .missing = e { throw CalibrationError.prerequisite(kind: routine, missing: kind, bench: benchName) }
            throw e
        }
    }

    /// Builds, seals and stores a record with its raw data and plot, and activates it.
    @discardableResult
    public func save(kind: CalibrationKind, role: Role, values: [String: CalibratedValue], method: String, fit: [String: Double],
                     raw: some Encodable, plot: String?, inputs: [String]) async throws -> CalibrationRecord {
        let now = Date()
        let id = store.newID(bench: benchName, role: role.rawValue, kind: kind, at: now)
        let stem = String(id.split(separator: "/").last!)
        let tally = takeTally()
        let validity = bench.description.calibrationValidity[kind.rawValue] ?? settings.validity[kind] ?? .seconds(3600)
        let record = CalibrationRecord(
            schema: CalibrationRecord.schemaVersion, id: id, bench: benchName, role: role.rawValue, kind: kind, createdAt: now,
            validUntil: now.addingTimeInterval(validity.inSeconds), device: try await bench.device(role).identify(),
            codeVersion: codeVersion, values: values, method: method, fit: fit, rawData: stem + ".raw.json",
            plot: plot == nil ? nil : stem + ".svg", measurements: tally.measurements, benchSeconds: tally.seconds, inputs: inputs, seal: nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let saved = try store.add(record, rawData: try encoder.encode(raw), plot: plot)
        log("\(kind.rawValue): stored \(saved.id) (\(tally.measurements) measurements, \(String(format: "%.3g", tally.seconds)) s bench time)")
        return saved
    }
}

extension Bench {
    /// The lowest VOA setting the bench allows: its soft limit, and, with `shutterOpen`, any
    /// constraint of the form "while the shutter is open the attenuation must be at least X".
    public func attenuationFloor(shutterOpen: Bool) -> Double {
        var floor = description.bindings[.serverAttenuator]?.limits["attenuation"]?.min ?? 0
        guard shutterOpen else { return floor }
        for c in description.constraints where c.condition.role == .shutter && c.condition.holds(1)
            && c.requirement.role == .serverAttenuator && [.ge, .gt].contains(c.requirement.op) {
            floor = max(floor, c.requirement.value + (c.requirement.op == .gt ? 0.01 : 0))
        }
        return floor
    }
}
