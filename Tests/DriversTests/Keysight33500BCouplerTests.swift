import BenchIO
import BenchKit
@testable import Drivers
import InstrumentModels
import Testing

/// The client's splitter: a voltage-controlled coupler on a 33500B DC output, byte for byte against
/// scripts (33500B/33600A Operating and Service Guide, SCPI Programming Reference) and against the
/// 33500B model. Table: 0 V → 0.02, 2 V → 0.5, 5 V → 0.98, into high-Z.
@Suite("Keysight 33500B coupler (splitter) driver")
struct Keysight33500BCouplerTests {
    let limits: Keysight33500BLimits
    init() throws { limits = try Keysight33500BLimits(description("keysight-33500b")) }

    static let table = try! CalibrationTable([.init(x: 0, y: 0.02), .init(x: 2, y: 0.5), .init(x: 5, y: 0.98)], source: "client.yaml:30")

    func open(_ steps: [[Step]], output: String = "0", table: CalibrationTable = table) async throws -> (Keysight33500BCoupler, ScriptedTransport) {
        let (link, transport) = scripted([S.set("OUTP1:LOAD INF"), S.query("OUTP1?", output)] + steps, name: "AWG D")
        let channel = Keysight33500BChannel(link: link, number: 1, load: .highZ, limits: limits)
        return (try await Keysight33500BCoupler.open(device: "client.splitter", channel: channel, table: table), transport)
    }

    static let notBurst = S.query("SOUR1:BURS:STAT?", "0")

    @Test("set: the table's voltage held as a DC level, output on once; read back: the level mapped through the table")
    func setAndReadBack() async throws {
        let (coupler, transport) = try await open([
            Self.notBurst, S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 2"), S.set("OUTP1 ON"),
            S.query("OUTP1?", "1"), S.query("SOUR1:FUNC?", "DC"), S.query("SOUR1:VOLT:OFFS?", "+2.000000000000000E+00"),
            Self.notBurst, S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 3.5"),
            S.query("OUTP1?", "1"), S.query("SOUR1:FUNC?", "DC"), S.query("SOUR1:VOLT:OFFS?", "+3.500000000000000E+00"),
        ])
        try await coupler.setKeptFraction(0.5)
        #expect(abs(try await coupler.keptFraction() - 0.5) < 1e-12)
        try await coupler.setKeptFraction(0.74)
        #expect(abs(try await coupler.keptFraction() - 0.74) < 1e-12)
        try transport.finish()
    }

    @Test("a coupler whose kept fraction falls with voltage")
    func fallingTable() async throws {
        let falling = try CalibrationTable([.init(x: 0, y: 0.9), .init(x: 2, y: 0.6), .init(x: 5, y: 0.1)], source: "client.yaml:30")
        let (coupler, transport) = try await open([Self.notBurst, S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 3.8")], output: "1", table: falling)
        try await coupler.setKeptFraction(0.3)
        try transport.finish()
    }

    @Test("limits: fractions outside the table never reach the wire", arguments: [
        (0.01, "outside the coupler's measured table 0.02 … 0.98"), (0.99, "outside the coupler's measured table"),
        (-0.1, "outside"), (Double.nan, "outside"),
    ])
    func limitsProduceNoBytes(_ fraction: Double, _ fragment: String) async throws {
        let (coupler, transport) = try await open([])
        await expectDeviceError(.invalidRequest, ["client.splitter", fragment]) { try await coupler.setKeptFraction(fraction) }
        try transport.finish()
    }

    @Test("a table voltage beyond the channel's window is refused before any byte (50 Ω: ±5 V)")
    func windowChecked() async throws {
        let wide = try CalibrationTable([.init(x: 0, y: 0.02), .init(x: 8, y: 0.98)], source: "client.yaml:30")
        let (link, transport) = scripted([S.set("OUTP1:LOAD 50"), S.query("OUTP1?", "0")], name: "AWG D")
        let coupler = try await Keysight33500BCoupler.open(device: "client.splitter", channel: Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits), table: wide)
        await expectDeviceError(.invalidRequest, ["client.splitter", "output window"]) { try await coupler.setKeptFraction(0.9) }
        try transport.finish()
    }

    @Test("makeSafe holds 0 V (the rest state), switching the output on when it was off; with the output off the rest state's fraction is read")
    func makeSafe() async throws {
        let (coupler, transport) = try await open([
            S.query("OUTP1?", "0"),
            Self.notBurst, S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 0"), S.set("OUTP1 ON"),
            Self.notBurst, S.set("SOUR1:FUNC DC"), S.set("SOUR1:VOLT:OFFS 0"),
        ])
        #expect(try await coupler.keptFraction() == 0.02)
        try await coupler.makeSafe()
        try await coupler.makeSafe()
        try transport.finish()
    }

    @Test("a channel playing something else than a DC level is an error, not a fraction")
    func foreignFunction() async throws {
        let (coupler, transport) = try await open([S.query("OUTP1?", "1"), S.query("SOUR1:FUNC?", "ARB")])
        await expectDeviceError(.instrumentError, ["client.splitter", "plays function ARB"]) { _ = try await coupler.keptFraction() }
        try transport.finish()
    }

    @Test("against the 33500B model: a channel left in triggered burst leaves it first (FUNC DC is refused in burst); level and output as set")
    func againstModel() async throws {
        let (link, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        let channel = Keysight33500BChannel(link: link, number: 2, load: .highZ, limits: limits)
        try await channel.playTriggered(arbName: "LEFTOVER", codes: [Int16](repeating: 100, count: 8), rate: .hertz(1e6), amplitude: .volts(1), offset: .zero, "awg")
        let coupler = try await Keysight33500BCoupler.open(device: "client.splitter", channel: channel, table: Self.table)
        try await coupler.setKeptFraction(0.98)
        #expect(device.withModel { ($0.level(channel: 2), $0.channels[1].output, $0.channels[1].burst, $0.channels[1].fiftyOhm) } == (5, true, false, false))
        #expect(abs(try await coupler.keptFraction() - 0.98) < 1e-12)
        try await coupler.makeSafe()
        #expect(device.withModel { $0.level(channel: 2) } == 0)
        #expect(try await coupler.keptFraction() == 0.02)
        #expect(device.errorQueue.isEmpty)
        #expect(device.withModel { $0.freeRunningEpisodes } == [0, 0])
    }
}
