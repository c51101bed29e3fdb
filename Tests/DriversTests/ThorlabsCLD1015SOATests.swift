import BenchIO
import BenchKit
@testable import Drivers
import InstrumentModels
import Testing

/// The client's amplifier: an SOA on a CLD1015, byte for byte against scripts (Series 4000 SCPI
/// command set), and against the CLD1015 model. Gain table: 60 mA → 1, 100 mA → 2, 200 mA → 6.
@Suite("Thorlabs CLD1015 SOA amplifier driver")
struct ThorlabsCLD1015SOATests {
    let limits: ThorlabsCLD1015.Limits
    init() throws { limits = try ThorlabsCLD1015.Limits(description("thorlabs-cld1015")) }

    static let table = try! CalibrationTable([.init(x: 0.06, y: 1), .init(x: 0.10, y: 2), .init(x: 0.20, y: 6)], source: "client.yaml:20")

    func configuration(currentLimit: Double = 0.25, table: CalibrationTable = table) -> ThorlabsCLD1015SOA.Configuration {
        var c = ThorlabsCLD1015SOA.Configuration(gainTable: table, currentLimit: .amperes(currentLimit))
        c.rampStep = .milliamperes(50)
        c.rampInterval = .milliseconds(1)
        return c
    }

    func open(_ steps: [[Step]], hardwareLimit: String = "5.000000E-01", currentLimit: Double = 0.25) async throws -> (ThorlabsCLD1015SOA, ScriptedTransport) {
        let (link, transport) = scripted([S.query("SOUR:CURR:LIM:AMPL?", hardwareLimit)] + steps, name: "CLD1015 (SOA)")
        let soa = try await ThorlabsCLD1015SOA.open(link: link, device: "client.amplifier", limits: limits, configuration: configuration(currentLimit: currentLimit))
        return (soa, transport)
    }

    /// From output off: setpoint at the switch-on current, the checked switch-on of
    /// ThorlabsCLD1015Tests (TEC settled, constant current, output and register read back).
    static func switchOn(condition: String = "0", output: String = "1") -> [[Step]] {
        [S.query("OUTP1:STAT?", "0"), S.set("SOUR:CURR 0.01")]
            + ThorlabsCLD1015Tests.settled + [S.query("SOUR:CURR?", "1.000000E-02")] + ThorlabsCLD1015Tests.constantCurrent
            + ThorlabsCLD1015Tests.switchOn(output: output, condition: condition)
    }

    @Test("setGain from off: switch on at 10 mA, ramp in 50 mA steps to the table's current; gain() maps MEAS:CURR? back; then a ramp from the present setpoint")
    func setAndReadBack() async throws {
        let (soa, transport) = try await open(Self.switchOn() + [
            S.set("SOUR:CURR 0.06"), S.set("SOUR:CURR 0.1"),
            S.query("OUTP1:STAT?", "1"), S.query("MEAS:CURR?", "1.000000E-01"),
            S.query("OUTP1:STAT?", "1"), S.query("SOUR:CURR?", "1.000000E-01"), S.set("SOUR:CURR 0.15"),
            S.query("OUTP1:STAT?", "1"), S.query("MEAS:CURR?", "1.500000E-01"),
        ])
        try await soa.setGain(2)
        #expect(abs(try await soa.gain() - 2) < 1e-9)
        try await soa.setGain(4)
        #expect(abs(try await soa.gain() - 4) < 1e-9)
        try transport.finish()
    }

    @Test("a gain below the switch-on current's is set directly, with no ramp")
    func smallCurrent() async throws {
        let table = try CalibrationTable([.init(x: 0.005, y: 1), .init(x: 0.2, y: 6)], source: "client.yaml:20")
        let (link, transport) = scripted([S.query("SOUR:CURR:LIM:AMPL?", "5.000000E-01"), S.query("OUTP1:STAT?", "0"), S.set("SOUR:CURR 0.005")]
                                         + ThorlabsCLD1015Tests.settled + [S.query("SOUR:CURR?", "5.000000E-03")] + ThorlabsCLD1015Tests.constantCurrent
                                         + ThorlabsCLD1015Tests.switchOn(), name: "CLD1015 (SOA)")
        let soa = try await ThorlabsCLD1015SOA.open(link: link, device: "client.amplifier", limits: limits, configuration: configuration(table: table))
        try await soa.setGain(1)
        try transport.finish()
    }

    @Test("limits: gains outside the table or needing more than the ceiling never reach the wire", arguments: [
        ("below the table", 0.5, "5.000000E-01", 0.25, "outside the SOA's measured gain table 1 … 6"),
        ("above the table", 6.5, "5.000000E-01", 0.25, "outside the SOA's measured gain table"),
        ("NaN", Double.nan, "5.000000E-01", 0.25, "not a finite number"),
        ("infinite", Double.infinity, "5.000000E-01", 0.25, "not a finite number"),
        ("4 needs 150 mA, the controller allows 120 mA", 4, "1.200000E-01", 0.25, "controller limit 120 mA"),
        ("6 needs 200 mA, the SOA's current-limit is 180 mA", 6, "5.000000E-01", 0.18, "current-limit 180 mA"),
    ] as [(String, Double, String, Double, String)])
    func limitsProduceNoBytes(_ name: String, _ gain: Double, _ hardware: String, _ currentLimit: Double, _ fragment: String) async throws {
        let (soa, transport) = try await open([], hardwareLimit: hardware, currentLimit: currentLimit)
        await expectDeviceError(.invalidRequest, ["client.amplifier", fragment]) { try await soa.setGain(gain) }
        try transport.finish()
    }

    @Test("a switch-on blocked by the keylock is reported and the output switched off again, before any ramp")
    func blockedSwitchOn() async throws {
        let (soa, transport) = try await open(Self.switchOn(condition: "1", output: "0") + [S.set("OUTP1:STAT OFF")])
        await expectDeviceError(.notReady, ["client.amplifier", "keylock protection active"]) { try await soa.setGain(2) }
        try transport.finish()
    }

    @Test("makeSafe ramps to 0 and switches off; gain() then reads 0 (unpumped); makeSafe again is idempotent")
    func makeSafe() async throws {
        let (soa, transport) = try await open([
            S.query("OUTP1:STAT?", "1"), S.query("SOUR:CURR?", "1.000000E-01"), S.set("SOUR:CURR 0.05"), S.set("SOUR:CURR 0"), S.set("OUTP1:STAT OFF"),
            S.query("OUTP1:STAT?", "0"),
            S.query("OUTP1:STAT?", "0"), S.set("SOUR:CURR 0"), S.set("OUTP1:STAT OFF"),
        ])
        try await soa.makeSafe()
        #expect(try await soa.gain() == 0)
        try await soa.makeSafe()
        try transport.finish()
    }

    @Test("a current outside the table (set by someone else) is an error saying so, not a made-up gain")
    func foreignCurrent() async throws {
        let (soa, transport) = try await open([S.query("OUTP1:STAT?", "1"), S.query("MEAS:CURR?", "3.000000E-02")])
        await expectDeviceError(.instrumentError, ["client.amplifier", "30 mA", "outside the gain table", "something other than qbench"]) { _ = try await soa.gain() }
        try transport.finish()
    }

    @Test("against the CLD1015 model: modulation left on is forced off, the gain set is the gain read, the safe state is 0 A and off")
    func againstModel() async throws {
        let (link, device) = simulated(ThorlabsCLD1015Model(), name: "simulated CLD1015")
        device.withModel { $0.currentLimit = 0.5; $0.amplitudeModulation = true }
        let soa = try await ThorlabsCLD1015SOA.open(link: link, device: "client.amplifier", limits: limits, configuration: configuration())
        try await soa.setGain(3)
        #expect(device.withModel { ($0.laserOn, $0.amplitudeModulation, $0.diodeCurrent) } == (true, false, 0.125))
        #expect(abs(try await soa.gain() - 3) < 1e-9)
        let s = try await soa.settings()
        #expect(s["gain"] == "3" && s["output"] == "on" && s["ceiling"] == "250 mA")
        try await soa.makeSafe()
        #expect(device.withModel { ($0.laserOn, $0.setpoint) } == (false, 0))
        #expect(try await soa.gain() == 0)
        #expect(device.errorQueue.isEmpty)
    }
}
