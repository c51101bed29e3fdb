import BenchIO
import BenchKit
import Foundation

/// An IQ Mach–Zehnder modulator driven by Keysight 33500B-series AWG channels (USBTMC 0957:2807),
/// as a BenchKit `Modulator`.
///
/// The bench file's `options:` map the modulator's inputs to AWG channels (one or several AWGs):
/// `i` and `q` carry the RF drive, played once per bench trigger, with the arm's DC bias as the
/// channel offset; `phase` (optional) is a DC level on another channel. Commands and their manual
/// sections are listed on `Keysight33500BChannel` (Keysight 33500B/33600A Operating and Service
/// Guide, SCPI Programming Reference).
///
/// Outputs: `loadDrive` and `setStaticDrive` switch the i/q outputs on; `setBias` switches its
/// channel on (a bias on a switched-off output would silently do nothing); `zeroDrive` holds each
/// arm at its bias without touching the output state; `makeSafe` switches every output off.
public actor Keysight33500B: Modulator {
    struct ArmState: Sendable {
        var bias: Voltage = .zero
        /// Static drive added to the bias while the channel is in DC mode.
        var staticDrive: Voltage = .zero
        /// Peak-to-peak amplitude of the waveform playing, nil in DC mode.
        var playing: Voltage?
        var outputOn = false
    }

    public nonisolated var family: DeviceFamily { .modulator }
    public nonisolated let device: String
    let channels: [ModulatorChannel: Keysight33500BChannel]
    let softDrive: LimitRange?
    let softBias: LimitRange?
    var state: [ModulatorChannel: ArmState] = [:]

    static let arbNames: [ModulatorChannel: String] = [.i: "QBENCH_I", .q: "QBENCH_Q"]

    init(device: String, channels: [ModulatorChannel: Keysight33500BChannel], softDrive: LimitRange?, softBias: LimitRange?) {
        self.device = device
        self.channels = channels
        self.softDrive = softDrive
        self.softBias = softBias
    }

    /// Opens the modulator: sets each channel's load, reads back its offset (the bias) and output
    /// state. `channels` must hold `.i` and `.q`; `.phase` is optional.
    public static func open(device: String, channels: [ModulatorChannel: Keysight33500BChannel],
                            softDrive: LimitRange? = nil, softBias: LimitRange? = nil) async throws -> Keysight33500B {
        precondition(channels[.i] != nil && channels[.q] != nil, "an IQ modulator needs i and q channels")
        let m = Keysight33500B(device: device, channels: channels, softDrive: softDrive, softBias: softBias)
        try await m.prepare()
        return m
    }

    func prepare() async throws {
        for arm in ModulatorChannel.allCases {
            guard let ch = channels[arm] else { continue }
            try await ch.configureLoad(device)
            var s = ArmState()
            s.bias = try await ch.offset(device)
            s.outputOn = try await ch.isOutputOn(device)
            state[arm] = s
        }
    }

    /// Reopens each AWG by its address (USB serial number), sets each channel's load as opening
    /// does, and holds each arm at the bias this session set with its output as it was. A
    /// power-cycled AWG lost the drive waveform and any static drive: the arms come back at their
    /// biases, and the station loads the layer's drive again after its warm-up.
    public func reconnect() async throws {
        var reopened: Set<ObjectIdentifier> = []
        for arm in ModulatorChannel.allCases {
            guard let link = channels[arm]?.link, reopened.insert(ObjectIdentifier(link)).inserted else { continue }
            try await link.reopen(device)
        }
        for arm in ModulatorChannel.allCases {
            guard let ch = channels[arm] else { continue }
            try await ch.configureLoad(device)
            guard var s = state[arm] else { continue }
            try await ch.holdLevel(s.bias, enableOutput: s.outputOn, device)
            s.playing = nil
            s.staticDrive = .zero
            state[arm] = s
        }
    }

    func channel(_ arm: ModulatorChannel) throws -> Keysight33500BChannel {
        guard let ch = channels[arm] else {
            throw DeviceError(.invalidRequest, device: device, message: "no AWG channel drives the modulator's \(arm.rawValue) input",
                              remedy: "bind it in the bench file: options: {\(arm.rawValue): {awg: \"usbtmc://0957:2807?serial=…\", channel: 1}}")
        }
        return ch
    }

    private func checkSoft(_ limit: LimitRange?, _ name: String, _ values: [Double]) throws {
        guard let limit else { return }
        for v in values where !limit.contains(v) {
            throw DeviceError.refused(device, "\(name) \(Voltage.volts(v)) is outside the bench limit (declared at \(limit.source))",
                                      remedy: "stay within the bench file's \(name) limit")
        }
    }

    // MARK: - BenchDevice

    public func identify() async throws -> InstrumentIdentity { try await channel(.i).identify(device) }

    public func makeSafe() async throws {
        for arm in ModulatorChannel.allCases {
            guard let ch = channels[arm] else { continue }
            try await ch.switchOff(device)
            state[arm]?.outputOn = false
            state[arm]?.playing = nil
            state[arm]?.staticDrive = .zero
        }
    }

    public func settings() async throws -> [String: String] {
        var out: [String: String] = [:]
        for arm in ModulatorChannel.allCases {
            guard let ch = channels[arm], let s = state[arm] else { continue }
            let mode = s.playing.map { "waveform \($0) p-p" } ?? "DC"
            out["\(arm.rawValue)"] = "\(ch.name), load \(ch.load == .fiftyOhm ? "50 Ω" : "high-Z"), \(mode), bias \(s.bias), static \(s.staticDrive), output \(s.outputOn ? "on" : "off")"
        }
        return out
    }

    // MARK: - Modulator

    public func loadDrive(i: Waveform, q: Waveform) async throws {
        guard i.volts.count == q.volts.count, i.sampleRate == q.sampleRate else {
            throw DeviceError.refused(device, "the i and q waveforms differ in length (\(i.volts.count), \(q.volts.count)) or rate (\(i.sampleRate), \(q.sampleRate))",
                                      remedy: "give both arms the same number of samples at the same rate")
        }
        try checkSoft(softDrive, "drive", [i.minimum.si, i.maximum.si, q.minimum.si, q.maximum.si])
        var plans: [(ModulatorChannel, Keysight33500BChannel, Voltage, [Int16])] = []
        for (arm, w) in [(ModulatorChannel.i, i), (.q, q)] {
            let ch = try channel(arm)
            try ch.checkSampleRate(w.sampleRate, device)
            let plan = try ch.plan(w.volts, offset: state[arm]?.bias ?? .zero, device, what: "the \(arm.rawValue) drive")
            plans.append((arm, ch, plan.amplitude, plan.codes))
        }
        for (arm, ch, amplitude, codes) in plans {
            try await ch.playTriggered(arbName: Self.arbNames[arm]!, codes: codes, rate: i.sampleRate, amplitude: amplitude,
                                       offset: state[arm]?.bias ?? .zero, device)
            state[arm]?.playing = amplitude
            state[arm]?.staticDrive = .zero
            state[arm]?.outputOn = true
        }
    }

    public func setStaticDrive(i: Voltage, q: Voltage) async throws {
        try checkSoft(softDrive, "drive", [i.si, q.si])
        var levels: [(ModulatorChannel, Keysight33500BChannel, Voltage)] = []
        for (arm, v) in [(ModulatorChannel.i, i), (.q, q)] {
            let ch = try channel(arm)
            let level = (state[arm]?.bias ?? .zero) + v
            try ch.checkLevel(level, device, what: "the \(arm.rawValue) level (bias + drive)")
            levels.append((arm, ch, level))
        }
        for ((arm, ch, level), v) in zip(levels, [i, q]) {
            try await ch.holdLevel(level, enableOutput: !(state[arm]?.outputOn ?? false), device)
            state[arm]?.playing = nil
            state[arm]?.staticDrive = v
            state[arm]?.outputOn = true
        }
    }

    public func setBias(_ arm: ModulatorChannel, _ voltage: Voltage) async throws {
        try checkSoft(softBias, "bias", [voltage.si])
        let ch = try channel(arm)
        let s = state[arm] ?? ArmState()
        if let amplitude = s.playing {
            let window = ch.limits.window(ch.load)
            guard (voltage + amplitude / 2) <= window.max, (voltage - amplitude / 2) >= window.min else {
                throw DeviceError.refused(device, "bias \(voltage) under the playing \(amplitude) p-p drive leaves \(ch.name)'s output window \(window.text)",
                                          remedy: "reduce the bias or the drive (\(window.source))")
            }
            try await ch.setOffset(voltage, enableOutput: !s.outputOn, device)
        } else {
            let level = voltage + s.staticDrive
            try ch.checkLevel(level, device, what: "the \(arm.rawValue) level (bias + drive)")
            try await ch.holdLevel(level, enableOutput: !s.outputOn, device)
        }
        state[arm, default: ArmState()].bias = voltage
        state[arm]?.outputOn = true
    }

    /// The bias read back from the channel (its offset, minus the static drive in DC mode).
    public func bias(_ arm: ModulatorChannel) async throws -> Voltage {
        let ch = try channel(arm)
        let offset = try await ch.offset(device)
        let s = state[arm] ?? ArmState()
        return s.playing == nil ? offset - s.staticDrive : offset
    }

    public func zeroDrive() async throws {
        for arm in [ModulatorChannel.i, .q] {
            let ch = try channel(arm)
            let bias = state[arm]?.bias ?? .zero
            try await ch.holdLevel(bias, enableOutput: false, device)
            state[arm]?.playing = nil
            state[arm]?.staticDrive = .zero
        }
    }
}

/// `driver: keysight-33500b`. Options: `i`, `q` (required) and `phase` (optional), each
/// `{awg: usbtmc://…, channel: n, load: 50 Ω | high-z}` (`awg` defaults to the role's address).
public struct Keysight33500BDriver: DriverFactory {
    public let name = "keysight-33500b"
    public let families: [DeviceFamily] = [.modulator]
    public let description: InstrumentDescription
    public let limits: Keysight33500BLimits
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        self.description = description
        self.limits = try Keysight33500BLimits(description)
        self.connector = connector
    }

    public var summary: String { "IQ modulator on \(description.manufacturer) \(description.name) channels over USBTMC; commands: \(description.manual)" }

    /// The widest the AWG can do (high-Z); each binding is checked against its own loads in `validate`.
    public func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] {
        guard family == .modulator else { return [:] }
        let w = limits.offsetHighZ.limitRange
        return ["drive": w, "bias": w]
    }

    /// The `i`, `q` and `phase` channels of an IQ modulator's options (`extraOptions`: further
    /// keys a driver built on these channels accepts beside them).
    func channelMap(_ binding: RoleBinding, extraOptions: [String] = []) throws(BenchFileError) -> [ModulatorChannel: AWGChannelOption] {
        guard let o = try binding.options(allowed: ModulatorChannel.allCases.map(\.rawValue) + extraOptions) else {
            throw binding.fail(binding.benchFile, "driver \(binding.driver) needs 'options:' mapping the modulator inputs to AWG channels, e.g. {i: {channel: 1}, q: {channel: 2}, phase: {awg: \"usbtmc://0957:2807?serial=MY2\", channel: 1}}")
        }
        var map: [ModulatorChannel: AWGChannelOption] = [:]
        var seen: [AWGChannelOption: (ModulatorChannel, Int)] = [:]
        for arm in ModulatorChannel.allCases {
            guard let r = try o.optional(arm.rawValue) else {
                if arm == .phase { continue }
                throw o.fail("is missing '\(arm.rawValue)': the AWG channel driving the \(arm.rawValue) arm, e.g. '\(arm.rawValue): {channel: \(arm == .i ? 1 : 2)}'")
            }
            let option = try AWGChannelOption.parse(r, defaultAWG: binding.address, limits: limits)
            var key = option
            key.load = .fiftyOhm
            if let (other, _) = seen[key] {
                throw r.fail("\(arm.rawValue) uses the same AWG channel as \(other.rawValue)")
            }
            seen[key] = (arm, r.tree.line)
            map[arm] = option
            for (name, limit) in [("drive", binding.softLimit("drive")), ("bias", binding.softLimit("bias"))] {
                guard let limit, arm != .phase || name == "bias" else { continue }
                let window = limits.window(option.load)
                for bound in [limit.min, limit.max].compactMap({ $0 }) where !window.contains(.volts(bound)) {
                    let line = Int(limit.source.split(separator: ":").last ?? "") ?? r.tree.line
                    throw BenchFileError(file: r.file, line: line,
                                         message: "limit violated: the \(name) limit \(Voltage.volts(bound)) lies outside what channel \(option.channel) (\(arm.rawValue), line \(r.tree.line)) can output into \(option.load == .fiftyOhm ? "50 Ω" : "high-Z") (\(window.text), \(window.source))")
                }
            }
        }
        return map
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try channelMap(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] {
        guard let o = try binding.options(allowed: ModulatorChannel.allCases.map(\.rawValue)) else { return [] }
        var out: [OutputClaim] = []
        for (arm, option) in try channelMap(binding).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            out.append(option.claim("\(arm.rawValue) arm", line: try o.optional(arm.rawValue)?.tree.line ?? binding.line))
        }
        return out
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        _ = try binding.usbtmcAddress()
        var channels: [ModulatorChannel: Keysight33500BChannel] = [:]
        for (arm, option) in try channelMap(binding) {
            channels[arm] = try await option.open(context, connector: connector, limits: limits)
        }
        return try await Keysight33500B.open(device: binding.deviceName, channels: channels,
                                             softDrive: binding.softLimit("drive"), softBias: binding.softLimit("bias"))
    }
}
