import BenchIO
import BenchKit
@testable import Drivers
import Foundation
import InstrumentModels
import Testing

/// The client's interferometer as an IQ modulator on two 33500B channels, byte for byte against
/// scripts (33500B/33600A Operating and Service Guide, SCPI Programming Reference: DATA:ARB:DAC,
/// DATA:SEQuence, FUNCtion:ARBitrary, TRIGger, OUTPut) and against the 33500B model.
/// Vπ = 3 V on both arms, so a full field is ∓3 V from the null bias.
@Suite("Keysight 33500B client processor driver")
struct Keysight33500BProcessorTests {
    let limits: Keysight33500BLimits
    init() throws { limits = try Keysight33500BLimits(description("keysight-33500b")) }

    static func configuration(biasI: Double = 0, rate: Double = 10e6) -> Keysight33500BProcessor.Configuration {
        var c = Keysight33500BProcessor.Configuration(symbolRate: .hertz(rate), vPiI: .volts(3), vPiQ: .volts(3))
        c.biasI = .volts(biasI)
        return c
    }

    func open(_ steps: [[Step]], configuration: Keysight33500BProcessor.Configuration = configuration()) async throws -> (Keysight33500BProcessor, ScriptedTransport) {
        let (link, transport) = scripted([S.set("OUTP1:LOAD 50"), S.set("OUTP2:LOAD 50")] + steps, name: "AWG C")
        let p = try await Keysight33500BProcessor.open(device: "client.processor",
                                                       i: Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits),
                                                       q: Keysight33500BChannel(link: link, number: 2, load: .fiftyOhm, limits: limits),
                                                       phase: nil, configuration: configuration)
        return (p, transport)
    }

    /// One channel's sequence upload: output off, burst off, DC, memory cleared, little-endian;
    /// each segment's block and *OPC?; the sequence block and *OPC?; external trigger; the
    /// sequence selected with rate, step filter, amplitude and offset; output on.
    static func sequence(_ ch: Int, _ segments: [(String, [Int16])], definition: String, vpp: String, offset: String) -> [[Step]] {
        var steps: [[Step]] = [S.set("OUTP\(ch) OFF"), S.set("SOUR\(ch):BURS:STAT OFF"), S.set("SOUR\(ch):FUNC DC"), S.set("SOUR\(ch):DATA:VOL:CLE"), S.set("FORM:BORD SWAP")]
        for (name, codes) in segments {
            steps += [[.exchange(Array("SOUR\(ch):DATA:ARB:DAC \(name),".utf8) + (try! IEEEBlock.encode(le16(codes))) + [0x0A], reply: nil)], S.query("*OPC?", "1"), [S.noError]]
        }
        steps += [[.exchange(Array("SOUR\(ch):DATA:SEQ ".utf8) + (try! IEEEBlock.encode(Array(definition.utf8))) + [0x0A], reply: nil)], S.query("*OPC?", "1"), [S.noError]]
        steps += [S.set("TRIG\(ch):SOUR EXT"), S.set("SOUR\(ch):FUNC:ARB \(definition.split(separator: ",")[0].replacingOccurrences(of: "\"", with: ""))"),
                  S.set("SOUR\(ch):FUNC ARB"), S.set("SOUR\(ch):FUNC:ARB:SRAT 10000000"), S.set("SOUR\(ch):FUNC:ARB:FILT STEP"),
                  S.set("SOUR\(ch):VOLT:OFFS 0"), S.set("SOUR\(ch):VOLT \(vpp)"), S.set("SOUR\(ch):VOLT:OFFS \(offset)"), S.set("OUTP\(ch) ON")]
        return steps
    }

    /// One row of two modes and one vacuum slot: 3 slots per shot, segments of 8 samples.
    static let layout = FrameLayout(rows: 1, modesPerRow: 2, vacuumSlotsPerRow: 1)
    static let zeros = [Int16](repeating: 0, count: 8)
    static func codes(_ head: [Int16]) -> [Int16] { head + [Int16](repeating: 0, count: 8 - head.count) }

    @Test("program: per arm an all-zero arm segment and one segment per shot of conj(ξ) drives (vacuum slots and the tail at zero), played as an onceWaitTrig sequence")
    func program() async throws {
        // Shot 1: ξ = (1, 0) → I −3 V on slot 0. Shot 2: ξ = (0, i) → conj = −i → Q field −1 → +3 V on slot 1.
        // Shot 3: ξ = (0.6, 0.8i)/1 → I field 0.6, Q field −0.8 on slot 0.
        // As the driver computes them: Float symbols, Float volts, codes = volts / (Vpp/2) · 32767.
        let v6 = Float(-2 * 3 / Double.pi * asin(Double(Float(0.6)))), v8 = Float(-2 * 3 / Double.pi * asin(-Double(Float(0.8))))
        let c6 = Int16((Double(v6) * 32767 / 3).rounded()), c8 = Int16((Double(v8) * 32767 / 3).rounded())
        #expect(c6 == -13424 && c8 == 19343)
        let iDef = #""XI_SEQ","XI_ARM",1,onceWaitTrig,maintain,4,"XI_S0001",1,onceWaitTrig,maintain,4,"XI_S0002",1,onceWaitTrig,maintain,4,"XI_S0003",1,onceWaitTrig,maintain,4"#
        let qDef = iDef.replacingOccurrences(of: "XI_", with: "XQ_")
        let (p, transport) = try await open(
            Self.sequence(1, [("XI_ARM", Self.zeros), ("XI_S0001", Self.codes([-32767])), ("XI_S0002", Self.zeros), ("XI_S0003", Self.codes([c6]))],
                          definition: iDef, vpp: "6", offset: "0")
            + Self.sequence(2, [("XQ_ARM", Self.zeros), ("XQ_S0001", Self.zeros), ("XQ_S0002", Self.codes([0, 32767])), ("XQ_S0003", Self.codes([c8]))],
                            definition: qDef, vpp: "6", offset: "0"))
        try await p.program([[ComplexSymbol(1, 0), ComplexSymbol(0, 0)], [ComplexSymbol(0, 0), ComplexSymbol(0, 1)], [ComplexSymbol(0.6, 0.8), ComplexSymbol(0, 0)]],
                            layout: Self.layout)
        #expect(try await p.settings()["program"] == "3 shots")
        try transport.finish()
    }

    /// A request that must be refused before any byte is sent.
    struct LimitCase: Sendable, CustomTestStringConvertible {
        let name: String
        let symbols: [[ComplexSymbol]]
        var layout = Keysight33500BProcessorTests.layout
        var configuration = Keysight33500BProcessorTests.configuration()
        let fragment: String
        var testDescription: String { name }
    }

    static let unit = [ComplexSymbol(1, 0), ComplexSymbol(0, 0)]
    static let limitCases: [LimitCase] = [
        LimitCase(name: "three symbols for two modes", symbols: [unit + [ComplexSymbol(0, 0)]], fragment: "has 3 symbols, the layout 2 modes"),
        LimitCase(name: "norm² 2", symbols: [[ComplexSymbol(1, 0), ComplexSymbol(1, 0)]], fragment: "norm² 2"),
        LimitCase(name: "a NaN symbol", symbols: [[ComplexSymbol(.nan, 0), ComplexSymbol(0, 0)]], fragment: "non-finite"),
        LimitCase(name: "no shots", symbols: [], fragment: "0 shots"),
        LimitCase(name: "an empty layout", symbols: [unit], layout: FrameLayout(rows: 0, modesPerRow: 2, vacuumSlotsPerRow: 1), fragment: "is empty"),
        LimitCase(name: "3 V of drive on a 3 V bias leaves the ±5 V window", symbols: [unit], configuration: configuration(biasI: 3), fragment: "leaves"),
        LimitCase(name: "200 MSa/s", symbols: [unit], configuration: configuration(rate: 200e6), fragment: "sample rate"),
        LimitCase(name: "11 shots of 100,001 samples: more than the AWG holds",
                  symbols: Array(repeating: [ComplexSymbol(1, 0)] + Array(repeating: ComplexSymbol(0, 0), count: 98), count: 11),
                  layout: FrameLayout(rows: 1000, modesPerRow: 99, vacuumSlotsPerRow: 1), fragment: "the AWG holds 1000000"),
    ]

    @Test("limits: programs the AWG or the optics cannot take never reach the wire", arguments: limitCases)
    func limitsProduceNoBytes(_ c: LimitCase) async throws {
        let (p, transport) = try await open([], configuration: c.configuration)
        await expectDeviceError(.invalidRequest, ["client.processor", c.fragment]) { try await p.program(c.symbols, layout: c.layout) }
        try transport.finish()
    }

    @Test("an upload the AWG rejects on the Q arm switches both arms off: never one arm on the new program and the other not")
    func failedUploadSwitchesBothOff() async throws {
        let iDef = #""XI_SEQ","XI_ARM",1,onceWaitTrig,maintain,4,"XI_S0001",1,onceWaitTrig,maintain,4"#
        let (p, transport) = try await open(
            Self.sequence(1, [("XI_ARM", Self.zeros), ("XI_S0001", Self.codes([-32767]))], definition: iDef, vpp: "6", offset: "0")
            + [S.set("OUTP2 OFF"), S.set("SOUR2:BURS:STAT OFF"), S.set("SOUR2:FUNC DC"), S.rejected("SOUR2:DATA:VOL:CLE", -221, "Settings conflict")]
            + [S.set("OUTP1 OFF"), S.set("SOUR1:BURS:STAT OFF"), S.set("SOUR1:FUNC DC"), S.set("OUTP2 OFF"), S.set("SOUR2:BURS:STAT OFF"), S.set("SOUR2:FUNC DC")])
        await expectDeviceError(.instrumentError, ["client.processor", "\"SOUR2:DATA:VOL:CLE\"", "-221"]) {
            try await p.program([Self.unit], layout: Self.layout)
        }
        #expect(try await p.settings()["program"] == "none")
        try transport.finish()
    }

    @Test("makeSafe: every output off, burst off, back to DC; the program is dropped")
    func makeSafe() async throws {
        let (p, transport) = try await open([S.set("OUTP1 OFF"), S.set("SOUR1:BURS:STAT OFF"), S.set("SOUR1:FUNC DC"),
                                             S.set("OUTP2 OFF"), S.set("SOUR2:BURS:STAT OFF"), S.set("SOUR2:FUNC DC")])
        try await p.makeSafe()
        #expect(try await p.settings()["program"] == "none")
        try transport.finish()
    }

    @Test("against the 33500B model: trigger k plays shot k on both arms (bias + drive, within a DAC step), zero drive between, nothing free-runs")
    func againstModel() async throws {
        let (link, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        var c = Self.configuration(biasI: -0.4)
        c.biasQ = .volts(0.3)
        c.fieldScale = 0.5
        let p = try await Keysight33500BProcessor.open(device: "client.processor",
                                                       i: Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits),
                                                       q: Keysight33500BChannel(link: link, number: 2, load: .highZ, limits: limits),
                                                       phase: nil, configuration: c)
        let layout = FrameLayout(rows: 2, modesPerRow: 3, vacuumSlotsPerRow: 2)
        let s = 1 / 3.0.squareRoot()
        let shots: [[ComplexSymbol]] = (0..<4).map { k in
            (0..<3).map { j in let a = Double(k + j) * 0.7; return ComplexSymbol(Float(s * cos(a)), Float(s * sin(a))) }
        }
        try await p.program(shots, layout: layout)
        #expect(device.errorQueue.isEmpty)
        for trigger in 0...shots.count {
            let model = device.withModel { $0 }
            for (n, bias) in [(1, -0.4), (2, 0.3)] {
                let ch = model.channels[n - 1]
                let name = try #require(ch.playedSegments.last)
                #expect(name == (trigger == 0 ? "X\(n == 1 ? "I" : "Q")_ARM" : "X\(n == 1 ? "I" : "Q")_S" + String(format: "%04d", trigger)))
                let played = try #require(model.segmentPlayback(channel: n, name))
                #expect(played.count == layout.slotsPerShot + 1)
                let step = ch.amplitude / 65534
                for (slot, v) in played.enumerated() {
                    var expected = bias
                    if trigger > 0, slot < layout.slotsPerShot, layout.isSignal(slot: slot) {
                        let z = shots[trigger - 1][slot % layout.slotsPerRow]
                        let field = n == 1 ? 0.5 * Double(z.re) : -0.5 * Double(z.im)
                        expected += -2 * 3 / Double.pi * asin(field)
                    }
                    #expect(abs(v - expected) <= step + 1e-12, "channel \(n) trigger \(trigger) slot \(slot)")
                }
            }
            device.withModel { $0.externalTrigger() }
        }
        #expect(device.withModel { $0.freeRunningEpisodes } == [0, 0])
        try await p.makeSafe()
        #expect(device.withModel { $0.channels.map(\.output) } == [false, false])
    }

    @Test("the model refuses a sequence naming a segment not in volatile memory (-224) and counts a sequence that plays without waiting as free-running")
    func modelSequenceRules() async throws {
        let (_, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        device.receive(Array("SOUR1:DATA:ARB:DAC A1,0,1,2,3,4,5,6,7\n".utf8))
        device.receive(Array("SOUR1:DATA:SEQ ".utf8) + (try IEEEBlock.encode(Array(#""S1","NOPE",1,onceWaitTrig,maintain,4"#.utf8))) + [0x0A])
        #expect(device.errorQueue.map(\.code) == [-224])
        device.receive(Array("SOUR1:DATA:SEQ ".utf8) + (try IEEEBlock.encode(Array(#""S1","A1",1,once,maintain,4"#.utf8))) + [0x0A])
        for command in ["SOUR1:FUNC:ARB S1", "SOUR1:FUNC ARB", "OUTP1 ON"] { device.receive(Array((command + "\n").utf8)) }
        #expect(device.withModel { $0.freeRunningEpisodes } == [1, 0])
    }
}
