import BenchIO
import BenchKit
import Foundation

/// The hardware ranges of a Keysight 33500B-series AWG, from `Devices/instruments/keysight-33500b.yaml`.
public struct Keysight33500BLimits: Sendable {
    public var channels: Int
    public var offset50Ohm: InstrumentRange<VoltageDimension>
    public var offsetHighZ: InstrumentRange<VoltageDimension>
    public var amplitude50Ohm: InstrumentRange<VoltageDimension>
    public var amplitudeHighZ: InstrumentRange<VoltageDimension>
    public var sampleRate: InstrumentRange<FrequencyDimension>
    public var arbPoints: ClosedRange<Int>
    /// DAC code of full scale (±32767 for DATA:ARB:DAC).
    public var dacFullScale: Int

    public init(_ d: InstrumentDescription) throws(BenchFileError) {
        channels = try d.count("channels")
        offset50Ohm = try d.range("output-50ohm", Voltage.self)
        offsetHighZ = try d.range("output-high-z", Voltage.self)
        amplitude50Ohm = try d.range("amplitude-50ohm", Voltage.self)
        amplitudeHighZ = try d.range("amplitude-high-z", Voltage.self)
        sampleRate = try d.range("sample-rate", Frequency.self)
        arbPoints = try d.countRange("arb-points")
        dacFullScale = try d.count("dac-full-scale")
    }

    /// The output window (offset plus half the peak-to-peak amplitude must stay inside).
    public func window(_ load: Keysight33500BChannel.Load) -> InstrumentRange<VoltageDimension> {
        load == .fiftyOhm ? offset50Ohm : offsetHighZ
    }

    public func amplitude(_ load: Keysight33500BChannel.Load) -> InstrumentRange<VoltageDimension> {
        load == .fiftyOhm ? amplitude50Ohm : amplitudeHighZ
    }
}

/// One output channel of a Keysight 33500B-series AWG (USBTMC 0957:2807), which the IQ modulator
/// driver and the homodyne receiver's LO-phase and vacuum-gate actuators drive.
///
/// Commands from the Keysight 33500B/33600A Series Trueform Waveform Generators Operating and
/// Service Guide, "SCPI Programming Reference":
/// - `OUTPut[1|2]:LOAD {50|INFinity}` (the programmed voltages are right only if this matches the
///   real load, docs/hardware.md §2.3), `OUTPut[1|2] {ON|OFF}`;
/// - `FORMat:BORDer SWAPped` (little-endian int16 blocks);
/// - `[SOURce[1|2]:]DATA:VOLatile:CLEar`, `[SOURce[1|2]:]DATA:ARBitrary:DAC <name>,<IEEE 488.2
///   definite-length block of int16, −32767…+32767>`, followed by `*OPC?`, both with a timeout
///   scaled to the block (Keysight's arb-upload example allows 60 s and sends `*WAI`);
/// - `[SOURce[1|2]:]FUNCtion:ARBitrary <name>`, `…:FUNCtion:ARBitrary:FILTer STEP` (one held
///   value per sample: one value per optical mode), `…:FUNCtion:ARBitrary:SRATe <Sa/s>`,
///   `…:VOLTage <Vpp>` and `…:VOLTage:OFFSet <V>` (offset 0 first, so no intermediate state leaves
///   the output window). Not `APPLy:ARB`: APPLy sets the trigger source to IMMediate, switches
///   burst off and the output on, so the arb would play continuously, outside the shot window,
///   until burst is armed (33500 guide, TRIGger subsystem);
/// - `[SOURce[1|2]:]BURSt:MODE TRIGgered`, `…:BURSt:NCYCles 1`, `TRIGger[1|2]:SOURce EXTernal`,
///   `…:BURSt:STATe ON`, and only then `OUTPut ON`: the waveform plays once per bench trigger and
///   never free-runs; the output is off from the first command of an upload;
/// - `[SOURce[1|2]:]FUNCtion DC` with `[SOURce[1|2]:]VOLTage:OFFSet <V>` (the DC level) for static
///   levels and biases, always after `…:BURSt:STATe OFF`: "DC is not allowed" as a burst
///   function (33500 help, BURSt subsystem), so FUNC DC with burst on is a settings conflict.
/// Each set command is followed by `SYSTem:ERRor?` (SCPISession).
public struct Keysight33500BChannel: Sendable {
    public enum Load: String, Sendable { case fiftyOhm = "50", highZ = "INF" }

    public let link: InstrumentLink
    public let number: Int
    public let load: Load
    public let limits: Keysight33500BLimits

    public init(link: InstrumentLink, number: Int, load: Load, limits: Keysight33500BLimits) {
        self.link = link
        self.number = number
        self.load = load
        self.limits = limits
    }

    public var name: String { "\(link.resourceName) channel \(number)" }
    var source: String { "SOUR\(number)" }

    // MARK: - Checks (no I/O)

    /// A level the channel can hold (DC function).
    public func checkLevel(_ v: Voltage, _ device: String, what: String) throws {
        let window = limits.window(load)
        guard v.si.isFinite, window.contains(v) else {
            throw DeviceError.refused(device, "\(what) \(v) is outside \(name)'s output window \(window.text) into \(load == .fiftyOhm ? "50 Ω" : "high-Z")",
                                      remedy: "stay within \(window.text) (\(window.source))")
        }
    }

    /// The amplitude and DAC codes for `volts` around `offset`: Vpp = 2·peak (at least the
    /// smallest amplitude), code = v / (Vpp/2) · full scale. Refuses what the channel cannot play.
    public func plan(_ volts: [Float], offset: Voltage, _ device: String, what: String) throws -> (amplitude: Voltage, codes: [Int16]) {
        guard limits.arbPoints.contains(volts.count) else {
            throw DeviceError.refused(device, "\(what) has \(volts.count) samples; \(name) plays \(limits.arbPoints.lowerBound)…\(limits.arbPoints.upperBound)",
                                      remedy: "pad or split the waveform")
        }
        guard volts.allSatisfy(\.isFinite) else {
            throw DeviceError.refused(device, "\(what) contains a non-finite sample", remedy: "check the encoder's output")
        }
        let peak = Double(volts.map { abs($0) }.max() ?? 0)
        let range = limits.amplitude(load)
        let amplitude = Voltage.volts(max(2 * peak, range.min.si))
        guard amplitude <= range.max else {
            throw DeviceError.refused(device, "\(what) spans \(Voltage.volts(2 * peak)) peak to peak; \(name) gives at most \(range.max) into \(load == .fiftyOhm ? "50 Ω" : "high-Z")",
                                      remedy: "reduce the drive (\(range.source))")
        }
        let window = limits.window(load)
        guard (offset + amplitude / 2) <= window.max, (offset - amplitude / 2) >= window.min else {
            throw DeviceError.refused(device, "\(what) of ±\(Voltage.volts(peak)) around \(offset) leaves \(name)'s output window \(window.text)",
                                      remedy: "reduce the drive or the bias (\(window.source))")
        }
        let scale = Double(limits.dacFullScale) / (amplitude.si / 2)
        let full = Double(limits.dacFullScale)
        let codes = volts.map { Int16(max(-full, min(full, (Double($0) * scale).rounded()))) }
        return (amplitude, codes)
    }

    /// Levels (absolute volts, e.g. one LO phase voltage per slot) as a waveform around their
    /// midpoint: the offset is the midpoint, the codes the deviations from it.
    public func planLevels(_ levels: [Float], _ device: String, what: String) throws -> (amplitude: Voltage, offset: Voltage, codes: [Int16]) {
        let hi = Double(levels.max() ?? 0), lo = Double(levels.min() ?? 0)
        let mid = (hi + lo) / 2
        let plan = try plan(levels.map { Float(Double($0) - mid) }, offset: .volts(mid), device, what: what)
        return (plan.amplitude, .volts(mid), plan.codes)
    }

    public func checkSampleRate(_ rate: Frequency, _ device: String) throws {
        guard rate.si.isFinite, limits.sampleRate.contains(rate) else {
            throw DeviceError.refused(device, "sample rate \(rate) is outside \(name)'s \(limits.sampleRate.text) Sa/s",
                                      remedy: "use a rate inside the range (\(limits.sampleRate.source))")
        }
    }

    // MARK: - Commands

    /// `OUTPn:LOAD 50|INF`.
    public func configureLoad(_ device: String) async throws {
        try await link.run(device) { s in try await s.write("OUTP\(number):LOAD \(load.rawValue)") }
    }

    /// The timeout of a transfer of `bytes` bytes: 5 s plus 30 µs per byte (≈ 33 kB/s, what
    /// Keysight's 60 s for a 2 MB arb upload allows), so 1 Mi points (2 MiB) get about 68 s.
    public static func transferTimeout(bytes: Int) -> Duration {
        .seconds(5) + .microseconds(30) * max(0, bytes)
    }

    /// Uploads int16 codes under `arbName` and plays them once per external trigger at `rate`,
    /// `amplitude` peak to peak around `offset`. The output is off from the first command until
    /// the burst is armed (it never plays the arb continuously), then switched on.
    public func playTriggered(arbName: String, codes: [Int16], rate: Frequency, amplitude: Voltage, offset: Voltage, _ device: String) async throws {
        try await link.run(device) { s in
            try await clearForUpload(s)
            try await upload(s, name: arbName, codes: codes)
            try await select(s, name: arbName, rate: rate, amplitude: amplitude, offset: offset)
            try await s.write("\(source):BURS:MODE TRIG")
            try await s.write("\(source):BURS:NCYC 1")
            try await s.write("TRIG\(number):SOUR EXT")
            try await s.write("\(source):BURS:STAT ON")
            try await s.write("OUTP\(number) ON")
        }
    }

    /// Output off, burst off, function DC (FUNC DC only after burst off), volatile memory
    /// cleared, little-endian blocks.
    private func clearForUpload(_ s: SCPISession) async throws {
        try await s.write("OUTP\(number) OFF")
        try await s.write("\(source):BURS:STAT OFF")
        try await s.write("\(source):FUNC DC")
        try await s.write("\(source):DATA:VOL:CLE")
        try await s.write("FORM:BORD SWAP")
    }

    /// One DATA:ARB:DAC block and its *OPC?, under a timeout scaled to the block.
    private func upload(_ s: SCPISession, name: String, codes: [Int16]) async throws {
        var block = [UInt8]()
        block.reserveCapacity(codes.count * 2)
        for c in codes { withUnsafeBytes(of: c.littleEndian) { block += $0 } }
        let uploadTimeout = Self.transferTimeout(bytes: block.count)
        let upload = "\(source):DATA:ARB:DAC \(name),"
        try await s.write(upload, block: block, timeout: uploadTimeout, checkErrors: false)
        try await s.waitForOperationComplete(timeout: uploadTimeout)
        try await s.checkErrorQueue(after: upload + "#<\(block.count) bytes>")
    }

    /// Selects an arb and sets rate, step filter, amplitude and offset one by one
    /// (offset 0 first, so no intermediate state leaves the output window).
    private func select(_ s: SCPISession, name: String, rate: Frequency, amplitude: Voltage, offset: Voltage) async throws {
        try await s.write("\(source):FUNC:ARB \(name)")
        try await s.write("\(source):FUNC ARB")
        try await s.write("\(source):FUNC:ARB:SRAT \(SCPINumber.format(rate.si))")
        try await s.write("\(source):FUNC:ARB:FILT STEP")
        try await s.write("\(source):VOLT:OFFS 0")
        try await s.write("\(source):VOLT \(SCPINumber.format(amplitude.si))")
        try await s.write("\(source):VOLT:OFFS \(SCPINumber.format(offset.si))")
    }

    /// Holds a DC level (function DC, offset = level); the output is switched on when asked.
    /// A channel in burst mode leaves it first (FUNC DC is refused in burst mode); if its output
    /// is on, the output is switched off while burst is off, so the arb never free-runs, and on
    /// again with the DC level.
    public func holdLevel(_ level: Voltage, enableOutput: Bool, _ device: String) async throws {
        try await link.run(device) { s in
            var switchOn = enableOutput
            if try await s.queryBool("\(source):BURS:STAT?") {
                if try await s.queryBool("OUTP\(number)?") {
                    try await s.write("OUTP\(number) OFF")
                    switchOn = true
                }
                try await s.write("\(source):BURS:STAT OFF")
            }
            try await s.write("\(source):FUNC DC")
            try await s.write("\(source):VOLT:OFFS \(SCPINumber.format(level.si))")
            if switchOn { try await s.write("OUTP\(number) ON") }
        }
    }

    /// Changes only the offset (the bias under a playing waveform).
    public func setOffset(_ level: Voltage, enableOutput: Bool, _ device: String) async throws {
        try await link.run(device) { s in
            try await s.write("\(source):VOLT:OFFS \(SCPINumber.format(level.si))")
            if enableOutput { try await s.write("OUTP\(number) ON") }
        }
    }

    public func offset(_ device: String) async throws -> Voltage {
        .volts(try await link.run(device) { s in try await s.queryDouble("\(source):VOLT:OFFS?") })
    }

    /// `SOURn:FUNC?`: the function the channel plays (`DC`, `ARB`, `SIN`, …).
    public func function(_ device: String) async throws -> String {
        try await link.run(device) { s in try await s.query("\(source):FUNC?") }.trimmingCharacters(in: .whitespaces).uppercased()
    }

    public func isOutputOn(_ device: String) async throws -> Bool {
        try await link.run(device) { s in try await s.queryBool("OUTP\(number)?") }
    }

    /// Output off, burst off, and the function back to DC so a later `OUTP ON` cannot replay a
    /// waveform.
    public func switchOff(_ device: String) async throws {
        try await link.run(device) { s in
            try await s.write("OUTP\(number) OFF")
            try await s.write("\(source):BURS:STAT OFF")
            try await s.write("\(source):FUNC DC")
        }
    }

    public func identify(_ device: String) async throws -> InstrumentIdentity {
        let idn = try await link.run(device) { s in try await s.identify() }
        return InstrumentIdentity(manufacturer: idn.manufacturer, model: idn.model, serial: idn.serialNumber, firmware: idn.firmware)
    }
}

/// A channel binding in bench-file options: `{awg: usbtmc://…, channel: 2, load: 50 | high-z}`;
/// `awg` defaults to the role's own address.
public struct AWGChannelOption: Sendable, Hashable {
    public var awg: DeviceAddress
    public var channel: Int
    public var load: Keysight33500BChannel.Load

    public static let keys = ["awg", "channel", "load"]

    static func parse(_ r: YAMLReader, defaultAWG: DeviceAddress?, limits: Keysight33500BLimits, extraKeys: [String] = []) throws(BenchFileError) -> AWGChannelOption {
        try r.onlyKeys(keys + extraKeys, in: "an AWG channel")
        let awg: DeviceAddress
        if let a = try r.optional("awg") {
            awg = try a.usbtmcAddress()
        } else if let defaultAWG {
            awg = defaultAWG
        } else {
            throw r.fail("is missing 'awg': the usbtmc:// address of the Keysight 33500B that drives it")
        }
        let channel = try r.required("channel", "the AWG output channel, 1 … \(limits.channels)").int(in: 1...limits.channels, "channel")
        var load = Keysight33500BChannel.Load.fiftyOhm
        if let l = try r.optional("load") {
            switch try l.string.lowercased().replacingOccurrences(of: " ", with: "") {
            case "50", "50ω", "50ohm": load = .fiftyOhm
            case "high-z", "highz", "inf", "infinity": load = .highZ
            default: throw l.fail("load must be '50 Ω' or 'high-z' (what the channel really drives: OUTP:LOAD)")
            }
        }
        return AWGChannelOption(awg: awg, channel: channel, load: load)
    }

    /// Where a role whose own options name its channel (`channel:` beside `extraKeys`) claims it:
    /// the line of that key, else the binding's.
    static func channelLine(_ binding: RoleBinding, extraKeys: [String]) throws(BenchFileError) -> Int {
        try binding.options(allowed: keys + extraKeys)?.optional("channel")?.tree.line ?? binding.line
    }

    /// This channel as an output a role claims (`DriverFactory.outputs`).
    func claim(_ use: String, line: Int) -> OutputClaim { OutputClaim(output: "\(awg) channel \(channel)", use: use, line: line) }

    /// The channel, its link opened once per bench.
    func open(_ context: DriverContext, connector: any InstrumentConnector, limits: Keysight33500BLimits) async throws -> Keysight33500BChannel {
        let link = try await context.link(to: awg, using: connector, device: context.deviceName)
        return Keysight33500BChannel(link: link, number: channel, load: load, limits: limits)
    }
}
