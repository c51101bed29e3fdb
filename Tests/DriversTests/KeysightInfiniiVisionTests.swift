import BenchIO
import BenchKit
@testable import Drivers
import Foundation
import InstrumentModels
import Testing

/// L1: the InfiniiVision homodyne-receiver driver byte for byte against scripts (InfiniiVision
/// 3000 X-Series Programmer's Guide), with its LO-phase and vacuum-gate channels on a scripted
/// 33500B. 10 MBd slots, 8 slots per shot, 100 MSa/s records (10 samples per slot).
@Suite("Keysight InfiniiVision homodyne receiver driver")
struct KeysightInfiniiVisionTests {
    let limits: KeysightInfiniiVision.Limits
    let awgLimits: Keysight33500BLimits
    let meterLimits: ThorlabsPM100USB.Limits

    init() throws {
        var l = try KeysightInfiniiVision.Limits(description("keysight-infiniivision"))
        l.runPollInterval = .milliseconds(1)
        limits = l
        awgLimits = try Keysight33500BLimits(description("keysight-33500b"))
        meterLimits = try ThorlabsPM100USB.Limits(description("thorlabs-pm100usb"))
    }

    /// S1/S2: every point (MAX before POIN:MODE), NORMal acquisition, the front end and the EXT
    /// trigger level as configured.
    static let opening: [[Step]] = [":WAV:SOUR CHAN1", ":WAV:FORM WORD", ":WAV:BYT LSBF", ":WAV:UNS 0", ":WAV:POIN MAX", ":WAV:POIN:MODE RAW",
                                    ":ACQ:TYPE NORM", ":CHAN1:COUP DC", ":CHAN1:IMP FIFT", ":CHAN1:RANG 0.8", ":CHAN1:OFFS 0",
                                    ":TRIG:EDGE:SOUR EXT", ":TRIG:EDGE:LEV 1.65", ":TIM:REF LEFT"].map { S.set($0) }

    struct Rig {
        let receiver: KeysightInfiniiVision
        let scope: ScriptedTransport
        let awg: ScriptedTransport?
        func finish() throws { try scope.finish(); try awg?.finish() }
    }

    func rig(_ steps: [[Step]], awg: [[Step]]? = nil, loPower: KeysightInfiniiVision.LOPower = .fixed(.milliwatts(1)),
             limits: KeysightInfiniiVision.Limits? = nil) async throws -> Rig {
        let (link, scope) = scripted(Self.opening + steps, name: "InfiniiVision")
        var c = KeysightInfiniiVision.Configuration(channel: 1, symbolRate: .hertz(10e6), slotsPerShot: 8, loPower: loPower)
        var awgTransport: ScriptedTransport?
        if let awg {
            // Opening sets the loads of the LO-phase (2) and vacuum-gate (1) channels.
            let (awgLink, t) = scripted([S.set("OUTP2:LOAD 50"), S.set("OUTP1:LOAD 50")] + awg, name: "AWG B")
            c.loPhase = .init(channel: Keysight33500BChannel(link: awgLink, number: 2, load: .fiftyOhm, limits: awgLimits), vPi: .volts(3.5))
            c.vacuumGate = .init(channel: Keysight33500BChannel(link: awgLink, number: 1, load: .fiftyOhm, limits: awgLimits), blocked: .volts(5), open: .zero)
            awgTransport = t
        }
        let r = try await KeysightInfiniiVision.open(link: link, device: "server.receiver", limits: limits ?? self.limits, configuration: c)
        return Rig(receiver: r, scope: scope, awg: awgTransport)
    }

    static let yinc = "1.220703125E-05"   // 0.8 V / 65536
    static func preamble(points: Int = 80, xinc: String = "1.000000E-08", format: Int = 1, type: Int = 0) -> [Step] {
        S.query(":WAV:PRE?", "\(format),\(type),\(points),1,\(xinc),0.000000E+00,0,\(yinc),0.000000E+00,0")
    }
    /// 80 samples: slot k (10 samples) at code 256·(k + base) → (k + base)·3.125 mV.
    static func data(base: Int = 0, points: Int = 80) -> [Step] {
        let codes = (0..<points).map { Int16(256 * ($0 / 10 + base)) }
        let reply: [UInt8] = Array("#3\(String(format: "%03d", points * 2))".utf8) + le16(codes) + [0x0A]
        return [.exchange(Array(":WAV:DATA?\n".utf8), reply: reply)]
    }
    static func slots(base: Int = 0) -> [Float] { (0..<8).map { Float(Double($0 + base) * 0.003125) } }

    @Test("arm one shot, poll the Run bit, read preamble and WORD data, average each slot")
    func armFetchOne() async throws {
        let r = try await rig([S.set(":TIM:RANG 8E-07"), S.set(":TRIG:SWE NORM"), S.set(":ACQ:MODE RTIM"), S.set(":SING"),
                               S.query(":OPER:COND?", "+8"), S.query(":OPER:COND?", "+0"), Self.preamble(), Self.data()])
        try await r.receiver.arm(shots: 1)
        let block = try await r.receiver.fetch(timeout: .seconds(2))
        #expect(block.volts == Self.slots() && block.sampleRate == .hertz(10e6))
        try r.finish()
    }

    @Test("several shots use segmented memory, read segment by segment")
    func segmented() async throws {
        let r = try await rig([S.set(":TIM:RANG 8E-07"), S.set(":TRIG:SWE NORM"), S.set(":ACQ:MODE SEGM"), S.set(":ACQ:SEGM:COUN 2"), S.set(":SING"),
                               S.query(":OPER:COND?", "+0"), S.query(":WAV:SEGM:COUN?", "+2"),
                               S.set(":ACQ:SEGM:IND 1"), S.query(":WAV:SEGM:TTAG?", "0.000000E+00"), Self.preamble(), Self.data(base: 0),
                               S.set(":ACQ:SEGM:IND 2"), S.query(":WAV:SEGM:TTAG?", "1.000000E-03"), Self.preamble(), Self.data(base: 10)])
        try await r.receiver.arm(shots: 2)
        #expect(try await r.receiver.fetch(timeout: .seconds(2)).volts == Self.slots(base: 0) + Self.slots(base: 10))
        try r.finish()
    }

    @Test("free-running capture: AUTO sweep, :DIGitize, *OPC?, then the record")
    func acquire() async throws {
        let r = try await rig([S.set(":ACQ:MODE RTIM"), S.set(":TRIG:SWE AUTO"), S.set(":TIM:RANG 8E-07"), [.write(":DIG CHAN1\n")],
                               S.query("*OPC?", "1"), [S.noError], Self.preamble(), Self.data(base: 3)])
        #expect(try await r.receiver.acquire(count: 8).volts == Self.slots(base: 3))
        try r.finish()
    }

    @Test("LO phase on the AWG: a DC level without a pattern; the per-slot pattern and the vacuum gate as triggered waveforms")
    func loPhaseAndPattern() async throws {
        let lo: [Int16] = [-32767, 32767, -32767, -32767, -32767, 32767, -32767, -32767]
        let gate: [Int16] = [-32767, -32767, 32767, -32767, -32767, -32767, 32767, -32767]
        let r = try await rig([], awg: [Keysight33500BTests.notBurst(2), S.set("SOUR2:FUNC DC"), S.set("SOUR2:VOLT:OFFS 0.875"), S.set("OUTP2 ON")]
                                    + Keysight33500BTests.upload(2, "QBENCH_LO", lo, rate: "10000000", vpp: "1.75", offset: "1.75")
                                    + Keysight33500BTests.upload(1, "QBENCH_VG", gate, rate: "10000000", vpp: "5", offset: "2.5"))
        try await r.receiver.setLocalOscillatorPhase(.radians(.pi / 4))
        try await r.receiver.loadSlotPattern([.x, .p, .vacuum, .x])
        #expect(await r.receiver.pattern == [.x, .p, .vacuum, .x])
        try r.finish()
    }

    @Test("makeSafe stops the scope and switches the LO and gate channels off; settings; identity")
    func makeSafeSettingsIdentity() async throws {
        let r = try await rig([S.set(":STOP"), S.query(":ACQ:SRAT?", "1.000000E+08"), S.query("*IDN?", "KEYSIGHT TECHNOLOGIES,MSO-X 3014T,MY55100001,07.50")],
                              awg: [S.set("OUTP2 OFF"), S.set("SOUR2:BURS:STAT OFF"), S.set("SOUR2:FUNC DC"),
                                    S.set("OUTP1 OFF"), S.set("SOUR1:BURS:STAT OFF"), S.set("SOUR1:FUNC DC")])
        try await r.receiver.makeSafe()
        let s = try await r.receiver.settings()
        #expect(s["sample-rate"] == "100 MHz" && s["symbol-rate"] == "10 MHz" && s["slots-per-shot"] == "8" && s["lo-power"] == "1 mW (fixed)")
        #expect(try await r.receiver.identify().model == "MSO-X 3014T")
        try r.finish()
    }

    @Test("LO power: fixed (reported; a different value refused) or measured on a PM100USB at the LO tap")
    func loPower() async throws {
        let r = try await rig([])
        #expect(try await r.receiver.localOscillatorPower() == .milliwatts(1))
        try await r.receiver.setLocalOscillatorPower(.milliwatts(1))
        await expectDeviceError(.invalidRequest, ["fixed at 1 mW", "lo-power"]) { try await r.receiver.setLocalOscillatorPower(.milliwatts(2)) }
        let (meterLink, meterDevice) = simulated(ThorlabsPM100USBModel(), name: "LO tap meter")
        meterDevice.withModel { $0.opticalPower = 1e-5; $0.darkSignal = 0 }
        let meter = try await ThorlabsPM100USB.open(link: meterLink, device: "LO meter", limits: meterLimits)
        let m = try await rig([], loPower: .meter(meter, tapFraction: 0.01, averaging: .milliseconds(30)))
        #expect(abs(try await m.receiver.localOscillatorPower().si - 1e-3) < 1e-12)
        await expectDeviceError(.invalidRequest, ["no LO power actuator"]) { try await m.receiver.setLocalOscillatorPower(.milliwatts(1)) }
        try r.finish()
        try m.finish()
    }

    @Test("functions without bound hardware throw typed errors naming the option, with no bytes sent", arguments: [
        ("p slots", "lo-phase"), ("vacuum slots", "vacuum-gate"), ("LO phase", "lo-phase"), ("input blocking", "input-block"),
    ])
    func unbound(_ function: String, _ option: String) async throws {
        let r = try await rig([])
        await expectDeviceError(.invalidRequest, ["server.receiver", "no hardware", "options: {\(option):"]) {
            switch function {
            case "p slots": try await r.receiver.loadSlotPattern([.x, .p])
            case "vacuum slots": try await r.receiver.loadSlotPattern([.x, .vacuum])
            case "LO phase": try await r.receiver.setLocalOscillatorPhase(.radians(1))
            default: try await r.receiver.setInputBlocked(true)
            }
        }
        try await r.receiver.loadSlotPattern([.x, .x])   // a fixed LO measures x: nothing to drive, accepted
        try r.finish()
    }

    @Test("limits: requests beyond the scope's memory or the shot never reach the wire", arguments: [
        "arm 0 shots", "arm 1001 shots", "a 9-slot pattern in an 8-slot shot", "acquire 0 slots", "fetch without arm",
    ])
    func limits(_ request: String) async throws {
        let r = try await rig([])
        await expectDeviceError(request == "fetch without arm" ? .notReady : .invalidRequest, ["server.receiver"]) {
            switch request {
            case "arm 0 shots": try await r.receiver.arm(shots: 0)
            case "arm 1001 shots": try await r.receiver.arm(shots: 1001)
            case "acquire 0 slots": _ = try await r.receiver.acquire(count: 0)
            case "fetch without arm": _ = try await r.receiver.fetch(timeout: .seconds(1))
            default: try await r.receiver.loadSlotPattern(Array(repeating: .x, count: 9))
            }
        }
        try r.finish()
    }

    @Test("error paths: no trigger (timeout), instrument error, query timeout, device gone, short record, wrong format", arguments: [
        "no trigger", "instrument", "timeout", "gone", "short record", "format",
    ])
    func errorPaths(_ path: String) async throws {
        let armed: [[Step]] = [S.set(":TIM:RANG 8E-07"), S.set(":TRIG:SWE NORM"), S.set(":ACQ:MODE RTIM"), S.set(":SING"), S.query(":OPER:COND?", "+0")]
        let steps: [[Step]] = switch path {
        case "no trigger": Array(armed.dropLast()) + [S.query(":OPER:COND?", "+8")]
        case "instrument": [S.rejected(":TIM:RANG 8E-07", -222, "Data out of range")]
        case "timeout": armed + [[.exchange(":WAV:PRE?\n", reply: .timeout)], [S.noError]]
        case "gone": armed + [Self.preamble(), [.exchange(":WAV:DATA?\n", reply: .deviceGone)]]
        case "short record": armed + [Self.preamble(points: 40), Self.data(points: 40)]
        default: armed + [Self.preamble(format: 0)]
        }
        let r = try await rig(steps)
        switch path {
        case "instrument":
            await expectDeviceError(.instrumentError, ["\":TIM:RANG 8E-07\"", "-222"]) { try await r.receiver.arm(shots: 1) }
        default:
            try await r.receiver.arm(shots: 1)
            let (kind, fragment): (DeviceError.Kind, String) = switch path {
            case "no trigger": (.timeout, "still armed")
            case "timeout": (.timeout, "\":WAV:PRE?\"")
            case "gone": (.disconnected, "\":WAV:DATA?\"")
            case "short record": (.instrumentError, "slot 4 of 8 holds no samples")
            default: (.instrumentError, "not WORD")
            }
            await expectDeviceError(kind, ["server.receiver", fragment]) { _ = try await r.receiver.fetch(timeout: .zero) }
        }
        try r.finish()
    }

    func modelRig(_ model: KeysightInfiniiVisionModel, slots: Int = 8) async throws -> (KeysightInfiniiVision, SimulatedSCPIDevice<KeysightInfiniiVisionModel>) {
        let (link, device) = simulated(model, name: "simulated MSO-X")
        let c = KeysightInfiniiVision.Configuration(channel: 1, symbolRate: .hertz(10e6), slotsPerShot: slots, loPower: .fixed(.milliwatts(1)))
        return (try await KeysightInfiniiVision.open(link: link, device: "server.receiver", limits: limits, configuration: c), device)
    }

    @Test("S1: a 2000-point record comes whole (:WAV:POIN MAX), not decimated to the 1000 points a reset scope transfers")
    func everyPoint() async throws {
        var model = KeysightInfiniiVisionModel()
        // Slot level plus a ±12.5 mV alternation from sample to sample: only all ten samples of a slot average it out.
        model.signal = { _, t in
            let i = Int((t * 1e8).rounded())
            return 0.003125 * Double(i / 10 % 8) + (i % 2 == 0 ? 0.0125 : -0.0125)
        }
        let (r, device) = try await modelRig(model, slots: 200)
        #expect(device.withModel { $0.pointsSetting } == nil)
        let block = try await r.acquire(count: 200)
        #expect(block.volts.count == 200)
        #expect(block.volts.enumerated().allSatisfy { abs(Double($1) - 0.003125 * Double($0 % 8)) < 1e-4 })
        #expect(block.clippedSamples == 0)
    }

    @Test("S2: a scope left in HRESolution with a 4 V range by its last user is set back to NORMal and the bench's front end")
    func acquisitionTypeAndFrontEnd() async throws {
        var model = KeysightInfiniiVisionModel()
        model.acquisitionType = "HRES"
        model.fullScale = 4
        model.signal = { segment, t in 0.003125 * Double(Int(t / 1e-7 + 1e-9) + 10 * segment) }
        let (r, device) = try await modelRig(model)
        #expect(device.withModel { ($0.acquisitionType, $0.fullScale, $0.fiftyOhmInput, $0.coupling, $0.triggerLevel) } == ("NORM", 0.8, true, "DC", 1.65))
        let free = try await r.acquire(count: 8).volts
        #expect(free.enumerated().allSatisfy { abs(Double($1) - Double($0) * 0.003125) < 1e-6 })
    }

    @Test("S2: a record whose preamble says PEAK, AVERage or HRESolution is refused", arguments: [1, 2, 3])
    func notNormal(_ type: Int) async throws {
        let r = try await rig([S.set(":TIM:RANG 8E-07"), S.set(":TRIG:SWE NORM"), S.set(":ACQ:MODE RTIM"), S.set(":SING"),
                               S.query(":OPER:COND?", "+0"), Self.preamble(type: type)])
        try await r.receiver.arm(shots: 1)
        await expectDeviceError(.instrumentError, ["not NORMal"]) { _ = try await r.receiver.fetch(timeout: .seconds(1)) }
        try r.finish()
    }

    @Test("S2: samples at the ADC rails are counted and reported with the block")
    func clipping() async throws {
        var model = KeysightInfiniiVisionModel()
        model.signal = { _, t in t < 2e-7 ? 1.0 : 0 }   // the first two slots far beyond ±0.4 V
        let (r, _) = try await modelRig(model)
        let block = try await r.acquire(count: 8)
        #expect(block.clippedSamples == 20)
        let scripted = try await rig([S.set(":ACQ:MODE RTIM"), S.set(":TRIG:SWE AUTO"), S.set(":TIM:RANG 8E-07"), [.write(":DIG CHAN1\n")],
                                      S.query("*OPC?", "1"), [S.noError], Self.preamble(), Self.data(base: -128)])
        #expect(try await scripted.receiver.acquire(count: 8).clippedSamples == 10)   // slot 0 at code −128·256, the lower rail
        try scripted.finish()
    }

    @Test("S4: a missed trigger (uneven time tags) or a wrong segment count refuses the block", arguments: ["missed", "extra", "count", "nan"])
    func segmentChecks(_ path: String) async throws {
        if path == "nan" {   // a time tag of 9.91E37 (NaN) is refused, never trapped on
            var steps: [[Step]] = [S.set(":TIM:RANG 8E-07"), S.set(":TRIG:SWE NORM"), S.set(":ACQ:MODE SEGM"), S.set(":ACQ:SEGM:COUN 3"), S.set(":SING"),
                                   S.query(":OPER:COND?", "+0"), S.query(":WAV:SEGM:COUN?", "+3")]
            for (k, tag) in ["0.000000E+00", "9.91E+37", "2.000000E-03"].enumerated() {
                steps += [S.set(":ACQ:SEGM:IND \(k + 1)"), S.query(":WAV:SEGM:TTAG?", tag), Self.preamble(), Self.data()]
            }
            let r = try await rig(steps)
            try await r.receiver.arm(shots: 3)
            await expectDeviceError(.instrumentError, ["time tags"]) { _ = try await r.receiver.fetch(timeout: .seconds(1)) }
            try r.finish()
            return
        }
        if path == "count" {
            let r = try await rig([S.set(":TIM:RANG 8E-07"), S.set(":TRIG:SWE NORM"), S.set(":ACQ:MODE SEGM"), S.set(":ACQ:SEGM:COUN 3"), S.set(":SING"),
                                   S.query(":OPER:COND?", "+0"), S.query(":WAV:SEGM:COUN?", "+2")])
            try await r.receiver.arm(shots: 3)
            await expectDeviceError(.instrumentError, ["acquired 2 segments, 3 were armed"]) { _ = try await r.receiver.fetch(timeout: .seconds(1)) }
            try r.finish()
            return
        }
        var model = KeysightInfiniiVisionModel()
        model.signal = { _, _ in 0 }
        let (r, device) = try await modelRig(model)
        try await r.arm(shots: 4)
        let times = path == "missed" ? [0, 1e-3, 3e-3, 4e-3] : [0, 1e-3, 1.2e-3, 2.2e-3]
        for t in times { device.withModel { $0.externalTrigger(at: t) } }
        await expectDeviceError(.instrumentError, [path == "missed" ? "a missed trigger" : "an extra trigger", "refused"]) {
            _ = try await r.fetch(timeout: .seconds(1))
        }
    }

    @Test("S3: the :WAV:DATA? timeout grows with the record (8 MB: well beyond the flat 5 s)")
    func dataTimeout() async throws {
        #expect(KeysightInfiniiVision.transferTimeout(bytes: 160) < .seconds(6))
        #expect(KeysightInfiniiVision.transferTimeout(bytes: 8_000_000) >= .seconds(40))
        // A 2 Mpt record (4 MB) is read with the scaled timeout.
        var model = KeysightInfiniiVisionModel()
        model.signal = { _, _ in 0 }
        let recorder = TimeoutRecordingTransport(SimulatedTransport(device: SimulatedSCPIDevice(model: model)))
        let c = KeysightInfiniiVision.Configuration(channel: 1, symbolRate: .hertz(1e6), slotsPerShot: 20_000, loPower: .fixed(.milliwatts(1)))
        let r = try await KeysightInfiniiVision.open(link: InstrumentLink(transport: recorder), device: "server.receiver", limits: limits, configuration: c)
        _ = try await r.acquire(count: 20_000)
        let afterData = recorder.timeouts.drop { !$0.0.hasPrefix(":WAV:DATA?") }
        #expect(afterData.first?.1 == KeysightInfiniiVision.transferTimeout(bytes: 4_000_016))
        #expect(afterData.dropFirst().first.map { $0.0 == "read" && $0.1 > .seconds(5) } == true)   // what is left of it, beyond the flat 5 s
    }

    @Test("against the simulated InfiniiVision model: three triggered shots, then a free-running capture")
    func againstModel() async throws {
        var model = KeysightInfiniiVisionModel()
        model.signal = { segment, t in 0.003125 * Double(Int(t / 1e-7 + 1e-9) + 10 * segment) }
        let (link, device) = simulated(model, name: "simulated MSO-X")
        let c = KeysightInfiniiVision.Configuration(channel: 1, symbolRate: .hertz(10e6), slotsPerShot: 8, loPower: .fixed(.milliwatts(1)))
        let r = try await KeysightInfiniiVision.open(link: link, device: "server.receiver", limits: limits, configuration: c)
        try await r.arm(shots: 3)
        await expectDeviceError(.timeout, ["still armed"]) { _ = try await r.fetch(timeout: .zero) }
        for _ in 0..<3 { device.withModel { $0.externalTrigger() } }
        let block = try await r.fetch(timeout: .seconds(1))
        // The model's preamble carries y increment to 7 digits (NR3): compare to 1 µV.
        let expected = Self.slots(base: 0) + Self.slots(base: 10) + Self.slots(base: 20)
        #expect(block.volts.count == 24 && zip(block.volts, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        let free = try await r.acquire(count: 16).volts
        #expect(free.count == 16 && free.enumerated().allSatisfy { abs(Double($1) - Double($0) * 0.003125) < 1e-6 })
        try await r.makeSafe()
        #expect(device.errorQueue.isEmpty)
    }
}
