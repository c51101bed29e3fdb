import BenchIO
import BenchKit
import Foundation

/// A balanced homodyne detector read by a Keysight InfiniiVision oscilloscope (USBTMC, e.g.
/// 0957:17A8 MSO-X 3014A), as a BenchKit `HomodyneReceiver`.
///
/// Acquisition, from the Keysight InfiniiVision 3000 X-Series Programmer's Guide (WAVeform,
/// TIMebase, TRIGger, ACQuire and root-level commands; "Synchronizing Acquisitions"):
/// - set-up when opened: `:WAVeform:SOURce CHANnel<n>`, `:WAVeform:FORMat WORD`,
///   `:WAVeform:BYTeorder LSBFirst`, `:WAVeform:UNSigned 0`, `:WAVeform:POINts MAXimum` then
///   `:WAVeform:POINts:MODE RAW` (the :WAVeform introduction: the number of points transferred is
///   what :WAVeform:POINts holds, 1000 after a reset, so without it the record is decimated;
///   Keysight's segmented-memory example sets MAX "BEFORE setting the :WAVeform:POINts:MODE"),
///   `:ACQuire:TYPE NORMal` (PEAK, AVERage and HRESolution records are not raw samples),
///   `:CHANnel<n>:COUPling DC`, `:CHANnel<n>:IMPedance FIFTy|ONEMeg`, `:CHANnel<n>:RANGe <V>`,
///   `:CHANnel<n>:OFFSet <V>` (the front end as the bench file says, not as the last user left
///   it), `:TRIGger:EDGE:SOURce EXTernal`, `:TRIGger:EDGE:LEVel <V>` (for the EXT source),
///   `:TIMebase:REFerence LEFT`;
/// - `arm(shots:)`: `:TIMebase:RANGe <s>` (one shot's slots), `:TRIGger:SWEep NORMal`,
///   `:ACQuire:MODE SEGMented` with `:ACQuire:SEGMented:COUNt <n>` for several shots (else
///   `:ACQuire:MODE RTIMe`), then `:SINGle`;
/// - `fetch(timeout:)`: polls `:OPERegister:CONDition?` until the Run bit (bit 3) clears, then per
///   segment (`:ACQuire:SEGMented:INDex <k>`) reads `:WAVeform:PREamble?` (format, type, points,
///   count, x increment, x origin, x reference, y increment, y origin, y reference) and
///   `:WAVeform:DATA?` (an IEEE 488.2 block of int16, read with a timeout scaled to its size),
///   converted as
///   V = (code − y reference) · y increment + y origin, t = (i − x reference) · x increment + x origin;
/// - `acquire(count:)`: `:TRIGger:SWEep AUTO`, `:DIGitize CHANnel<n>` then `*OPC?`, and the same read.
/// Samples are averaged over each mode slot (1/symbol rate, starting `slotOffset` after the
/// trigger): one value per slot. The preamble's acquisition type must be 0 (NORMal). Samples at
/// the 8-bit ADC's rails (high byte −128 or +127 in WORD data) are counted as clipped and
/// reported in `SampleBlock.clippedSamples`. For several shots, `:WAVeform:SEGMented:COUNt?` must
/// equal the armed count and the `:WAVeform:SEGMented:TTAG?` time tags must be evenly spaced
/// (a gap 25 % off the median is a missed or extra trigger): otherwise the block is refused.
///
/// The other receiver functions are composed from bench-file options: LO power from a fixed
/// declared value or a Thorlabs PM100USB on an LO tap (read only: there is no LO power actuator),
/// LO phase and vacuum slots from Keysight 33500B channels, input blocking from a GPIO line. A
/// function whose hardware is not bound throws `DeviceError(.invalidRequest)` naming the option.
public actor KeysightInfiniiVision: HomodyneReceiver {
    public struct Limits: Sendable {
        public var channels: Int
        public var maxSegments: Int
        public var maxPoints: Int
        public var runPollInterval: Duration
        public var digitizeTimeout: Duration

        public init(_ d: InstrumentDescription) throws(BenchFileError) {
            channels = try d.count("channels")
            maxSegments = try d.count("max-segments")
            maxPoints = try d.count("max-points")
            runPollInterval = try d.duration("run-poll-interval")
            digitizeTimeout = try d.duration("digitize-timeout")
        }
    }

    /// Where the LO power comes from.
    public enum LOPower: Sendable {
        /// Set by hand (a fixed attenuator) and declared in the bench file.
        case fixed(Power)
        /// Read on a power meter at an LO tap: LO power = reading / tapFraction.
        case meter(any PowerMeter, tapFraction: Double, averaging: Duration)
    }

    /// An AWG channel driving a phase modulator in the LO arm: φ = π V / Vπ.
    public struct LOPhaseActuator: Sendable {
        public var channel: Keysight33500BChannel
        public var vPi: Voltage
        public init(channel: Keysight33500BChannel, vPi: Voltage) { self.channel = channel; self.vPi = vPi }
    }

    /// An AWG channel driving a fast blocker on the signal input: `blocked` in vacuum slots.
    public struct VacuumGate: Sendable {
        public var channel: Keysight33500BChannel
        public var blocked: Voltage
        public var open: Voltage
        public init(channel: Keysight33500BChannel, blocked: Voltage, open: Voltage) { self.channel = channel; self.blocked = blocked; self.open = open }
    }

    /// A GPIO line driving a (slow) shutter or switch on the signal input.
    public struct InputBlock: Sendable {
        public var line: GPIOOutputLine
        public var blockedLevel: Bool
        public init(line: GPIOOutputLine, blockedLevel: Bool) { self.line = line; self.blockedLevel = blockedLevel }
    }

    public struct Configuration: Sendable {
        public var channel: Int
        public var symbolRate: Frequency
        public var slotsPerShot: Int
        public var slotOffset: Duration = .zero
        public var loPower: LOPower
        public var loPhase: LOPhaseActuator?
        public var vacuumGate: VacuumGate?
        public var inputBlock: InputBlock?
        /// The channel's full-scale range (8 divisions) and offset, coupling DC, input impedance.
        public var verticalRange: Voltage = .volts(0.8)
        public var verticalOffset: Voltage = .zero
        public var fiftyOhmInput = true
        /// The EXT trigger threshold (half a 3.3 V GPIO pulse by default).
        public var triggerLevel: Voltage = .volts(1.65)

        public init(channel: Int, symbolRate: Frequency, slotsPerShot: Int, loPower: LOPower) {
            self.channel = channel; self.symbolRate = symbolRate; self.slotsPerShot = slotsPerShot; self.loPower = loPower
        }
    }

    public nonisolated var family: DeviceFamily { .homodyneReceiver }
    public nonisolated let device: String
    let link: InstrumentLink
    let limits: Limits
    let configuration: Configuration
    private var armedShots: Int?
    public private(set) var pattern: [SlotKind] = []
    public private(set) var loPhase: Phase = .zero
    /// Whether this session set the LO phase (restored by `reconnect`).
    private var loPhaseSet = false
    private var inputBlocked: Bool?

    init(link: InstrumentLink, device: String, limits: Limits, configuration: Configuration) {
        self.link = link
        self.device = device
        self.limits = limits
        self.configuration = configuration
        // The factory requests the input-block line at its blocked level.
        inputBlocked = configuration.inputBlock.map { (try? $0.line.value() == $0.blockedLevel) ?? true }
    }

    /// Opens the receiver: the loads of its LO-phase and vacuum-gate AWG channels, then the
    /// waveform transfer and the external trigger (`prepare`).
    public static func open(link: InstrumentLink, device: String, limits: Limits, configuration: Configuration) async throws -> KeysightInfiniiVision {
        let r = KeysightInfiniiVision(link: link, device: device, limits: limits, configuration: configuration)
        try await r.prepare()
        return r
    }

    var source: String { "CHAN\(configuration.channel)" }
    var slotPeriod: Double { 1 / configuration.symbolRate.si }

    /// The commands `prepare` sends, in order.
    var setupCommands: [String] {
        let c = configuration
        return [":WAV:SOUR \(source)", ":WAV:FORM WORD", ":WAV:BYT LSBF", ":WAV:UNS 0", ":WAV:POIN MAX", ":WAV:POIN:MODE RAW",
                ":ACQ:TYPE NORM", ":\(source):COUP DC", ":\(source):IMP \(c.fiftyOhmInput ? "FIFT" : "ONEM")",
                ":\(source):RANG \(SCPINumber.format(c.verticalRange.si))", ":\(source):OFFS \(SCPINumber.format(c.verticalOffset.si))",
                ":TRIG:EDGE:SOUR EXT", ":TRIG:EDGE:LEV \(SCPINumber.format(c.triggerLevel.si))", ":TIM:REF LEFT"]
    }

    func prepare() async throws {
        try await configuration.loPhase?.channel.configureLoad(device)
        try await configuration.vacuumGate?.channel.configureLoad(device)
        try await link.run(device) { s in
            for command in setupCommands { try await s.write(command) }
        }
    }

    /// Reopens the scope (and the AWGs of its LO phase and vacuum gate, if an exchange found them
    /// gone) by address and serial number, configures them as opening does (`prepare`: the
    /// channels' loads and the acquisition set-up), and plays the slot pattern or holds the LO
    /// phase this session set. The acquisition is not armed: the next burst arms it. The LO-power
    /// meter, if the LO power is measured, is reconnected as a meter of its own
    /// (`ThorlabsPM100USB.reconnect`: its head and wavelength prepared again).
    public func reconnect() async throws {
        try await link.reopen(device)
        try await configuration.loPhase?.channel.link.reopen(device)
        try await configuration.vacuumGate?.channel.link.reopen(device)
        if case .meter(let meter, _, _) = configuration.loPower { try await meter.reconnect() }
        armedShots = nil
        try await prepare()
        if !pattern.isEmpty {
            try await upload(pattern, phase: loPhase.si)
        } else if loPhaseSet {
            try await setLocalOscillatorPhase(loPhase)
        }
    }

    /// The timeout of a `:WAV:DATA?` block of `bytes`: 5 s plus 5 µs per byte (Keysight's
    /// segmented example allows 50 s for up to 8 MB over USB 2.0).
    public static func transferTimeout(bytes: Int) -> Duration { .seconds(5) + .microseconds(5) * max(0, bytes) }

    /// Refuses time tags that are not evenly spaced (a missed or an extra trigger).
    func checkTimeTags(_ tags: [Double]) throws {
        guard tags.count >= 3 else { return }
        let gaps = zip(tags.dropFirst(), tags).map { $0 - $1 }
        let median = gaps.sorted()[gaps.count / 2]
        guard median > 0, median.isFinite, tags.allSatisfy(\.isFinite) else {
            throw DeviceError(.instrumentError, device: device, message: "the segment time tags \(tags) do not increase",
                              remedy: "arm again; if it repeats, check the trigger input")
        }
        if let k = gaps.firstIndex(where: { !$0.isFinite || abs($0 - median) > 0.25 * median }) {
            let kind = gaps[k] > median ? "a missed trigger" : "an extra trigger"
            let gap = gaps[k].isFinite && abs(gaps[k]) < 1e9 ? Duration.seconds(gaps[k]).benchDescription : "\(gaps[k]) s"
            let typical = median < 1e9 ? Duration.seconds(median).benchDescription : "\(median) s"
            throw DeviceError(.instrumentError, device: device,
                              message: "segment \(k + 2) came \(gap) after segment \(k + 1), the other shots \(typical) apart: \(kind); the block is refused",
                              remedy: "check the trigger cable and the bench trigger's timing, then acquire the block again")
        }
    }

    func notBound(_ what: String, option: String, example: String) -> DeviceError {
        DeviceError(.invalidRequest, device: device, message: "this bench has no hardware for \(what)",
                    remedy: "bind it in the bench file: options: {\(option): \(example)}")
    }

    // MARK: - BenchDevice

    public func identify() async throws -> InstrumentIdentity {
        let idn = try await link.run(device) { s in try await s.identify() }
        return InstrumentIdentity(manufacturer: idn.manufacturer, model: idn.model, serial: idn.serialNumber, firmware: idn.firmware)
    }

    /// Stops acquiring, blocks the input where a blocker is bound, switches the LO-phase and
    /// vacuum-gate AWG outputs off.
    public func makeSafe() async throws {
        try await link.run(device) { s in try await s.write(":STOP") }
        armedShots = nil
        if configuration.inputBlock != nil { try await setInputBlocked(true) }
        try await configuration.loPhase?.channel.switchOff(device)
        try await configuration.vacuumGate?.channel.switchOff(device)
    }

    public func settings() async throws -> [String: String] {
        let rate = try await link.run(device) { s in try await s.queryDouble(":ACQ:SRAT?") }
        var out = ["channel": "\(configuration.channel)", "symbol-rate": "\(configuration.symbolRate)", "slots-per-shot": "\(configuration.slotsPerShot)",
                   "sample-rate": "\(Frequency.hertz(rate))", "slot-offset": configuration.slotOffset.benchDescription,
                   "pattern": pattern.isEmpty ? "none" : "\(pattern.count) slots (\(pattern.filter { $0 == .p }.count) p, \(pattern.filter { $0 == .vacuum }.count) vacuum)",
                   "lo-phase": "\(loPhase)"]
        switch configuration.loPower {
        case .fixed(let p): out["lo-power"] = "\(p) (fixed)"
        case .meter(_, let f, _): out["lo-power"] = "measured at a \(f) tap"
        }
        if let b = inputBlocked { out["input"] = b ? "blocked" : "open" }
        return out
    }

    // MARK: - Local oscillator

    public func setLocalOscillatorPower(_ power: Power) async throws {
        switch configuration.loPower {
        case .fixed(let p) where abs(p.si - power.si) <= 1e-9 * max(p.si, 1e-12):
            return
        case .fixed(let p):
            throw DeviceError(.invalidRequest, device: device, message: "the LO power is fixed at \(p) by hand; this bench has no LO power actuator",
                              remedy: "adjust the LO attenuator by hand and update options.lo-power.fixed, or bind options.lo-power.meter to measure it")
        case .meter:
            throw DeviceError(.invalidRequest, device: device, message: "the LO power is measured (options.lo-power.meter) but this bench has no LO power actuator",
                              remedy: "adjust the LO attenuator by hand and read localOscillatorPower()")
        }
    }

    public func localOscillatorPower() async throws -> Power {
        switch configuration.loPower {
        case .fixed(let p): return p
        case let .meter(meter, tapFraction, averaging): return try await meter.readPower(averaging: averaging) / tapFraction
        }
    }

    func loVoltage(_ phase: Double, _ a: LOPhaseActuator) -> Float {
        let wrapped = atan2(sin(phase), cos(phase))
        return Float(wrapped * a.vPi.si / Double.pi)
    }

    public func setLocalOscillatorPhase(_ phase: Phase) async throws {
        guard let a = configuration.loPhase else {
            throw notBound("the LO phase", option: "lo-phase", example: "{awg: \"usbtmc://0957:2807?serial=…\", channel: 2, v-pi: 3.5 V}")
        }
        guard phase.si.isFinite else { throw DeviceError.refused(device, "LO phase \(phase) is not finite", remedy: "give a finite phase") }
        if pattern.isEmpty {
            let v = Voltage.volts(Double(loVoltage(phase.si, a)))
            try a.channel.checkLevel(v, device, what: "the LO phase voltage")
            try await a.channel.holdLevel(v, enableOutput: true, device)
        } else {
            try await upload(pattern, phase: phase.si)
        }
        loPhase = phase
        loPhaseSet = true
    }

    public func loadSlotPattern(_ pattern: [SlotKind]) async throws {
        guard !pattern.isEmpty, pattern.count <= configuration.slotsPerShot else {
            throw DeviceError.refused(device, "a slot pattern of \(pattern.count) slots does not fit a shot of \(configuration.slotsPerShot) slots",
                                      remedy: "give 1 … \(configuration.slotsPerShot) slots (it repeats over the shot)")
        }
        if pattern.contains(.p) && configuration.loPhase == nil {
            throw notBound("measuring p slots (the LO phase must step by π/2)", option: "lo-phase", example: "{awg: \"usbtmc://0957:2807?serial=…\", channel: 2, v-pi: 3.5 V}")
        }
        if pattern.contains(.vacuum) && configuration.vacuumGate == nil {
            throw notBound("vacuum slots (the signal input must be blocked slot by slot)", option: "vacuum-gate",
                           example: "{awg: \"usbtmc://0957:2807?serial=…\", channel: 1, blocked: 5 V, open: 0 V}")
        }
        try await upload(pattern, phase: loPhase.si)
        self.pattern = pattern
    }

    /// Plays the per-slot LO phase and vacuum gate, tiled over one shot, once per trigger.
    private func upload(_ pattern: [SlotKind], phase: Double) async throws {
        let slots = (0..<configuration.slotsPerShot).map { pattern[$0 % pattern.count] }
        var work: [(Keysight33500BChannel, String, [Float])] = []
        if let a = configuration.loPhase {
            work.append((a.channel, "QBENCH_LO", slots.map { loVoltage(phase + ($0 == .p ? Double.pi / 2 : 0), a) }))
        }
        if let g = configuration.vacuumGate {
            work.append((g.channel, "QBENCH_VG", slots.map { Float($0 == .vacuum ? g.blocked.si : g.open.si) }))
        }
        var plans: [(Keysight33500BChannel, String, (amplitude: Voltage, offset: Voltage, codes: [Int16]))] = []
        for (channel, name, levels) in work {
            try channel.checkSampleRate(configuration.symbolRate, device)
            plans.append((channel, name, try channel.planLevels(levels, device, what: name == "QBENCH_LO" ? "the LO phase pattern" : "the vacuum gate pattern")))
        }
        for (channel, name, plan) in plans {
            try await channel.playTriggered(arbName: name, codes: plan.codes, rate: configuration.symbolRate, amplitude: plan.amplitude,
                                            offset: plan.offset, device)
        }
    }

    public func setInputBlocked(_ blocked: Bool) async throws {
        guard let b = configuration.inputBlock else {
            throw notBound("blocking the signal input", option: "input-block", example: "{line: \"gpio://gpiochip0/6\", blocked-level: high}")
        }
        do { try b.line.set(blocked == b.blockedLevel) } catch { throw DeviceError.from(error, device: device) }
        inputBlocked = blocked
    }

    // MARK: - Acquisition

    var shotDuration: Double { DurationText.seconds(configuration.slotOffset) + Double(configuration.slotsPerShot) * slotPeriod }

    public func arm(shots: Int) async throws {
        guard shots >= 1, shots <= limits.maxSegments else {
            throw DeviceError.refused(device, "cannot arm for \(shots) shots: the scope holds 1 … \(limits.maxSegments) segments",
                                      remedy: "arm and fetch in blocks of at most \(limits.maxSegments) shots")
        }
        try await link.run(device) { s in
            try await s.write(":TIM:RANG \(SCPINumber.format(shotDuration))")
            try await s.write(":TRIG:SWE NORM")
            if shots > 1 {
                try await s.write(":ACQ:MODE SEGM")
                try await s.write(":ACQ:SEGM:COUN \(shots)")
            } else {
                try await s.write(":ACQ:MODE RTIM")
            }
            try await s.write(":SING")
        }
        armedShots = shots
    }

    public func fetch(timeout: Duration) async throws -> SampleBlock {
        guard let shots = armedShots else {
            throw DeviceError(.notReady, device: device, message: "fetch without arm", remedy: "call arm(shots:) before the trigger fires")
        }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let condition = try await link.run(device) { s in try await s.queryInt(":OPER:COND?") }
            if condition & 8 == 0 { break }
            guard clock.now < deadline else {
                throw DeviceError(.timeout, device: device, message: "no trigger completed the acquisition within \(timeout.benchDescription); the scope is still armed",
                                  remedy: "check the trigger cable to the scope's EXT input and that the bench trigger fired, then fetch again")
            }
            try await Task.sleep(for: limits.runPollInterval)
        }
        var volts: [Float] = []
        var clipped = 0
        volts.reserveCapacity(shots * configuration.slotsPerShot)
        if shots > 1 {
            let acquired = try await link.run(device) { s in try await s.queryInt(":WAV:SEGM:COUN?") }
            guard acquired == shots else {
                armedShots = nil
                throw DeviceError(.instrumentError, device: device,
                                  message: "the scope acquired \(acquired) segments, \(shots) were armed: \(acquired < shots ? "missed triggers" : "extra triggers"); the block is refused",
                                  remedy: "check the trigger cable and the bench trigger, then arm and acquire the block again")
            }
        }
        var tags: [Double] = []
        for segment in 1...shots {
            let (v, c) = try await link.run(device) { s in
                if shots > 1 {
                    try await s.write(":ACQ:SEGM:IND \(segment)")
                    tags.append(try await s.queryDouble(":WAV:SEGM:TTAG?"))
                }
                return try await readSlots(s, count: configuration.slotsPerShot)
            }
            volts += v
            clipped += c
        }
        armedShots = nil
        try checkTimeTags(tags)
        return SampleBlock(volts: volts, sampleRate: configuration.symbolRate, clippedSamples: clipped)
    }

    public func acquire(count: Int) async throws -> SampleBlock {
        guard count >= 1 else { throw DeviceError.refused(device, "cannot acquire \(count) slots", remedy: "ask for at least one") }
        let range = DurationText.seconds(configuration.slotOffset) + Double(count) * slotPeriod
        let (volts, clipped) = try await link.run(device) { s in
            try await s.write(":ACQ:MODE RTIM")
            try await s.write(":TRIG:SWE AUTO")
            try await s.write(":TIM:RANG \(SCPINumber.format(range))")
            try await s.write(":DIG \(source)", timeout: limits.digitizeTimeout, checkErrors: false)
            try await s.waitForOperationComplete(timeout: limits.digitizeTimeout)
            try await s.checkErrorQueue(after: ":DIG \(source)")
            return try await readSlots(s, count: count)
        }
        armedShots = nil
        return SampleBlock(volts: volts, sampleRate: configuration.symbolRate, clippedSamples: clipped)
    }

    /// Reads the preamble and the WORD data of the current record and averages it per slot;
    /// also returns how many of the averaged samples sat at an ADC rail (clipped).
    private func readSlots(_ s: SCPISession, count: Int) async throws -> ([Float], Int) {
        let p = try await s.queryDoubles(":WAV:PRE?")
        guard p.count == 10 else {
            throw DeviceError(.instrumentError, device: device, message: ":WAV:PRE? returned \(p.count) fields, expected 10",
                              remedy: "check that this is an InfiniiVision scope (*IDN?)")
        }
        guard p[0] == 1 else {
            throw DeviceError(.instrumentError, device: device, message: "the waveform format is \(SCPINumber.format(p[0])), not WORD (1)",
                              remedy: "another program changed :WAV:FORM; open the bench again")
        }
        guard p[1] == 0 else {
            let name = [1.0: "PEAK", 2.0: "AVERage", 3.0: "HRESolution"][p[1]] ?? "\(p[1])"
            throw DeviceError(.instrumentError, device: device, message: "the acquisition type is \(name), not NORMal: the record is not raw samples",
                              remedy: "another program changed :ACQ:TYPE; open the bench again (it sends :ACQ:TYPE NORM)")
        }
        let points = p[2].isFinite && p[2] >= 0 && p[2] < 1e9 ? Int(p[2]) : 0
        let bytes = try await s.queryBlock(":WAV:DATA?", timeout: Self.transferTimeout(bytes: 2 * points + 16))
        guard bytes.count % 2 == 0 else {
            throw DeviceError(.instrumentError, device: device, message: ":WAV:DATA? returned \(bytes.count) bytes, not whole 16-bit words",
                              remedy: "device-clear the scope and retry")
        }
        let (xinc, xorig, xref, yinc, yorig, yref) = (p[4], p[5], p[6], p[7], p[8], p[9])
        guard xinc > 0 else {
            throw DeviceError(.instrumentError, device: device, message: "the preamble's x increment is \(xinc)", remedy: "no data was acquired: arm and trigger again")
        }
        var sums = [Double](repeating: 0, count: count), counts = [Int](repeating: 0, count: count)
        var clipped = 0
        let offset = DurationText.seconds(configuration.slotOffset), period = slotPeriod
        for i in 0..<(bytes.count / 2) {
            let code = Int16(bitPattern: UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8)
            let t = (Double(i) - xref) * xinc + xorig
            let k = Int(((t - offset) / period + 1e-9).rounded(.down))
            guard k >= 0, k < count else { continue }
            // The 8-bit ADC's code is the high byte; −128 and +127 are its rails.
            let adc = code >> 8
            if adc == 127 || adc == -128 { clipped += 1 }
            sums[k] += (Double(code) - yref) * yinc + yorig
            counts[k] += 1
        }
        if let empty = counts.firstIndex(of: 0) {
            throw DeviceError(.instrumentError, device: device,
                              message: "slot \(empty) of \(count) holds no samples: the record has \(bytes.count / 2) points of \(Duration.seconds(xinc).benchDescription)",
                              remedy: "raise the scope's sample rate or memory depth so every \(Duration.seconds(period).benchDescription) slot gets samples")
        }
        return (zip(sums, counts).map { Float($0 / Double($1)) }, clipped)
    }
}

/// `driver: keysight-infiniivision`. Options: `channel`, `symbol-rate`, `slots-per-shot`,
/// `lo-power` (required: `{fixed: 1 mW}` or `{meter: usbtmc://…, tap-fraction: 0.01, averaging: 100 ms}`),
/// `slot-offset`, `lo-phase`, `vacuum-gate`, `input-block` (optional).
public struct KeysightInfiniiVisionDriver: DriverFactory {
    public let name = "keysight-infiniivision"
    public let families: [DeviceFamily] = [.homodyneReceiver]
    public let description: InstrumentDescription
    public let limits: KeysightInfiniiVision.Limits
    let awgLimits: Keysight33500BLimits
    let meterLimits: ThorlabsPM100USB.Limits
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, awg: InstrumentDescription, meter: InstrumentDescription,
                connector: any InstrumentConnector) throws(BenchFileError) {
        self.description = description
        self.limits = try KeysightInfiniiVision.Limits(description)
        self.awgLimits = try Keysight33500BLimits(awg)
        self.meterLimits = try ThorlabsPM100USB.Limits(meter)
        self.connector = connector
    }

    public var summary: String { "balanced homodyne detector read by a \(description.manufacturer) \(description.name) over USBTMC; commands: \(description.manual)" }

    /// The parsed options, before any hardware is opened.
    struct Options {
        enum LOPower { case fixed(Power), meter(DeviceAddress, tapFraction: Double, averaging: Duration, wavelength: Length?) }
        var channel: Int
        var symbolRate: Frequency
        var slotsPerShot: Int
        var slotOffset: Duration
        var loPower: LOPower
        var loPhase: (AWGChannelOption, vPi: Voltage)?
        var vacuumGate: (AWGChannelOption, blocked: Voltage, open: Voltage)?
        var inputBlock: (chip: String, line: Int, blockedLevel: Bool)?
        var verticalRange = Voltage.volts(0.8)
        var verticalOffset = Voltage.zero
        var fiftyOhm = true
        var triggerLevel = Voltage.volts(1.65)
    }

    static let optionKeys = ["channel", "symbol-rate", "slots-per-shot", "slot-offset", "lo-power", "lo-phase", "vacuum-gate", "input-block",
                             "vertical-range", "vertical-offset", "input-impedance", "trigger-level"]

    func options(_ binding: RoleBinding) throws(BenchFileError) -> Options {
        guard let o = try binding.options(allowed: Self.optionKeys) else {
            throw binding.fail(binding.benchFile, "driver keysight-infiniivision needs options: channel, symbol-rate, slots-per-shot and lo-power (see docs/real-bench.md)")
        }
        let channel = try o.required("channel", "the scope channel carrying the detector's difference signal, 1 … \(limits.channels)")
            .int(in: 1...limits.channels, "channel")
        let rateReader = try o.required("symbol-rate", "the mode-slot rate, e.g. 'symbol-rate: 10 MBd'")
        let rate = try rateReader.positive(Frequency.self, "symbol-rate")
        let slots = try o.required("slots-per-shot", "the mode slots recorded per trigger, e.g. 'slots-per-shot: 784'")
            .int(in: 8...Int(Int32.max), "slots-per-shot")
        var offset = Duration.zero
        if let r = try o.optional("slot-offset") { offset = try r.duration() }
        let lp = try o.required("lo-power", "where the LO power comes from: {fixed: 1 mW} or {meter: usbtmc://1313:8072?serial=…, tap-fraction: 0.01}; the bench reads it when it opens")
        let loPower: Options.LOPower
        if let f = try lp.optional("fixed") {
            try lp.onlyKeys(["fixed"], in: "lo-power")
            loPower = .fixed(try f.positive(Power.self, "lo-power.fixed"))
        } else if let m = try lp.optional("meter") {
            try lp.onlyKeys(["meter", "tap-fraction", "averaging", "wavelength"], in: "lo-power")
            let fraction = try lp.required("tap-fraction", "the fraction of the LO power the meter sees, e.g. 0.01 for a 99:1 tap").double(in: 1e-9...1, "tap-fraction")
            var averaging = Duration.milliseconds(100)
            if let a = try lp.optional("averaging") { averaging = try a.duration() }
            var wavelength: Length?
            if let w = try lp.optional("wavelength") {
                let l = try w.quantity(Length.self)
                guard meterLimits.wavelength.contains(l) else { throw w.fail("wavelength \(l) is outside the PM100USB's \(meterLimits.wavelength.text)") }
                wavelength = l
            }
            loPower = .meter(try m.usbtmcAddress(), tapFraction: fraction, averaging: averaging, wavelength: wavelength)
        } else {
            throw lp.fail("lo-power needs 'fixed: <power>' or 'meter: <usbtmc address>'")
        }
        var options = Options(channel: channel, symbolRate: rate, slotsPerShot: slots, slotOffset: offset, loPower: loPower)
        if let r = try o.optional("vertical-range") { options.verticalRange = try r.positive(Voltage.self, "vertical-range") }
        if let r = try o.optional("vertical-offset") { options.verticalOffset = try r.quantity(Voltage.self) }
        if let r = try o.optional("trigger-level") { options.triggerLevel = try r.quantity(Voltage.self) }
        if let r = try o.optional("input-impedance") {
            switch try r.string.lowercased().replacingOccurrences(of: " ", with: "") {
            case "50", "50ω", "50ohm": options.fiftyOhm = true
            case "1mω", "1mohm", "1m", "high-z": options.fiftyOhm = false
            default: throw r.fail("input-impedance must be '50 Ω' or '1 MΩ' (what the detector drives: :CHAN:IMP)")
            }
        }
        var used: [AWGChannelOption: String] = [:]
        func awg(_ key: String, _ r: YAMLReader, extra: [String]) throws(BenchFileError) -> AWGChannelOption {
            let option = try AWGChannelOption.parse(r, defaultAWG: nil, limits: awgLimits, extraKeys: extra)
            var k = option
            k.load = .fiftyOhm
            if let other = used[k] { throw r.fail("\(key) uses the same AWG channel as \(other)") }
            used[k] = key
            guard awgLimits.sampleRate.contains(rate) else {
                throw rateReader.fail("symbol-rate \(rate) is beyond what the \(key) AWG can play (\(awgLimits.sampleRate.text) Sa/s, \(awgLimits.sampleRate.source))")
            }
            return option
        }
        if let r = try o.optional("lo-phase") {
            let ch = try awg("lo-phase", r, extra: ["v-pi"])
            options.loPhase = (ch, try r.required("v-pi", "the LO phase modulator's Vπ, e.g. 'v-pi: 3.5 V'").positive(Voltage.self, "v-pi"))
            let window = awgLimits.window(ch.load)
            guard window.contains(options.loPhase!.vPi) else { throw r.fail("v-pi \(options.loPhase!.vPi) is beyond the channel's output window \(window.text): ±π would not fit") }
        }
        if let r = try o.optional("vacuum-gate") {
            let ch = try awg("vacuum-gate", r, extra: ["blocked", "open"])
            let blocked = try r.required("blocked", "the gate voltage that blocks the input").quantity(Voltage.self)
            let open = try r.required("open", "the gate voltage that passes the input").quantity(Voltage.self)
            for v in [blocked, open] where !awgLimits.window(ch.load).contains(v) {
                throw r.fail("gate level \(v) is outside the channel's output window \(awgLimits.window(ch.load).text)")
            }
            options.vacuumGate = (ch, blocked, open)
        }
        if let r = try o.optional("input-block") {
            try r.onlyKeys(["line", "blocked-level"], in: "input-block")
            let (chip, line) = try r.required("line", "the GPIO line, e.g. line: \"gpio://gpiochip0/6\"").gpioAddress()
            var level = true
            if let l = try r.optional("blocked-level") { level = try l.level() }
            options.inputBlock = (chip, line, level)
        }
        return options
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try options(binding)
    }

    /// The AWG channels of the LO phase and the vacuum gate, and the input blocker's GPIO line.
    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] {
        let o = try options(binding)
        let reader = try binding.options(allowed: Self.optionKeys)
        func line(_ key: String) throws(BenchFileError) -> Int { try reader?.optional(key)?.tree.line ?? binding.line }
        var out: [OutputClaim] = []
        if let (ch, _) = o.loPhase { out.append(ch.claim("lo-phase", line: try line("lo-phase"))) }
        if let (ch, _, _) = o.vacuumGate { out.append(ch.claim("vacuum-gate", line: try line("vacuum-gate"))) }
        if let (chip, l, _) = o.inputBlock { out.append(.gpioLine(chip: chip, line: l, use: "input-block", at: try line("input-block"))) }
        return out
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let device = binding.deviceName
        let o = try options(binding)
        let link = try await context.link(to: try binding.usbtmcAddress(), using: connector, device: device)
        let loPower: KeysightInfiniiVision.LOPower
        switch o.loPower {
        case .fixed(let p): loPower = .fixed(p)
        case let .meter(address, fraction, averaging, wavelength):
            let meterLink = try await context.link(to: address, using: connector, device: device)
            let meter = try await ThorlabsPM100USB.open(link: meterLink, device: "\(device) LO meter", limits: meterLimits, wavelength: wavelength)
            loPower = .meter(meter, tapFraction: fraction, averaging: averaging)
        }
        var c = KeysightInfiniiVision.Configuration(channel: o.channel, symbolRate: o.symbolRate, slotsPerShot: o.slotsPerShot, loPower: loPower)
        c.slotOffset = o.slotOffset
        c.verticalRange = o.verticalRange
        c.verticalOffset = o.verticalOffset
        c.fiftyOhmInput = o.fiftyOhm
        c.triggerLevel = o.triggerLevel
        if let (option, vPi) = o.loPhase {
            c.loPhase = .init(channel: try await option.open(context, connector: connector, limits: awgLimits), vPi: vPi)
        }
        if let (option, blocked, open) = o.vacuumGate {
            c.vacuumGate = .init(channel: try await option.open(context, connector: connector, limits: awgLimits), blocked: blocked, open: open)
        }
        if let (chipName, offset, level) = o.inputBlock {
            let chip = try await context.gpioChip(chipName, using: connector, device: device)
            do {
                let line = try chip.requestOutput(offset: offset, consumer: gpioConsumer(binding.role), initialValue: level)
                c.inputBlock = .init(line: line, blockedLevel: level)
            } catch {
                throw DeviceError.from(error, device: device)
            }
        }
        return try await KeysightInfiniiVision.open(link: link, device: device, limits: limits, configuration: c)
    }
}
