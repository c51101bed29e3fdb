import BenchIO
import BenchKit
import Foundation

/// The client's interferometer as an IQ Mach–Zehnder modulator in the client's signal path,
/// driven by Keysight 33500B-series AWG channels (USBTMC 0957:2807), as a BenchKit
/// `ClientProcessor`: in each shot it multiplies the field of the n signal slots of every row by
/// conj(ξ_j), slot by slot (a time-domain U_x acting on the row's modes one at a time; the row's
/// sum is the client receiver's), and leaves the vacuum slots at zero drive.
///
/// Drives: each arm biased at its null (`bias-i`, `bias-q`: the channel offsets), field
/// t = field-scale · Re conj(ξ_j) on I and field-scale · Im conj(ξ_j) on Q, pre-distorted with the
/// arm's Vπ (`MachZehnder.drive`, docs/hardware.md §6.1, as the server's encoder does); the outer
/// phase section (optional `phase` channel) held at `bias-phase`.
///
/// Playback: shot k of a program must play on the k-th trigger of the burst, and each shot has
/// its own ξ, so one triggered arb (the server's modulator: the same frame every shot) is not
/// enough. Each arm's shots are uploaded as segments of one arb sequence (DATA:SEQuence, every
/// segment `onceWaitTrig`), led by an all-zero arm segment: the sequence starts at zero drive and
/// each trigger plays the next shot (`Keysight33500BChannel.playSequence`). Every segment ends with
/// one zero-drive sample, so the level held between triggers is the null bias. The commands and
/// their manual sections are on `Keysight33500BChannel`.
///
/// Safe state: every output off, burst off, function DC (the processor unprogrammed).
///
/// This is diag(conj ξ_j) slot by slot, not the twin's mesh (a unitary with first row conj(ξ)):
/// it attenuates each slot by |ξ_j| and leaves each slot's vacuum noise in place, and returned
/// light passing it again carries the |ξ_j| pattern. Whether that is acceptable for the protocol
/// is open (docs/real-bench.md, "The client's site").
public actor Keysight33500BProcessor: ClientProcessor {
    public struct Configuration: Sendable {
        public var symbolRate: Frequency
        public var vPiI: Voltage
        public var vPiQ: Voltage
        public var biasI: Voltage = .zero
        public var biasQ: Voltage = .zero
        public var biasPhase: Voltage?
        /// Arm field for |Re ξ| = 1 (or |Im ξ| = 1); 0 < field-scale ≤ 1.
        public var fieldScale = 1.0

        public init(symbolRate: Frequency, vPiI: Voltage, vPiQ: Voltage) {
            self.symbolRate = symbolRate; self.vPiI = vPiI; self.vPiQ = vPiQ
        }
    }

    public nonisolated var family: DeviceFamily { .clientProcessor }
    public nonisolated let device: String
    let i: Keysight33500BChannel
    let q: Keysight33500BChannel
    let phase: Keysight33500BChannel?
    let configuration: Configuration
    var programmed: (shots: Int, layout: FrameLayout)?

    static let names: [ModulatorChannel: String] = [.i: "XI", .q: "XQ"]
    /// The largest shot count the segment names (`XI_S0001` …) allow.
    public static let maximumShots = 9999

    init(device: String, i: Keysight33500BChannel, q: Keysight33500BChannel, phase: Keysight33500BChannel?, configuration: Configuration) {
        self.device = device; self.i = i; self.q = q; self.phase = phase; self.configuration = configuration
    }

    /// Opens the channels (their loads); nothing plays until `program`.
    public static func open(device: String, i: Keysight33500BChannel, q: Keysight33500BChannel, phase: Keysight33500BChannel?,
                            configuration: Configuration) async throws -> Keysight33500BProcessor {
        for ch in [i, q] + (phase.map { [$0] } ?? []) { try await ch.configureLoad(device) }
        return Keysight33500BProcessor(device: device, i: i, q: q, phase: phase, configuration: configuration)
    }

    /// Samples per segment: one per slot, one zero-drive sample after the shot, at least 8.
    public static func segmentLength(_ layout: FrameLayout) -> Int { max(8, layout.slotsPerShot + 1) }

    /// The drive of each arm for each shot (volts from the null bias, `segmentLength` samples per
    /// shot), after checking the layout and every ξ (no I/O).
    public func drives(_ symbols: [[ComplexSymbol]], layout: FrameLayout) throws -> (i: [[Float]], q: [[Float]]) {
        guard layout.rows > 0, layout.modesPerRow > 0, layout.vacuumSlotsPerRow >= 0 else {
            throw DeviceError.refused(device, "layout \(layout.rows) × (\(layout.modesPerRow) + \(layout.vacuumSlotsPerRow)) is empty", remedy: "give at least one row of at least one mode")
        }
        guard (1...Self.maximumShots).contains(symbols.count) else {
            throw DeviceError.refused(device, "\(symbols.count) shots: the processor plays 1 … \(Self.maximumShots) per program", remedy: "program each burst's shots, at most \(Self.maximumShots)")
        }
        let length = Self.segmentLength(layout)
        let points = (symbols.count + 1) * length
        guard points <= i.limits.arbPoints.upperBound else {
            throw DeviceError.refused(device, "\(symbols.count) shots of \(length) samples need \(points) points; the AWG holds \(i.limits.arbPoints.upperBound)",
                                      remedy: "use fewer shots per burst (\(i.limits.arbPoints.upperBound / length - 1) fit)")
        }
        var di: [[Float]] = [], dq: [[Float]] = []
        for (k, xi) in symbols.enumerated() {
            guard xi.count == layout.modesPerRow else {
                throw DeviceError.refused(device, "ξ of shot \(k) has \(xi.count) symbols, the layout \(layout.modesPerRow) modes per row", remedy: "pack ⌈N_in/2⌉ symbols per shot")
            }
            var norm2 = 0.0
            for z in xi {
                guard z.re.isFinite, z.im.isFinite else {
                    throw DeviceError.refused(device, "ξ of shot \(k) has a non-finite symbol", remedy: "check the client's encoder")
                }
                norm2 += Double(z.re) * Double(z.re) + Double(z.im) * Double(z.im)
            }
            guard norm2 == 0 || abs(norm2 - 1) < 1e-3 else {
                throw DeviceError.refused(device, "ξ of shot \(k) has norm² \(norm2): U_x needs a unit first row", remedy: "normalise the layer input (x̂ = z/‖z‖) before packing ξ")
            }
            var vi = [Float](repeating: 0, count: length), vq = vi
            for s in 0..<layout.slotsPerShot where layout.isSignal(slot: s) {
                let z = xi[s % layout.slotsPerRow]
                // conj(ξ_j) = Re ξ_j − i·Im ξ_j.
                vi[s] = MachZehnder.drive(field: configuration.fieldScale * Double(z.re), vPi: configuration.vPiI.si)
                vq[s] = MachZehnder.drive(field: -configuration.fieldScale * Double(z.im), vPi: configuration.vPiQ.si)
            }
            di.append(vi); dq.append(vq)
        }
        return (di, dq)
    }

    // MARK: - BenchDevice

    public func identify() async throws -> InstrumentIdentity { try await i.identify(device) }

    public func makeSafe() async throws {
        for ch in [i, q] + (phase.map { [$0] } ?? []) { try await ch.switchOff(device) }
        programmed = nil
    }

    public func settings() async throws -> [String: String] {
        var out = ["i": "\(i.name), bias \(configuration.biasI), Vπ \(configuration.vPiI)", "q": "\(q.name), bias \(configuration.biasQ), Vπ \(configuration.vPiQ)",
                   "field-scale": String(format: "%.6g", configuration.fieldScale), "symbol-rate": "\(configuration.symbolRate)"]
        if let phase, let b = configuration.biasPhase { out["phase"] = "\(phase.name), bias \(b)" }
        if let p = programmed {
            out["program"] = "\(p.shots) shots"
            out["layout"] = "\(p.layout.rows) rows × (\(p.layout.modesPerRow) modes + \(p.layout.vacuumSlotsPerRow) vacuum slots)"
        } else {
            out["program"] = "none"
        }
        return out
    }

    // MARK: - ClientProcessor

    public func program(_ symbols: [[ComplexSymbol]], layout: FrameLayout) async throws {
        let (di, dq) = try drives(symbols, layout: layout)
        var plans: [(ModulatorChannel, Keysight33500BChannel, Voltage, Voltage, [[Int16]])] = []
        for (arm, ch, bias, shots) in [(ModulatorChannel.i, i, configuration.biasI, di), (.q, q, configuration.biasQ, dq)] {
            try ch.checkSampleRate(configuration.symbolRate, device)
            let plan = try ch.plan(shots.flatMap { $0 }, offset: bias, device, what: "the \(arm.rawValue) drive")
            let length = shots.first?.count ?? 0
            let segments = (0..<shots.count).map { Array(plan.codes[($0 * length)..<(($0 + 1) * length)]) }
            plans.append((arm, ch, plan.amplitude, bias, segments))
        }
        programmed = nil
        do {
            for (arm, ch, amplitude, bias, segments) in plans {
                let prefix = Self.names[arm]!
                let named = [(name: "\(prefix)_ARM", codes: [Int16](repeating: 0, count: segments[0].count))]
                    + segments.enumerated().map { (name: "\(prefix)_S" + String(format: "%04d", $0.offset + 1), codes: $0.element) }
                try await ch.playSequence("\(prefix)_SEQ", segments: named, rate: configuration.symbolRate, amplitude: amplitude, offset: bias, device)
            }
        } catch {
            // Never leave one arm playing the new program and the other the old one (or none):
            // both outputs off, then the error.
            for ch in [i, q] { try? await ch.switchOff(device) }
            throw error
        }
        if let phase, let b = configuration.biasPhase {
            try await phase.holdLevel(b, enableOutput: true, device)
        }
        programmed = (symbols.count, layout)
    }
}

/// `driver: keysight-33500b-processor`. Options: `i`, `q` (required) and `phase` (optional) as for
/// `keysight-33500b`; `symbol-rate`, `v-pi-i`, `v-pi-q` (required); `bias-i`, `bias-q` (0 V),
/// `bias-phase` (required with `phase`), `field-scale` (1).
public struct Keysight33500BProcessorDriver: DriverFactory {
    public let name = "keysight-33500b-processor"
    public let families: [DeviceFamily] = [.clientProcessor]
    let modulator: Keysight33500BDriver
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        self.modulator = try Keysight33500BDriver(description: description, connector: connector)
        self.connector = connector
    }

    var limits: Keysight33500BLimits { modulator.limits }

    public var summary: String { "client interferometer as an IQ modulator on \(modulator.description.manufacturer) \(modulator.description.name) channels over USBTMC; commands: \(modulator.description.manual)" }

    static let optionKeys = ["symbol-rate", "v-pi-i", "v-pi-q", "bias-i", "bias-q", "bias-phase", "field-scale"]

    func configuration(_ binding: RoleBinding) throws(BenchFileError) -> ([ModulatorChannel: AWGChannelOption], Keysight33500BProcessor.Configuration) {
        let map = try modulator.channelMap(binding, extraOptions: Self.optionKeys)
        guard let o = binding.options else { throw binding.fail(binding.benchFile, "driver \(name) needs options") }
        let rateReader = try o.required("symbol-rate", "the slot rate the client's AWG plays, the same as the server's, e.g. 'symbol-rate: 10 MBd'")
        let rate = try rateReader.positive(Frequency.self, "symbol-rate")
        guard limits.sampleRate.contains(rate) else {
            throw rateReader.fail("symbol-rate \(rate) is beyond the AWG's \(limits.sampleRate.text) Sa/s (\(limits.sampleRate.source))")
        }
        var c = Keysight33500BProcessor.Configuration(
            symbolRate: rate,
            vPiI: try o.required("v-pi-i", "the I arm's Vπ, e.g. 'v-pi-i: 4.5 V'").positive(Voltage.self, "v-pi-i"),
            vPiQ: try o.required("v-pi-q", "the Q arm's Vπ, e.g. 'v-pi-q: 4.5 V'").positive(Voltage.self, "v-pi-q"))
        for (key, arm) in [("bias-i", ModulatorChannel.i), ("bias-q", .q), ("bias-phase", .phase)] {
            guard let r = try o.optional(key) else { continue }
            guard let ch = map[arm] else { throw r.fail("\(key) is given but no '\(arm.rawValue)' channel is bound") }
            let v = try r.quantity(Voltage.self)
            let window = limits.window(ch.load)
            guard window.contains(v) else { throw r.fail("\(key) \(v) is outside the channel's output window \(window.text) (\(window.source))") }
            switch arm {
            case .i: c.biasI = v
            case .q: c.biasQ = v
            case .phase: c.biasPhase = v
            }
        }
        if let r = try o.optional("phase"), c.biasPhase == nil {
            throw r.fail("a bound 'phase' channel needs 'bias-phase': the outer phase section's bias (90° between the arms)")
        }
        if let r = try o.optional("field-scale") { c.fieldScale = try r.double(in: 1e-6...1, "field-scale") }
        return (map, c)
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try configuration(binding)
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        _ = try binding.usbtmcAddress()
        let (map, c) = try configuration(binding)
        var channels: [ModulatorChannel: Keysight33500BChannel] = [:]
        for (arm, option) in map { channels[arm] = try await option.open(context, connector: connector, limits: limits) }
        return try await Keysight33500BProcessor.open(device: binding.deviceName, i: channels[.i]!, q: channels[.q]!, phase: channels[.phase], configuration: c)
    }
}
