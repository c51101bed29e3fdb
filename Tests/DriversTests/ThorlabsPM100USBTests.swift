import BenchIO
import BenchKit
@testable import Drivers
import InstrumentModels
import Testing

/// L1: the PM100USB driver byte for byte against scripts (PM100USB Operation Manual ch. 7).
@Suite("Thorlabs PM100USB driver")
struct ThorlabsPM100USBTests {
    let limits: ThorlabsPM100USB.Limits
    init() throws { limits = try ThorlabsPM100USB.Limits(description("thorlabs-pm100usb")) }

    static let opening: [[Step]] = [
        S.query("SYST:SENS:IDN?", "S155C,1234567,01-Jan-2024,1,18,289"),
        S.query("SENS:CORR:WAV? MIN", "8.000000E+02"), S.query("SENS:CORR:WAV? MAX", "1.700000E+03"),
        S.set("SENS:POW:UNIT W"), S.set("SENS:POW:RANG:AUTO ON"),
    ]

    func open(_ steps: [[Step]], wavelength: Length? = nil, limits: ThorlabsPM100USB.Limits? = nil) async throws -> (ThorlabsPM100USB, ScriptedTransport) {
        let (link, transport) = scripted(Self.opening + steps, name: "PM100USB")
        let meter = try await ThorlabsPM100USB.open(link: link, device: "server.tap", limits: limits ?? self.limits, wavelength: wavelength)
        return (meter, transport)
    }

    @Test("opening reads the head's wavelength range, selects W and auto range, sets the wavelength")
    func opening() async throws {
        let (meter, transport) = try await open([S.set("SENS:CORR:WAV 1550")], wavelength: .nanometres(1550))
        #expect(await meter.wavelengthRange == 800...1700)
        try transport.finish()
    }

    @Test("P1: no head, an energy head or an unreadable head is refused when opened", arguments: [
        ("no sensor,,,0,0,0", DeviceError.Kind.notReady, "no sensor head"),
        ("ES111C,123,01-Jan-2024,3,1,2", .notReady, "not a power head"),
        ("garbage", .instrumentError, "SYST:SENS:IDN?"),
    ])
    func noHead(_ reply: String, _ kind: DeviceError.Kind, _ fragment: String) async throws {
        let (link, transport) = scripted([S.query("SYST:SENS:IDN?", reply)], name: "PM100USB")
        await expectDeviceError(kind, ["server.tap", fragment]) {
            _ = try await ThorlabsPM100USB.open(link: link, device: "server.tap", limits: limits)
        }
        try transport.finish()
    }

    @Test("P1: a head without the wavelength-settable flag keeps its correction; SENS:CORR:WAV is never sent to it")
    func fixedWavelengthHead() async throws {
        let (link, transport) = scripted([S.query("SYST:SENS:IDN?", "S121C-fixed,99,01-Jan-2024,1,18,1")] + Array(Self.opening.dropFirst())
                                         + [S.query("SENS:CORR:WAV?", "1.550000E+03"), S.query("SENS:CORR:WAV?", "1.550000E+03")], name: "PM100USB")
        let meter = try await ThorlabsPM100USB.open(link: link, device: "server.tap", limits: limits)
        try await meter.setWavelength(.nanometres(1550))
        await expectDeviceError(.invalidRequest, ["fixed correction at 1550 nm"]) { try await meter.setWavelength(.nanometres(1310)) }
        try transport.finish()
        // The model refuses the set (-221) where the old driver would have sent it.
        let (modelLink, device) = simulated({ var m = ThorlabsPM100USBModel(); m.sensorFlags = 1; return m }(), name: "simulated PM100USB")
        let simulatedMeter = try await ThorlabsPM100USB.open(link: modelLink, device: "server.tap", limits: limits)
        await expectDeviceError(.invalidRequest, ["fixed correction"]) { try await simulatedMeter.setWavelength(.nanometres(1310)) }
        #expect(device.errorQueue.isEmpty)
        device.receive(Array("SENS:CORR:WAV 1310\n".utf8))
        #expect(device.errorQueue.map(\.code) == [-221])
        device.withModel { $0.sensorName = "no sensor" }
        await expectDeviceError(.notReady, ["no sensor head"]) { _ = try await ThorlabsPM100USB.open(link: modelLink, device: "server.tap", limits: limits) }
    }

    @Test("power with averaging: the count is sent once, then reused")
    func readPower() async throws {
        let (meter, transport) = try await open([
            S.set("SENS:AVER:COUN 10"), S.query("MEAS:POW?", "1.234500E-03"), S.query("MEAS:POW?", "1.200000E-03"),
            S.set("SENS:AVER:COUN 1"), S.query("MEAS:POW?", "-2.000000E-10"),
        ])
        #expect(try await meter.readPower(averaging: .milliseconds(30)) == .watts(1.2345e-3))
        #expect(try await meter.readPower(averaging: .milliseconds(31)) == .watts(1.2e-3))
        #expect(try await meter.readPower(averaging: .zero) == .watts(-2e-10))
        try transport.finish()
    }

    @Test("dark adjustment: start, poll its state until 0, read the offset")
    func zero() async throws {
        let (meter, transport) = try await open([
            S.set("SENS:CORR:COLL:ZERO:INIT"), S.query("SENS:CORR:COLL:ZERO:STAT?", "1"), S.query("SENS:CORR:COLL:ZERO:STAT?", "1"),
            S.query("SENS:CORR:COLL:ZERO:STAT?", "0"), S.query("SENS:CORR:COLL:ZERO:MAGN?", "2.100000E-09"),
        ], limits: fastZero(timeout: .seconds(5)))
        try await meter.zero()
        try transport.finish()
    }

    func fastZero(timeout: Duration) -> ThorlabsPM100USB.Limits {
        var l = limits
        l.zeroTimeout = timeout
        l.zeroPollInterval = .milliseconds(1)
        return l
    }

    @Test("a dark adjustment that does not finish is aborted and reported as a timeout")
    func zeroTimeout() async throws {
        let (meter, transport) = try await open([
            S.set("SENS:CORR:COLL:ZERO:INIT"), S.query("SENS:CORR:COLL:ZERO:STAT?", "1"), S.set("SENS:CORR:COLL:ZERO:ABOR"),
        ], limits: fastZero(timeout: .zero))
        await expectDeviceError(.timeout, ["server.tap", "dark adjustment", "aborted", "covered"]) { try await meter.zero() }
        try await meter.makeSafe()   // nothing left to abort: no bytes
        try transport.finish()
    }

    @Test("settings and identity")
    func settingsAndIdentity() async throws {
        let (meter, transport) = try await open([
            S.query("SENS:CORR:WAV?", "1.550000E+03"), S.query("SENS:AVER:COUN?", "10"), S.query("SENS:CORR:COLL:ZERO:MAGN?", "2.000000E-09"),
            S.query("*IDN?", "Thorlabs,PM100USB,P2000001,1.7.0"),
        ])
        let s = try await meter.settings()
        #expect(s["wavelength"] == "1.55 µm" && s["averaging"] == "10 samples (30 ms)" && s["dark-offset"] == "2 nW")
        #expect(try await meter.identify() == InstrumentIdentity(manufacturer: "Thorlabs", model: "PM100USB", serial: "P2000001", firmware: "1.7.0"))
        try transport.finish()
    }

    @Test("limits: a request beyond the head's or the meter's range never reaches the wire", arguments: [
        "wavelength 1900 nm (beyond the head)", "wavelength 30000 nm (beyond the meter)", "averaging 60 s (beyond 10000 samples)",
    ])
    func limitsProduceNoBytes(_ request: String) async throws {
        let (meter, transport) = try await open([])
        await expectDeviceError(.invalidRequest, ["server.tap"]) {
            if request.hasPrefix("wavelength 1900") { try await meter.setWavelength(.nanometres(1900)) }
            if request.hasPrefix("wavelength 30000") { try await meter.setWavelength(.nanometres(30_000)) }
            if request.hasPrefix("averaging") { _ = try await meter.readPower(averaging: .seconds(60)) }
        }
        try transport.finish()   // only the opening exchanges: nothing was sent for the request
    }

    @Test("error paths: instrument error names the command, timeout, device gone, over range", arguments: ["instrument", "timeout", "gone", "overrange"])
    func errorPaths(_ path: String) async throws {
        let steps: [[Step]]
        switch path {
        case "instrument": steps = [S.rejected("SENS:CORR:WAV 1550", -222, "Data out of range")]
        case "timeout": steps = [S.set("SENS:AVER:COUN 1"), [.exchange("MEAS:POW?\n", reply: .timeout)], [S.noError]]
        case "gone": steps = [S.set("SENS:AVER:COUN 1"), [.exchange("MEAS:POW?\n", reply: .deviceGone)]]
        default: steps = [S.set("SENS:AVER:COUN 1"), S.query("MEAS:POW?", "9.9E37")]
        }
        let (meter, transport) = try await open(steps)
        switch path {
        case "instrument":
            await expectDeviceError(.instrumentError, ["server.tap", "\"SENS:CORR:WAV 1550\"", "-222,\"Data out of range\""]) {
                try await meter.setWavelength(.nanometres(1550))
            }
        case "timeout":
            await expectDeviceError(.timeout, ["server.tap", "\"MEAS:POW?\""]) { _ = try await meter.readPower(averaging: .zero) }
        case "gone":
            await expectDeviceError(.disconnected, ["server.tap", "\"MEAS:POW?\"", "gone"]) { _ = try await meter.readPower(averaging: .zero) }
        default:
            await expectDeviceError(.instrumentError, ["over range"]) { _ = try await meter.readPower(averaging: .zero) }
        }
        try transport.finish()
    }

    @Test("the same driver against the simulated PM100USB model: wavelength, power, zero")
    func againstModel() async throws {
        let (link, device) = simulated(ThorlabsPM100USBModel(), name: "simulated PM100USB")
        device.withModel { $0.opticalPower = 5e-4 }
        var l = limits
        l.zeroPollInterval = .milliseconds(1)
        let meter = try await ThorlabsPM100USB.open(link: link, device: "server.tap", limits: l, wavelength: .nanometres(1310))
        #expect(device.withModel { $0.wavelength } == 1310)
        let before = try await meter.readPower(averaging: .milliseconds(300))
        #expect(abs(before.si - (5e-4 + 2e-9)) < 1e-15)
        #expect(device.withModel { $0.averageCount } == 100)
        device.withModel { $0.opticalPower = 0 }
        try await meter.zero()
        device.withModel { $0.opticalPower = 5e-4 }
        #expect(abs(try await meter.readPower(averaging: .milliseconds(300)).si - 5e-4) < 1e-15)
        #expect(device.errorQueue.isEmpty)
    }
}
