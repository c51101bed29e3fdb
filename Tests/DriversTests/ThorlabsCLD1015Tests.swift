import BenchIO
import BenchKit
@testable import Drivers
import InstrumentModels
import Testing

/// L1: the CLD1015 driver byte for byte against scripts (Series 4000 SCPI command set).
@Suite("Thorlabs CLD1015 driver")
struct ThorlabsCLD1015Tests {
    let limits: ThorlabsCLD1015.Limits
    init() throws { limits = try ThorlabsCLD1015.Limits(description("thorlabs-cld1015")) }

    func configuration(softMax: Double? = 0.1) -> ThorlabsCLD1015.Configuration {
        var c = ThorlabsCLD1015.Configuration(wavelength: .nanometres(1550))
        c.softCurrent = softMax.map { LimitRange(min: 0, max: $0, source: "bench.yaml:8") }
        c.softTemperature = LimitRange(min: 288.15, max: 308.15, source: "bench.yaml:9")
        return c
    }

    func open(_ steps: [[Step]], hardwareLimit: String = "1.200000E-01", softMax: Double? = 0.1) async throws -> (ThorlabsCLD1015, ScriptedTransport) {
        let (link, transport) = scripted([S.query("SOUR:CURR:LIM:AMPL?", hardwareLimit)] + steps, name: "CLD1015")
        let laser = try await ThorlabsCLD1015.open(link: link, device: "server.laser", limits: limits, configuration: configuration(softMax: softMax))
        return (laser, transport)
    }

    static let settled: [[Step]] = [S.query("OUTP2:STAT?", "1"), S.query("SOUR2:TEMP?", "2.500000E+01"), S.query("MEAS:TEMP?", "2.502000E+01")]
    /// Constant current and modulation off, as found (Series 4000 §3.7.1, §3.7.6).
    static let constantCurrent: [[Step]] = [S.query("SOUR:FUNC:MODE?", "CURR"), S.query("SOUR:AM:STAT?", "0")]
    /// OUTP1 ON, then the read-back of the output and the Measurement register (§3.14.3).
    static func switchOn(output: String = "1", condition: String = "0") -> [[Step]] {
        [S.set("OUTP1:STAT ON"), S.query("OUTP1:STAT?", output), S.query("STAT:MEAS:COND?", condition)]
    }

    @Test("opening reads back the controller's limit; the ceiling is min(soft, hardware, file)")
    func ceiling() async throws {
        let (laser, transport) = try await open([])
        #expect(await laser.hardwareCurrentLimit == .amperes(0.12))
        #expect(await laser.currentCeiling == .amperes(0.1))
        let (unbounded, t2) = try await open([], hardwareLimit: "2.000000E+00", softMax: nil)
        #expect(await unbounded.currentCeiling == .amperes(1.5))
        try transport.finish()
        try t2.finish()
    }

    @Test("current setpoint and read-back, TEC setpoint, wavelength")
    func setpoints() async throws {
        let (laser, transport) = try await open([
            S.set("SOUR:CURR 0.05"), S.query("SOUR:CURR?", "5.000000E-02"), S.set("SOUR2:TEMP 25.000"), S.query("MEAS:TEMP?", "2.501000E+01"),
        ])
        try await laser.setCurrent(.milliamperes(50))
        #expect(try await laser.current() == .milliamperes(50))
        try await laser.setTemperature(.celsius(25))
        #expect(abs(try await laser.temperature().celsius - 25.01) < 1e-9)
        #expect(try await laser.wavelength() == .nanometres(1550))
        try transport.finish()
    }

    @Test("emission starts only with the TEC on and settled and the setpoint at the switch-on current")
    func emissionOn() async throws {
        let (laser, transport) = try await open(Self.settled + [S.query("SOUR:CURR?", "0.000000E+00")] + Self.constantCurrent + Self.switchOn()
                                                + [S.query("OUTP1:STAT?", "1"), S.set("OUTP1:STAT OFF")])
        try await laser.setEmission(true)
        #expect(try await laser.isEmitting())
        try await laser.setEmission(false)
        try transport.finish()
    }

    @Test("L2: constant-power mode and analog modulation are forced off (and read back) before OUTP1 ON")
    func constantCurrentForced() async throws {
        let (laser, transport) = try await open(Self.settled + [S.query("SOUR:CURR?", "0.000000E+00"),
            S.query("SOUR:FUNC:MODE?", "POW"), S.set("SOUR:FUNC:MODE CURR"), S.query("SOUR:FUNC:MODE?", "CURR"),
            S.query("SOUR:AM:STAT?", "1"), S.set("SOUR:AM:STAT OFF"), S.query("SOUR:AM:STAT?", "0")] + Self.switchOn())
        try await laser.setEmission(true)
        try transport.finish()
    }

    @Test("L3: a keylock, interlock or TEC fault after OUTP1 ON is read back, the output switched off, the cause named", arguments: [
        ("keylock", "0", "1", "keylock protection active"),
        ("interlock", "0", "4", "LD interlock active"),
        ("TEC connection", "1", "4096", "TEC connection failure"),
        ("output stays off", "0", "0", "the LD output reads off"),
    ])
    func switchOnBlocked(_ name: String, _ output: String, _ condition: String, _ fragment: String) async throws {
        let (laser, transport) = try await open(Self.settled + [S.query("SOUR:CURR?", "0.000000E+00")] + Self.constantCurrent
                                                + Self.switchOn(output: output, condition: condition) + [S.set("OUTP1:STAT OFF")])
        await expectDeviceError(.notReady, ["server.laser", "emission did not start", fragment]) { try await laser.setEmission(true) }
        try transport.finish()
    }

    @Test("L1-L3 against the model: the model refuses a °C suffix (-131), runs AM and constant-power current, and keeps the output off under a keylock")
    func modelDisagreesWhereTheControllerWould() async throws {
        // L1: what the old driver sent.
        let (_, raw) = simulated(ThorlabsCLD1015Model(), name: "simulated CLD1015")
        raw.receive(Array("SOUR2:TEMP 25.000C\n".utf8))
        #expect(raw.errorQueue.map(\.code) == [-131])
        // L2: with AM left on, the model's diode current is not the setpoint; the driver fixes it first.
        let (link, device) = simulated(ThorlabsCLD1015Model(), name: "simulated CLD1015")
        device.withModel { $0.amplitudeModulation = true; $0.sourceMode = "POW" }
        let laser = try await ThorlabsCLD1015.open(link: link, device: "server.laser", limits: limits, configuration: configuration())
        try await laser.setEmission(true)
        #expect(device.withModel { ($0.amplitudeModulation, $0.sourceMode, $0.diodeCurrent) } == (false, "CURR", 0))
        try await laser.setEmission(false)
        // L3: a keylock keeps the output off; the driver says so instead of reporting success.
        device.withModel { $0.keylock = true }
        await expectDeviceError(.notReady, ["keylock protection active"]) { try await laser.setEmission(true) }
        #expect(device.withModel { $0.laserOn } == false)
        #expect(device.errorQueue.isEmpty)
    }

    @Test("emission is refused, and OUTP1 ON never sent, when the TEC is off, unsettled, or the setpoint is high", arguments: [
        ("TEC off", [S.query("OUTP2:STAT?", "0")], "the TEC is off"),
        ("unsettled", [S.query("OUTP2:STAT?", "1"), S.query("SOUR2:TEMP?", "2.500000E+01"), S.query("MEAS:TEMP?", "2.560000E+01")], "from the TEC setpoint"),
        ("setpoint", settled + [S.query("SOUR:CURR?", "8.000000E-02")], "above the switch-on current"),
    ] as [(String, [[Step]], String)])
    func emissionRefused(_ name: String, _ steps: [[Step]], _ fragment: String) async throws {
        let (laser, transport) = try await open(steps)
        await expectDeviceError(.notReady, ["server.laser", "emission refused", fragment]) { try await laser.setEmission(true) }
        try transport.finish()
    }

    @Test("limits: currents and temperatures beyond a limit never reach the wire", arguments: [
        ("101 mA: above the bench's 100 mA", "1.200000E-01", 0.1 as Double?, "current", 0.101, "outside the bench limit"),
        ("125 mA: above the controller's 120 mA", "1.200000E-01", nil, "current", 0.125, "controller limit 120 mA"),
        ("1.6 A: above the CLD1015's 1.5 A", "2.000000E+00", nil, "current", 1.6, "instrument file 1.5 A"),
        ("negative", "1.200000E-01", nil, "current", -0.001, "non-negative"),
        ("NaN", "1.200000E-01", nil, "current", Double.nan, "non-negative"),
        ("50 °C: above the TEC's 45 °C", "1.200000E-01", nil, "temperature", 323.15, "outside the controller's"),
        ("40 °C: above the bench's 35 °C", "1.200000E-01", nil, "temperature", 313.15, "outside the bench limit"),
    ] as [(String, String, Double?, String, Double, String)])
    func limits(_ name: String, _ hw: String, _ soft: Double?, _ parameter: String, _ value: Double, _ fragment: String) async throws {
        let (laser, transport) = try await open([], hardwareLimit: hw, softMax: soft)
        await expectDeviceError(.invalidRequest, ["server.laser", fragment]) {
            if parameter == "current" { try await laser.setCurrent(.amperes(value)) } else { try await laser.setTemperature(.kelvin(value)) }
        }
        try transport.finish()
    }

    @Test("makeSafe ramps down in 10 mA steps then switches off; when already off it zeroes and switches off")
    func makeSafe() async throws {
        let (laser, transport) = try await open([
            S.query("OUTP1:STAT?", "1"), S.query("SOUR:CURR?", "2.500000E-02"),
            S.set("SOUR:CURR 0.015"), S.set("SOUR:CURR 0.005"), S.set("SOUR:CURR 0"), S.set("OUTP1:STAT OFF"),
            S.query("OUTP1:STAT?", "0"), S.set("SOUR:CURR 0"), S.set("OUTP1:STAT OFF"),
        ])
        try await laser.makeSafe()
        try await laser.makeSafe()
        try transport.finish()
    }

    @Test("error paths: instrument error names the command, timeout, device gone", arguments: ["instrument", "timeout", "gone"])
    func errorPaths(_ path: String) async throws {
        let steps: [[Step]] = switch path {
        case "instrument": [S.rejected("SOUR:CURR 0.05", -222, "Data out of range")]
        case "timeout": [[.exchange("SOUR:CURR?\n", reply: .timeout)], [S.noError]]
        default: [[.exchange("SOUR:CURR?\n", reply: .deviceGone)]]
        }
        let (laser, transport) = try await open(steps)
        switch path {
        case "instrument":
            await expectDeviceError(.instrumentError, ["server.laser", "\"SOUR:CURR 0.05\"", "-222"]) { try await laser.setCurrent(.milliamperes(50)) }
        case "timeout":
            await expectDeviceError(.timeout, ["server.laser", "\"SOUR:CURR?\""]) { _ = try await laser.current() }
        default:
            await expectDeviceError(.disconnected, ["server.laser", "\"SOUR:CURR?\""]) { _ = try await laser.current() }
        }
        try transport.finish()
    }

    @Test("settings and identity")
    func settings() async throws {
        let (laser, transport) = try await open([
            S.query("SOUR:CURR?", "5.000000E-02"), S.query("OUTP1:STAT?", "1"), S.query("OUTP2:STAT?", "1"),
            S.query("SOUR2:TEMP?", "2.500000E+01"), S.query("MEAS:TEMP?", "2.502000E+01"),
            S.query("*IDN?", "THORLABS,CLD1015,M00443953,1.4.0"),
        ])
        let s = try await laser.settings()
        #expect(try await laser.identify() == InstrumentIdentity(manufacturer: "THORLABS", model: "CLD1015", serial: "M00443953", firmware: "1.4.0"))
        #expect(s["current"] == "50 mA" && s["current-limit"] == "120 mA" && s["ceiling"] == "100 mA" && s["emission"] == "on")
        #expect(s["tec-setpoint"] == "25.000 °C" && s["temperature"] == "25.020 °C" && s["wavelength"] == "1.55 µm")
        try transport.finish()
    }

    @Test("against the simulated CLD1015 model: switch on, ramp up, make safe")
    func againstModel() async throws {
        let (link, device) = simulated(ThorlabsCLD1015Model(), name: "simulated CLD1015")
        let laser = try await ThorlabsCLD1015.open(link: link, device: "server.laser", limits: limits, configuration: configuration())
        try await laser.setTemperature(.celsius(25))
        try await laser.setEmission(true)
        try await laser.ramp(to: .milliamperes(40), step: .milliamperes(10), interval: .milliseconds(1))
        #expect(device.withModel { ($0.laserOn, $0.setpoint) } == (true, 0.04))
        try await laser.makeSafe()
        #expect(device.withModel { ($0.laserOn, $0.setpoint) } == (false, 0))
        device.withModel { $0.temperatureError = 1 }
        await expectDeviceError(.notReady, ["from the TEC setpoint"]) { try await laser.setEmission(true) }
        #expect(device.errorQueue.isEmpty)
    }
}
