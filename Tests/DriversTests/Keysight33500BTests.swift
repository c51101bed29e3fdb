import BenchIO
import BenchKit
@testable import Drivers
import InstrumentModels
import Foundation
import Testing

/// L1: the 33500B IQ-modulator driver byte for byte against scripts (33500B/33600A Operating and
/// Service Guide, SCPI Programming Reference). i and q on AWG "A" channels 1 and 2, the outer
/// phase on AWG "B" channel 1.
@Suite("Keysight 33500B IQ modulator driver")
struct Keysight33500BTests {
    let limits: Keysight33500BLimits
    init() throws { limits = try Keysight33500BLimits(description("keysight-33500b")) }

    static func opening(_ channel: Int, offset: String = "+0.000000000000000E+00", output: String = "0") -> [[Step]] {
        [S.set("OUTP\(channel):LOAD 50"), S.query("SOUR\(channel):VOLT:OFFS?", offset), S.query("OUTP\(channel)?", output)]
    }

    /// The upload sequence of one channel (Keysight33500BChannel.playTriggered).
    /// K1/K2/K3: output off and burst off before FUNC DC, the block and *OPC? under a timeout
    /// scaled to its size, rate/amplitude/offset one by one (never APPLy, which free-runs the
    /// arb), burst armed, output on last.
    static func upload(_ ch: Int, _ name: String, _ codes: [Int16], rate: String, vpp: String, offset: String) -> [[Step]] {
        [S.set("OUTP\(ch) OFF"), S.set("SOUR\(ch):BURS:STAT OFF"), S.set("SOUR\(ch):FUNC DC"), S.set("SOUR\(ch):DATA:VOL:CLE"), S.set("FORM:BORD SWAP"),
         [.exchange(Array("SOUR\(ch):DATA:ARB:DAC \(name),".utf8) + (try! IEEEBlock.encode(le16(codes))) + [0x0A], reply: nil)],
         S.query("*OPC?", "1"), [S.noError],
         S.set("SOUR\(ch):FUNC:ARB \(name)"), S.set("SOUR\(ch):FUNC ARB"), S.set("SOUR\(ch):FUNC:ARB:SRAT \(rate)"), S.set("SOUR\(ch):FUNC:ARB:FILT STEP"),
         S.set("SOUR\(ch):VOLT:OFFS 0"), S.set("SOUR\(ch):VOLT \(vpp)"), S.set("SOUR\(ch):VOLT:OFFS \(offset)"),
         S.set("SOUR\(ch):BURS:MODE TRIG"), S.set("SOUR\(ch):BURS:NCYC 1"), S.set("TRIG\(ch):SOUR EXT"), S.set("SOUR\(ch):BURS:STAT ON"),
         S.set("OUTP\(ch) ON")]
    }
    /// holdLevel's check whether the channel is in burst mode (it is not).
    static func notBurst(_ ch: Int) -> [Step] { S.query("SOUR\(ch):BURS:STAT?", "0") }

    struct Rig {
        let modulator: Keysight33500B
        let a: ScriptedTransport
        let b: ScriptedTransport?
        func finish() throws { try a.finish(); try b?.finish() }
    }

    func rig(a: [[Step]], b: [[Step]]? = [], softDrive: LimitRange? = nil, softBias: LimitRange? = nil) async throws -> Rig {
        let (linkA, ta) = scripted(Self.opening(1) + Self.opening(2) + a, name: "AWG A")
        var channels: [ModulatorChannel: Keysight33500BChannel] = [
            .i: Keysight33500BChannel(link: linkA, number: 1, load: .fiftyOhm, limits: limits),
            .q: Keysight33500BChannel(link: linkA, number: 2, load: .fiftyOhm, limits: limits),
        ]
        var tb: ScriptedTransport?
        if let b {
            let (linkB, t) = scripted(Self.opening(1) + b, name: "AWG B")
            channels[.phase] = Keysight33500BChannel(link: linkB, number: 1, load: .fiftyOhm, limits: limits)
            tb = t
        }
        let m = try await Keysight33500B.open(device: "server.modulator", channels: channels, softDrive: softDrive, softBias: softBias)
        return Rig(modulator: m, a: ta, b: tb)
    }

    static let wave: [Float] = [0, 0.5, 1, 0.5, 0, -0.5, -1, -0.5]
    static let codes: [Int16] = [0, 16384, 32767, 16384, 0, -16384, -32767, -16384]

    @Test("drive upload: int16 DAC block, arb selected, rate/amplitude/offset one by one (no APPLy), step filter, one burst per external trigger")
    func loadDrive() async throws {
        let r = try await rig(a: Self.upload(1, "QBENCH_I", Self.codes, rate: "10000000", vpp: "2", offset: "0")
                                 + Self.upload(2, "QBENCH_Q", Self.codes, rate: "10000000", vpp: "1", offset: "0"))
        try await r.modulator.loadDrive(i: Waveform(volts: Self.wave, sampleRate: .hertz(10e6)),
                                        q: Waveform(volts: Self.wave.map { $0 / 2 }, sampleRate: .hertz(10e6)))
        try r.finish()
    }

    @Test("bias is the channel offset; static drive adds to it in DC; zeroDrive holds the bias; phase is a DC level")
    func biasStaticZero() async throws {
        let r = try await rig(a: [
            Self.notBurst(1), S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 0.5"), S.set("OUTP1 ON"),
            S.query("SOUR1:VOLT:OFFS?", "+5.000000000000000E-01"),
            Self.notBurst(1), S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 0.6"),
            Self.notBurst(2), S.set("SOUR2:FUNC DC"), S.set("SOUR2:VOLT:OFFS -0.1"), S.set("OUTP2 ON"),
            S.query("SOUR1:VOLT:OFFS?", "+6.000000000000000E-01"),
            Self.notBurst(1), S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 0.5"), Self.notBurst(2), S.set("SOUR2:FUNC DC"), S.set("SOUR2:VOLT:OFFS 0"),
        ], b: [Self.notBurst(1), S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 3.3"), S.set("OUTP1 ON")])
        let m = r.modulator
        try await m.setBias(.i, .volts(0.5))
        #expect(try await m.bias(.i) == .volts(0.5))
        try await m.setStaticDrive(i: .volts(0.1), q: .volts(-0.1))
        #expect(abs(try await m.bias(.i).si - 0.5) < 1e-12)   // offset 0.6 minus the 0.1 static drive
        try await m.zeroDrive()
        try await m.setBias(.phase, .volts(3.3))
        try r.finish()
    }

    @Test("a bias under a playing waveform changes only the offset")
    func biasUnderWaveform() async throws {
        let r = try await rig(a: Self.upload(1, "QBENCH_I", Self.codes, rate: "10000000", vpp: "2", offset: "0")
                                 + Self.upload(2, "QBENCH_Q", Self.codes, rate: "10000000", vpp: "2", offset: "0")
                                 + [S.set("SOUR1:VOLT:OFFS -1.25"), S.query("SOUR1:VOLT:OFFS?", "-1.250000000000000E+00")])
        let w = Waveform(volts: Self.wave, sampleRate: .hertz(10e6))
        try await r.modulator.loadDrive(i: w, q: w)
        try await r.modulator.setBias(.i, .volts(-1.25))
        #expect(try await r.modulator.bias(.i) == .volts(-1.25))
        try r.finish()
    }

    @Test("makeSafe switches every output off and back to DC")
    func makeSafe() async throws {
        let r = try await rig(a: [S.set("OUTP1 OFF"), S.set("SOUR1:BURS:STAT OFF"), S.set("SOUR1:FUNC DC"),
                                  S.set("OUTP2 OFF"), S.set("SOUR2:BURS:STAT OFF"), S.set("SOUR2:FUNC DC")],
                              b: [S.set("OUTP1 OFF"), S.set("SOUR1:BURS:STAT OFF"), S.set("SOUR1:FUNC DC")])
        try await r.modulator.makeSafe()
        try r.finish()
    }

    @Test("a high-Z channel is opened with OUTP:LOAD INF; identity comes from the i channel's AWG")
    func highZAndIdentity() async throws {
        let (link, transport) = scripted([S.set("OUTP1:LOAD 50"), S.query("SOUR1:VOLT:OFFS?", "+1.000000000000000E+00"), S.query("OUTP1?", "1"),
                                          S.set("OUTP2:LOAD INF"), S.query("SOUR2:VOLT:OFFS?", "+0.000000000000000E+00"), S.query("OUTP2?", "0"),
                                          S.query("*IDN?", "Agilent Technologies,33522B,MY52600001,4.00-1.19-2.00-52-00")], name: "AWG A")
        let m = try await Keysight33500B.open(device: "server.modulator", channels: [
            .i: Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits),
            .q: Keysight33500BChannel(link: link, number: 2, load: .highZ, limits: limits),
        ])
        #expect(try await m.identify().serial == "MY52600001")
        let s = try await m.settings()
        #expect(s["i"]?.contains("bias 1 V") == true && s["i"]?.contains("output on") == true && s["q"]?.contains("high-Z") == true)
        try transport.finish()
    }

    @Test("an unbound phase input is a typed error naming the option, with no bytes sent")
    func unboundPhase() async throws {
        let r = try await rig(a: [], b: nil)
        await expectDeviceError(.invalidRequest, ["server.modulator", "phase", "options: {phase:"]) { try await r.modulator.setBias(.phase, .volts(1)) }
        try r.finish()
    }

    static let w8 = Waveform(volts: wave, sampleRate: .hertz(10e6))

    /// A request that must be refused before any byte of it is sent (`steps` is what legitimately
    /// happens first).
    struct LimitCase: Sendable, CustomTestStringConvertible {
        let name: String
        var steps: [[Step]] = []
        var soft = false
        let fragment: String
        let action: @Sendable (Keysight33500B) async throws -> Void
        var testDescription: String { name }
    }

    static let bothUploaded = upload(1, "QBENCH_I", codes, rate: "10000000", vpp: "2", offset: "0")
        + upload(2, "QBENCH_Q", codes, rate: "10000000", vpp: "2", offset: "0")
    static func biasSteps(_ v: String) -> [[Step]] { [notBurst(1), S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS \(v)"), S.set("OUTP1 ON")] }

    static let limitCases: [LimitCase] = [
        LimitCase(name: "a 6 V peak drive: beyond 10 V p-p into 50 Ω", fragment: "at most 10 V into 50 Ω") { m in
            try await m.loadDrive(i: Waveform(volts: wave.map { $0 * 6 }, sampleRate: .hertz(10e6)), q: w8)
        },
        LimitCase(name: "a 4.5 V bias under a 2 V p-p drive", steps: bothUploaded, fragment: "output window") { m in
            try await m.loadDrive(i: w8, q: w8)
            try await m.setBias(.i, .volts(4.5))
        },
        LimitCase(name: "a 1 V static drive on a 4.5 V bias", steps: biasSteps("4.5"), fragment: "output window") { m in
            try await m.setBias(.i, .volts(4.5))
            try await m.setStaticDrive(i: .volts(1), q: .zero)
        },
        LimitCase(name: "a ±2 V drive around a 3.5 V bias", steps: biasSteps("3.5"), fragment: "leaves") { m in
            try await m.setBias(.i, .volts(3.5))
            let two = Waveform(volts: wave.map { $0 * 2 }, sampleRate: .hertz(10e6))
            try await m.loadDrive(i: two, q: two)
        },
        LimitCase(name: "200 MSa/s", fragment: "sample rate") { m in
            let w = Waveform(volts: wave, sampleRate: .hertz(200e6))
            try await m.loadDrive(i: w, q: w)
        },
        LimitCase(name: "7 samples", fragment: "7 samples") { m in
            let w = Waveform(volts: Array(wave.prefix(7)), sampleRate: .hertz(1e6))
            try await m.loadDrive(i: w, q: w)
        },
        LimitCase(name: "a drive beyond the bench's ±1 V", soft: true, fragment: "bench limit") { m in
            try await m.setStaticDrive(i: .volts(1.5), q: .zero)
        },
        LimitCase(name: "a bias beyond the bench's ±4 V", soft: true, fragment: "bench limit") { m in try await m.setBias(.q, .volts(-4.5)) },
        LimitCase(name: "i and q of different lengths", fragment: "differ") { m in
            try await m.loadDrive(i: w8, q: Waveform(volts: wave + wave, sampleRate: .hertz(10e6)))
        },
        LimitCase(name: "a non-finite sample", fragment: "non-finite") { m in
            try await m.loadDrive(i: Waveform(volts: [.nan] + wave, sampleRate: .hertz(10e6)), q: Waveform(volts: [0] + wave, sampleRate: .hertz(10e6)))
        },
    ]

    @Test("limits: requests the AWG or the bench cannot take never reach the wire", arguments: limitCases)
    func limitsProduceNoBytes(_ c: LimitCase) async throws {
        let r = try await rig(a: c.steps, b: [],
                              softDrive: c.soft ? LimitRange(min: -1, max: 1, source: "bench.yaml:12") : nil,
                              softBias: c.soft ? LimitRange(min: -4, max: 4, source: "bench.yaml:13") : nil)
        await expectDeviceError(.invalidRequest, ["server.modulator", c.fragment]) { try await c.action(r.modulator) }
        try r.finish()
    }

    @Test("error paths: instrument error names the upload command, timeout, device gone", arguments: ["instrument", "timeout", "gone"])
    func errorPaths(_ path: String) async throws {
        let steps: [[Step]] = switch path {
        case "instrument": [S.set("OUTP1 OFF"), S.set("SOUR1:BURS:STAT OFF"), S.set("SOUR1:FUNC DC"), S.set("SOUR1:DATA:VOL:CLE"), S.set("FORM:BORD SWAP"),
                            [.exchange(Array("SOUR1:DATA:ARB:DAC QBENCH_I,".utf8) + (try IEEEBlock.encode(le16(Self.codes))) + [0x0A], reply: nil)],
                            S.query("*OPC?", "1"),
                            [.exchange("SYST:ERR?\n", reply: "-781,\"Out of memory; cannot store waveform\"\n"), S.noError]]
        case "timeout": [[.exchange("SOUR1:VOLT:OFFS?\n", reply: .timeout)], [S.noError]]
        default: [[.exchange("SOUR1:VOLT:OFFS?\n", reply: .deviceGone)]]
        }
        let r = try await rig(a: steps, b: [])
        switch path {
        case "instrument":
            await expectDeviceError(.instrumentError, ["server.modulator", "\"SOUR1:DATA:ARB:DAC QBENCH_I,#<16 bytes>\"", "-781"]) {
                try await r.modulator.loadDrive(i: Self.w8, q: Self.w8)
            }
        case "timeout": await expectDeviceError(.timeout, ["\"SOUR1:VOLT:OFFS?\""]) { _ = try await r.modulator.bias(.i) }
        default: await expectDeviceError(.disconnected, ["\"SOUR1:VOLT:OFFS?\""]) { _ = try await r.modulator.bias(.i) }
        }
        try r.finish()
    }

    @Test("against the simulated 33500B model: what plays is the waveform, within one DAC step")
    func againstModel() async throws {
        let (link, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        let m = try await Keysight33500B.open(device: "server.modulator", channels: [
            .i: Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits),
            .q: Keysight33500BChannel(link: link, number: 2, load: .highZ, limits: limits),
        ])
        try await m.setBias(.i, .volts(-0.7))
        let i = Waveform(volts: (0..<64).map { Float(0.8 * sin(Double($0) / 5)) }, sampleRate: .hertz(25e6))
        let q = Waveform(volts: (0..<64).map { Float(1.6 * cos(Double($0) / 7)) }, sampleRate: .hertz(25e6))
        try await m.loadDrive(i: i, q: q)
        let model = device.withModel { $0 }
        for (n, w, bias) in [(1, i, -0.7), (2, q, 0.0)] {
            let played = try #require(model.playback(channel: n))
            let step = model.channels[n - 1].amplitude / 65534
            for (p, v) in zip(played, w.volts) { #expect(abs(p - (bias + Double(v))) <= step) }
            #expect(model.channels[n - 1].burst && model.channels[n - 1].triggerSource == "EXT" && model.channels[n - 1].output)
        }
        #expect(!model.channels[1].fiftyOhm && model.channels[0].filter == "STEP")
        device.withModel { $0.externalTrigger() }
        #expect(device.withModel { $0.channels.map(\.bursts) } == [1, 1])
        // K2: the arb never played continuously with the output on (APPLy:ARB did that).
        #expect(device.withModel { $0.freeRunningEpisodes } == [0, 0])
        // K1: a second upload and a DC level after a triggered waveform: FUNC DC never meets burst on.
        try await m.loadDrive(i: i, q: q)
        try await m.zeroDrive()
        #expect(device.withModel { [$0.level(channel: 1), $0.level(channel: 2)] } == [-0.7, 0])
        #expect(device.withModel { $0.freeRunningEpisodes } == [0, 0])
        try await m.makeSafe()
        #expect(device.withModel { $0.channels.map(\.output) } == [false, false])
        #expect(device.errorQueue.isEmpty)
    }

    @Test("K1/K2: the model refuses FUNC DC in burst mode (-221) and counts free-running arbs, as APPLy:ARB produced")
    func modelCatchesOldSequence() async throws {
        let (_, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        // The old upload: APPLy:ARB then burst; then FUNC DC with burst still on.
        for command in ["SOUR1:DATA:ARB:DAC A1,0,1,2,3,4,5,6,7", "SOUR1:FUNC:ARB A1", "SOUR1:APPL:ARB 1E6,1,0", "SOUR1:BURS:MODE TRIG",
                        "TRIG1:SOUR EXT", "SOUR1:BURS:STAT ON", "SOUR1:FUNC DC"] {
            device.receive(Array((command + "\n").utf8))
        }
        #expect(device.withModel { $0.freeRunningEpisodes } == [1, 0])
        #expect(device.errorQueue.map(\.code) == [-221])
    }

    @Test("K3/K4: the upload timeout scales with the block; 1,000,001 points are refused by driver and model alike")
    func uploadSizeAndTimeout() async throws {
        #expect(Keysight33500BChannel.transferTimeout(bytes: 16) < .seconds(6))
        #expect(Keysight33500BChannel.transferTimeout(bytes: 2_000_000) >= .seconds(60))
        #expect(limits.arbPoints.upperBound == 1_000_000)
        let (link, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        let ch = Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits)
        await expectDeviceError(.invalidRequest, ["1000001 samples"]) { _ = try ch.plan([Float](repeating: 0, count: 1_000_001), offset: .zero, "awg", what: "the drive") }
        _ = try ch.plan([Float](repeating: 0, count: 1_000_000), offset: .zero, "awg", what: "the drive")
        #expect(device.withModel { $0.memoryPoints } == 1_000_000)
        // The upload and its *OPC? use the scaled timeout, not the session's 5 s.
        let recorder = TimeoutRecordingTransport(SimulatedTransport(device: SimulatedSCPIDevice(model: Keysight33500BModel())))
        let big = Keysight33500BChannel(link: InstrumentLink(transport: recorder), number: 1, load: .fiftyOhm, limits: limits)
        try await big.playTriggered(arbName: "BIG", codes: [Int16](repeating: 0, count: 400_000), rate: .hertz(1e6), amplitude: .volts(1),
                                    offset: .zero, "awg")
        let scaled = Keysight33500BChannel.transferTimeout(bytes: 800_000)
        #expect(scaled > .seconds(25))
        #expect(recorder.timeouts.first { $0.0.hasPrefix("SOUR1:DATA:ARB:DAC") }?.1 == scaled)
        #expect(recorder.timeouts.first { $0.0.hasPrefix("*OPC?") }?.1 == scaled)
        var tooLong = Array("SOUR1:DATA:ARB:DAC HUGE,".utf8) + (try IEEEBlock.encode([UInt8](repeating: 0, count: 2_000_002)))
        tooLong.append(0x0A)
        device.receive(tooLong)
        #expect(device.errorQueue.map(\.code) == [-222])
    }
}
