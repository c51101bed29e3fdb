import BenchIO
import BenchKit
@testable import Drivers
import InstrumentModels
import Synchronization
import Testing

/// Hands out the transports of one instrument's successive connections, in order: what a link's
/// opener finds at its address before and after an unplug.
final class Connections: Sendable {
    private let queue: Mutex<[any MessageTransport]>
    init(_ transports: [any MessageTransport]) { queue = Mutex(transports) }

    func next() throws -> any MessageTransport {
        guard let t = queue.withLock({ q in q.isEmpty ? nil : q.removeFirst() }) else {
            throw TransportError.connectionFailed(resource: "test address", detail: "no further connection in this test")
        }
        return t
    }

    func opener(_ address: String) -> InstrumentLink.Opener {
        InstrumentLink.Opener(address: address) { try self.next() }
    }
}

/// A transport that can be unplugged: from then on every operation finds the device gone.
final class Unpluggable: MessageTransport, Sendable {
    let inner: any MessageTransport
    private let gone = Mutex(false)
    init(_ inner: any MessageTransport) { self.inner = inner }
    var resourceName: String { inner.resourceName }
    func unplug() { gone.withLock { $0 = true } }
    private func check() throws(TransportError) {
        if gone.withLock({ $0 }) { throw .deviceGone(resource: resourceName, detail: "unplugged") }
    }
    func write(_ message: [UInt8], timeout: Duration) async throws(TransportError) {
        try check()
        try await inner.write(message, timeout: timeout)
    }
    func readChunk(maxLength: Int, timeout: Duration) async throws(TransportError) -> MessageChunk {
        try check()
        return try await inner.readChunk(maxLength: maxLength, timeout: timeout)
    }
    func clear(timeout: Duration) async throws(TransportError) {
        try check()
        try await inner.clear(timeout: timeout)
    }
}

/// Reconnecting after an unplug or a power cycle (issue #12): the link reopens the same address
/// and checks the serial number; each driver restores what opening configured and the setpoints
/// this session set, and never switches light on.
@Suite("Reconnect: links and drivers", .serialized)
struct ReconnectTests {
    // MARK: - Link level over LAN

    /// The emulated LAN instrument stops (power off) and starts again on the same port: the
    /// link's session fails as disconnected, `reopen` while it is down fails as disconnected too,
    /// and once it is back `reopen` gives a session whose next query succeeds.
    @Test("a restarted LAN instrument with the same serial is reopened on the same port")
    func lanInstrumentRestarted() async throws {
        let first = try SocketInstrumentServer(device: SimulatedSCPIDevice(model: GenericPowerMeterModel(serialNumber: "LAN0001")))
        let port = first.port
        let link = try await InstrumentLink.open(.tcpip(host: "127.0.0.1", port: port), quirks: TransportQuirks(), using: SystemConnector())
        #expect(link.serialNumber == "LAN0001" && link.generation == 0)
        try await link.run("server.tap") { s in try await s.write("SENS:CORR:WAV 1310") }
        first.stop()
        await expectDeviceError(.disconnected, ["server.tap"]) { _ = try await link.run("server.tap") { s in try await s.query("SENS:CORR:WAV?") } }
        await expectDeviceError(.disconnected, ["server.tap"]) { try await link.reopen("server.tap") }
        let second = try SocketInstrumentServer(device: SimulatedSCPIDevice(model: GenericPowerMeterModel(serialNumber: "LAN0001")), port: port)
        defer { second.stop() }
        #expect(try await link.reopen("server.tap") == 1)
        // A power-cycled instrument is at its defaults: the wavelength is the driver's to restore.
        #expect(try await link.run("server.tap") { s in try await s.queryDouble("SENS:CORR:WAV?") } == 1550)
        try await link.run("server.tap") { s in try await s.write("SENS:CORR:WAV 1310") }
        #expect(try await link.run("server.tap") { s in try await s.queryDouble("SENS:CORR:WAV?") } == 1310)
        #expect(second.connectionCount == 1)
    }

    /// Another instrument answering at the address after the restart is refused, the link keeps
    /// its old session, and the error says what to do.
    @Test("a restarted LAN instrument reporting another serial is refused", arguments: ["LAN0002", "0"])
    func lanInstrumentWithAnotherSerial(_ serial: String) async throws {
        let first = try SocketInstrumentServer(device: SimulatedSCPIDevice(model: GenericPowerMeterModel(serialNumber: "LAN0001")))
        let port = first.port
        let link = try await InstrumentLink.open(.tcpip(host: "127.0.0.1", port: port), quirks: TransportQuirks(), using: SystemConnector())
        first.stop()
        await expectDeviceError(.disconnected, ["server.tap"]) { _ = try await link.run("server.tap") { s in try await s.query("*IDN?") } }
        let other = try SocketInstrumentServer(device: SimulatedSCPIDevice(model: GenericPowerMeterModel(serialNumber: serial)), port: port)
        defer { other.stop() }
        await expectDeviceError(.wrongInstrument, ["server.tap", "serial number \(serial)", "not LAN0001", "connect the instrument with serial number LAN0001"]) {
            try await link.reopen("server.tap")
        }
        #expect(link.generation == 0)
    }

    /// Only a link found gone is reopened: a healthy one keeps its session, and a second role on
    /// a shared instrument finds it already reopened after the loss; once an exchange has found
    /// it gone again, it is opened again.
    @Test("a shared link is reopened once per loss, a healthy one never")
    func sharedLinkReopenedOncePerLoss() async throws {
        let idn = S.query("*IDN?", "Agilent Technologies,33522B,MY52600001,4.00")
        let gone = Step.exchange("OUTP1?\n", reply: .deviceGone)
        let old = ScriptedTransport(resourceName: "AWG", idn + [gone])
        let new = ScriptedTransport(resourceName: "AWG", idn + [gone])
        let third = ScriptedTransport(resourceName: "AWG", idn)
        let link = try await InstrumentLink.open(Connections([old, new, third]).opener("usbtmc://0957:2807?serial=MY52600001"))
        #expect(try await link.reopen("server.voa") == 0, "a healthy link is not opened again")
        await expectDeviceError(.disconnected, ["server.modulator"]) { _ = try await link.run("server.modulator") { s in try await s.query("OUTP1?") } }
        #expect(link.isBroken)
        #expect(try await link.reopen("server.modulator") == 1)
        #expect(try await link.reopen("server.voa") == 1, "the VOA's reconnect reuses the session the modulator opened")
        await expectDeviceError(.disconnected, ["server.modulator"]) { _ = try await link.run("server.modulator") { s in try await s.query("OUTP1?") } }
        #expect(try await link.reopen("server.voa") == 2, "found gone after the reopen: opened again")
        for t in [old, new, third] { try t.finish() }
    }

    // MARK: - Driver level, byte for byte

    static let cld1015IDN = S.query("*IDN?", "Thorlabs,CLD1015,M00412345,3.1.0")

    /// The CLD1015 after a power cycle: `reconnect` sends what opening sends (the current-limit
    /// read-back) and the setpoints this session set (TEC, then current), exactly, and nothing
    /// else: no `OUTP1:STAT ON`.
    @Test("CLD1015: reconnect = open-time exchange + the held setpoints, never emission", arguments: [
        // (what the session set, what the reconnect restores after the read-back)
        ([], []),
        ([S.set("SOUR2:TEMP 25.000")], [S.set("SOUR2:TEMP 25.000")]),
        ([S.set("SOUR2:TEMP 25.000"), S.set("SOUR:CURR 0.05")], [S.set("SOUR2:TEMP 25.000"), S.set("SOUR:CURR 0.05")]),
        // The safe state's ramp down leaves 0 A held.
        ([S.set("SOUR:CURR 0.01"), S.query("OUTP1:STAT?", "0"), S.set("SOUR:CURR 0"), S.set("OUTP1:STAT OFF")], [S.set("SOUR:CURR 0")]),
    ] as [([[Step]], [[Step]])])
    func cld1015Reconnect(session: [[Step]], restored: [[Step]]) async throws {
        let limit = S.query("SOUR:CURR:LIM:AMPL?", "1.200000E-01")
        let before = ScriptedTransport(resourceName: "CLD1015", ([Self.cld1015IDN, limit] + session).flatMap { $0 })
        let after = ScriptedTransport(resourceName: "CLD1015", ([Self.cld1015IDN, limit] + restored).flatMap { $0 })
        let plug = Unpluggable(before)
        let link = try await InstrumentLink.open(Connections([plug, after]).opener("usbtmc://1313:804f?serial=M00412345"))
        let laser = try await ThorlabsCLD1015.open(link: link, device: "server.laser", limits: try ThorlabsCLD1015.Limits(description("thorlabs-cld1015")),
                                                   configuration: ThorlabsCLD1015.Configuration(wavelength: .nanometres(1550)))
        let sent = session.map { $0.first }
        if sent.contains(where: { $0 == .write("SOUR2:TEMP 25.000\n") }) { try await laser.setTemperature(.celsius(25)) }
        if sent.contains(where: { $0 == .write("SOUR:CURR 0.05\n") }) { try await laser.setCurrent(.milliamperes(50)) }
        if sent.contains(where: { $0 == .write("SOUR:CURR 0.01\n") }) {
            try await laser.setCurrent(.milliamperes(10))
            try await laser.makeSafe()
        }
        try before.finish()
        plug.unplug()
        await expectDeviceError(.disconnected, ["server.laser"]) { _ = try await laser.current() }
        try await laser.reconnect()
        try after.finish()
    }

    /// The controller came back with a lower front-panel limit than the held setpoint: the
    /// reconnect reads it, refuses the setpoint with the ceiling's reason, and sends nothing more.
    @Test("CLD1015: a held current above the limit read back at reconnect is refused")
    func cld1015LowerLimitAfterReconnect() async throws {
        let before = ScriptedTransport(resourceName: "CLD1015", ([Self.cld1015IDN, S.query("SOUR:CURR:LIM:AMPL?", "1.200000E-01"), S.set("SOUR:CURR 0.05")]).flatMap { $0 })
        let after = ScriptedTransport(resourceName: "CLD1015", ([Self.cld1015IDN, S.query("SOUR:CURR:LIM:AMPL?", "4.000000E-02")]).flatMap { $0 })
        let plug = Unpluggable(before)
        let link = try await InstrumentLink.open(Connections([plug, after]).opener("usbtmc://1313:804f?serial=M00412345"))
        let laser = try await ThorlabsCLD1015.open(link: link, device: "server.laser", limits: try ThorlabsCLD1015.Limits(description("thorlabs-cld1015")),
                                                   configuration: ThorlabsCLD1015.Configuration(wavelength: .nanometres(1550)))
        try await laser.setCurrent(.milliamperes(50))
        plug.unplug()
        await expectDeviceError(.disconnected, ["server.laser"]) { _ = try await laser.current() }
        await expectDeviceError(.invalidRequest, ["server.laser", "exceeds the ceiling", "controller limit 40 mA"]) { try await laser.reconnect() }
        #expect(await laser.hardwareCurrentLimit == .milliamperes(40))
        try before.finish()
        try after.finish()
    }

    /// The DAC VOA on a power-cycled 33522B (a fresh model: output off, 50 Ω, DC 0 V): the
    /// reconnect sends, message for message, the channel's load as opening does and the held
    /// control voltage approached as every setpoint is, and the VOA reads its attenuation again.
    @Test("DAC VOA: reconnect = the channel's load + the held control voltage", arguments: [
        (Keysight33500BChannel.Load.highZ, 14.5, 3.0),
        (.fiftyOhm, 4.8, 2.0),
    ])
    func voaReconnect(load: Keysight33500BChannel.Load, decibels: Double, volts: Double) async throws {
        let before = SimulatedSCPIDevice(model: Keysight33500BModel()), after = SimulatedSCPIDevice(model: Keysight33500BModel())
        let plug = Unpluggable(SimulatedTransport(device: before, resourceName: "33522B"))
        let connections = Connections([plug, SimulatedTransport(device: after, resourceName: "33522B")])
        let link = try await InstrumentLink.open(connections.opener("usbtmc://0957:2807?serial=MY52600001"))
        let channel = Keysight33500BChannel(link: link, number: 2, load: load, limits: try Keysight33500BLimits(description("keysight-33500b")))
        let table = try DACVariableAttenuatorTests.table(DACVariableAttenuatorTests.volts, DACVariableAttenuatorTests.decibels)
        let voa = try await DACVariableAttenuator.open(channel: channel, table: table, device: "server.voa")
        try await voa.setAttenuation(Decibels(decibels))
        plug.unplug()
        await expectDeviceError(.disconnected, ["server.voa"]) { _ = try await voa.attenuation() }
        try await voa.reconnect()
        let v = SCPINumber.format(volts)
        #expect(after.receivedMessages == [
            "*IDN?",
            "OUTP2:LOAD \(load.rawValue)", "SYST:ERR?",
            "OUTP2?",
            "SOUR2:BURS:STAT?", "SOUR2:FUNC DC", "SYST:ERR?", "SOUR2:VOLT:OFFS \(v)", "SYST:ERR?", "OUTP2 ON", "SYST:ERR?",
        ])
        #expect(after.withModel { ($0.level(channel: 2), $0.channels[1].output, $0.channels[1].fiftyOhm) } == (volts, true, load == .fiftyOhm))
        #expect(abs(try await voa.attenuation().dB - decibels) < 1e-9)
    }
}

extension ReconnectTests {
    /// The SOA on a power-cycled CLD1015: the reconnect reads the current limit back as opening
    /// does and sends nothing else; the gain (the pump on) comes back only through `setGain`.
    @Test("CLD1015 SOA: reconnect = the open-time read-back only, never the pump")
    func soaReconnect() async throws {
        let idn = S.query("*IDN?", "Thorlabs,CLD1015,M00499999,3.1.0")
        let before = ScriptedTransport(resourceName: "CLD1015", (idn + S.query("SOUR:CURR:LIM:AMPL?", "1.000000E+00")))
        let after = ScriptedTransport(resourceName: "CLD1015", (idn + S.query("SOUR:CURR:LIM:AMPL?", "5.000000E-01")))
        let plug = Unpluggable(before)
        let link = try await InstrumentLink.open(Connections([plug, after]).opener("usbtmc://1313:804f?serial=M00499999"))
        let table = try CalibrationTable([.init(x: 0, y: 1), .init(x: 0.2, y: 10), .init(x: 0.4, y: 30)], source: "test")
        let soa = try await ThorlabsCLD1015SOA.open(link: link, device: "client.amplifier", limits: try ThorlabsCLD1015.Limits(description("thorlabs-cld1015")),
                                                    configuration: ThorlabsCLD1015SOA.Configuration(gainTable: table, currentLimit: .amperes(0.8)))
        #expect(await soa.currentCeiling == .amperes(0.8))
        plug.unplug()
        await expectDeviceError(.disconnected, ["client.amplifier"]) { _ = try await soa.gain() }
        try await soa.reconnect()
        #expect(await soa.hardwareCurrentLimit == .amperes(0.5))
        #expect(await soa.currentCeiling == .amperes(0.5))
        try before.finish()
        try after.finish()
    }

    /// The IQ modulator on a power-cycled 33522B: the reconnect sets each channel's load as
    /// opening does and holds each arm at the bias this session set, output on as it was, message
    /// for message; the drive waveform is the station's to load again.
    @Test("33500B modulator: reconnect = each channel's load + its held bias")
    func modulatorReconnect() async throws {
        let before = SimulatedSCPIDevice(model: Keysight33500BModel()), after = SimulatedSCPIDevice(model: Keysight33500BModel())
        let plug = Unpluggable(SimulatedTransport(device: before, resourceName: "33522B"))
        let connections = Connections([plug, SimulatedTransport(device: after, resourceName: "33522B")])
        let link = try await InstrumentLink.open(connections.opener("usbtmc://0957:2807?serial=MY52600001"))
        let limits = try Keysight33500BLimits(description("keysight-33500b"))
        let m = try await Keysight33500B.open(device: "server.modulator", channels: [
            .i: Keysight33500BChannel(link: link, number: 1, load: .fiftyOhm, limits: limits),
            .q: Keysight33500BChannel(link: link, number: 2, load: .highZ, limits: limits),
        ])
        try await m.setBias(.i, .volts(1))
        try await m.setBias(.q, .volts(-0.5))
        plug.unplug()
        await expectDeviceError(.disconnected, ["server.modulator"]) { _ = try await m.bias(.i) }
        try await m.reconnect()
        #expect(after.receivedMessages == [
            "*IDN?",
            "OUTP1:LOAD 50", "SYST:ERR?",
            "SOUR1:BURS:STAT?", "SOUR1:FUNC DC", "SYST:ERR?", "SOUR1:VOLT:OFFS 1", "SYST:ERR?", "OUTP1 ON", "SYST:ERR?",
            "OUTP2:LOAD INF", "SYST:ERR?",
            "SOUR2:BURS:STAT?", "SOUR2:FUNC DC", "SYST:ERR?", "SOUR2:VOLT:OFFS -0.5", "SYST:ERR?", "OUTP2 ON", "SYST:ERR?",
        ])
        #expect(after.withModel { ($0.level(channel: 1), $0.level(channel: 2), $0.channels[0].output, $0.channels[1].output) } == (1, -0.5, true, true))
        #expect(try await m.bias(.i) == .volts(1))
        #expect(try await m.bias(.q) == .volts(-0.5))
    }
}

extension ReconnectTests {
    /// The scope and its LO-phase/vacuum-gate AWG both power-cycled (one power strip): the
    /// reconnect sends the scope exactly its opening set-up, the AWG its channels' loads as
    /// opening does and then, message for message, the upload the slot pattern made.
    @Test("InfiniiVision: reconnect = the opening set-up + the channels' loads + the held slot pattern")
    func scopeReconnect() async throws {
        let limits = try KeysightInfiniiVision.Limits(description("keysight-infiniivision"))
        let awgLimits = try Keysight33500BLimits(description("keysight-33500b"))
        let idn = S.query("*IDN?", "KEYSIGHT TECHNOLOGIES,MSO-X 3014T,MY55100001,07.50")
        let scopeBefore = Unpluggable(ScriptedTransport(resourceName: "InfiniiVision", idn + KeysightInfiniiVisionTests.opening.flatMap { $0 }))
        let scopeAfter = ScriptedTransport(resourceName: "InfiniiVision", idn + KeysightInfiniiVisionTests.opening.flatMap { $0 })
        let scopeLink = try await InstrumentLink.open(Connections([scopeBefore, scopeAfter]).opener("usbtmc://2a8d:1770?serial=MY55100001"))
        let awgBefore = SimulatedSCPIDevice(model: Keysight33500BModel()), awgAfter = SimulatedSCPIDevice(model: Keysight33500BModel())
        let awgPlug = Unpluggable(SimulatedTransport(device: awgBefore, resourceName: "33522B"))
        let awgLink = try await InstrumentLink.open(Connections([awgPlug, SimulatedTransport(device: awgAfter, resourceName: "33522B")])
            .opener("usbtmc://0957:2807?serial=MY52600001"))
        var c = KeysightInfiniiVision.Configuration(channel: 1, symbolRate: .hertz(10e6), slotsPerShot: 8, loPower: .fixed(.milliwatts(1)))
        c.loPhase = .init(channel: Keysight33500BChannel(link: awgLink, number: 2, load: .fiftyOhm, limits: awgLimits), vPi: .volts(3.5))
        c.vacuumGate = .init(channel: Keysight33500BChannel(link: awgLink, number: 1, load: .fiftyOhm, limits: awgLimits), blocked: .volts(5), open: .zero)
        let receiver = try await KeysightInfiniiVision.open(link: scopeLink, device: "server.receiver", limits: limits, configuration: c)
        let opened = awgBefore.receivedMessages.count
        let pattern: [SlotKind] = [.x, .p, .vacuum, .x]
        try await receiver.loadSlotPattern(pattern)
        let upload = Array(awgBefore.receivedMessages[opened...])
        scopeBefore.unplug()
        awgPlug.unplug()
        await expectDeviceError(.disconnected, ["server.receiver"]) { _ = try await receiver.settings() }
        await expectDeviceError(.disconnected, ["server.receiver"]) { try await receiver.setLocalOscillatorPhase(Phase.radians(1)) }
        try await receiver.reconnect()
        try scopeAfter.finish()
        #expect(Array(awgBefore.receivedMessages.prefix(opened)) == ["*IDN?", "OUTP2:LOAD 50", "SYST:ERR?", "OUTP1:LOAD 50", "SYST:ERR?"])
        #expect(awgAfter.receivedMessages == ["*IDN?", "OUTP2:LOAD 50", "SYST:ERR?", "OUTP1:LOAD 50", "SYST:ERR?"] + upload)
        #expect(upload.contains { $0.hasPrefix("SOUR2:DATA:ARB") } && upload.contains { $0.hasPrefix("SOUR1:DATA:ARB") }, "\(upload.prefix(12))")
        #expect(await receiver.pattern == pattern)
    }
}

extension ReconnectTests {
    /// The PM100USB after a power cycle: the reconnect sends what opening sends (the head, its
    /// wavelength range, W and auto range) and the correction wavelength this session set, message
    /// for message; the meter is back at its default averaging, so the next reading sends its
    /// count again (a driver that trusted its cached count would average over the default).
    @Test("PM100USB: reconnect = the opening exchange + the held wavelength; the averaging count is sent again")
    func powerMeterReconnect() async throws {
        let before = SimulatedSCPIDevice(model: ThorlabsPM100USBModel(serialNumber: "P2000777"))
        let after = SimulatedSCPIDevice(model: ThorlabsPM100USBModel(serialNumber: "P2000777"))
        let plug = Unpluggable(SimulatedTransport(device: before, resourceName: "PM100USB"))
        let link = try await InstrumentLink.open(Connections([plug, SimulatedTransport(device: after, resourceName: "PM100USB")])
            .opener("usbtmc://1313:8072?serial=P2000777"))
        let meter = try await ThorlabsPM100USB.open(link: link, device: "server.tap", limits: try ThorlabsPM100USB.Limits(description("thorlabs-pm100usb")),
                                                   wavelength: .nanometres(1550))
        try await meter.setWavelength(.nanometres(1310))
        _ = try await meter.readPower(averaging: .milliseconds(30))
        plug.unplug()
        await expectDeviceError(.disconnected, ["server.tap"]) { _ = try await meter.readPower(averaging: .milliseconds(30)) }
        try await meter.reconnect()
        #expect(after.receivedMessages == [
            "*IDN?", "SYST:SENS:IDN?", "SENS:CORR:WAV? MIN", "SENS:CORR:WAV? MAX",
            "SENS:POW:UNIT W", "SYST:ERR?", "SENS:POW:RANG:AUTO ON", "SYST:ERR?",
            "SENS:CORR:WAV 1310", "SYST:ERR?",
        ])
        let restored = after.receivedMessages.count
        _ = try await meter.readPower(averaging: .milliseconds(30))
        #expect(Array(after.receivedMessages[restored...]).first == "SENS:AVER:COUN 10")
        #expect(try await link.run("server.tap") { s in try await s.queryDouble("SENS:CORR:WAV?") } == 1310)
    }
}

extension ReconnectTests {
    /// The client's coupler on a power-cycled 33522B: the reconnect sets the channel's load as
    /// opening does and holds the control voltage this session set, output on, message for
    /// message; the kept fraction reads back as set (a power-cycled AWG alone would leave the
    /// coupler at its 0 V state, output off).
    @Test("33500B coupler: reconnect = the channel's load + the held control voltage")
    func couplerReconnect() async throws {
        let before = SimulatedSCPIDevice(model: Keysight33500BModel()), after = SimulatedSCPIDevice(model: Keysight33500BModel())
        let plug = Unpluggable(SimulatedTransport(device: before, resourceName: "33522B"))
        let link = try await InstrumentLink.open(Connections([plug, SimulatedTransport(device: after, resourceName: "33522B")])
            .opener("usbtmc://0957:2807?serial=MY52600012"))
        let channel = Keysight33500BChannel(link: link, number: 1, load: .highZ, limits: try Keysight33500BLimits(description("keysight-33500b")))
        let coupler = try await Keysight33500BCoupler.open(device: "client.splitter", channel: channel, table: Keysight33500BCouplerTests.table)
        try await coupler.setKeptFraction(0.5)
        plug.unplug()
        await expectDeviceError(.disconnected, ["client.splitter"]) { _ = try await coupler.keptFraction() }
        try await coupler.reconnect()
        #expect(after.receivedMessages == [
            "*IDN?",
            "OUTP1:LOAD INF", "SYST:ERR?",
            "SOUR1:BURS:STAT?", "SOUR1:FUNC DC", "SYST:ERR?", "SOUR1:VOLT:OFFS 2", "SYST:ERR?", "OUTP1 ON", "SYST:ERR?",
        ])
        #expect(after.withModel { ($0.level(channel: 1), $0.channels[0].output) } == (2, true))
        #expect(abs(try await coupler.keptFraction() - 0.5) < 1e-12)
    }
}
