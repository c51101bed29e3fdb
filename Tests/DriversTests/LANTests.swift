import BenchIO
import BenchKit
@testable import Drivers
import Foundation
import InstrumentModels
import Testing

/// LAN instruments (docs/hardware.md §2.4): addresses, and the real drivers bound in a bench file
/// to `tcpip://127.0.0.1:PORT`, opened by the real `SystemConnector` over a TCP socket to
/// emulated instruments running the same models as every other test.
@Suite("LAN instruments: tcpip:// and VISA TCPIP addresses, drivers over a socket", .serialized)
struct LANTests {
    @Test("addresses: tcpip://HOST[:PORT] (5025 by default), VISA TCPIP::HOST::INSTR and ::PORT::SOCKET", arguments: [
        ("tcpip://192.168.1.20", DeviceAddress.tcpip(host: "192.168.1.20", port: 5025)),
        ("tcpip://awg-1.lab:5000", .tcpip(host: "awg-1.lab", port: 5000)),
        ("tcpip://[::1]:5025", .tcpip(host: "::1", port: 5025)),
        ("TCPIP::10.0.0.5::INSTR", .tcpip(host: "10.0.0.5", port: 5025)),
        ("TCPIP0::scope.lab::5025::SOCKET", .tcpip(host: "scope.lab", port: 5025)),
        ("serial:///dev/ttyUSB0?baud=115200", .serial(path: "/dev/ttyUSB0", baud: 115200)),
        ("serial:///dev/ttyS1", .serial(path: "/dev/ttyS1", baud: 9600)),
        ("ASRL/dev/ttyUSB1::INSTR", .serial(path: "/dev/ttyUSB1", baud: 9600)),
    ])
    func addresses(_ text: String, _ expected: DeviceAddress) throws {
        let a = try DeviceAddress(parsing: text)
        #expect(a == expected)
        #expect(try DeviceAddress(parsing: a.description) == a)
    }

    @Test("bad LAN addresses are refused with the accepted forms", arguments: [
        "tcpip://", "tcpip://host:0", "serial://ttyUSB0", "serial:///dev/ttyUSB0?speed=9600", "tcpip://host:70000", "tcpip://[::1", "TCPIP::host::hislip0::INSTR", "TCPIP::host::x::SOCKET", "TCPIPx::h::INSTR",
    ])
    func badAddresses(_ text: String) {
        #expect(throws: AddressError.self) { _ = try DeviceAddress(parsing: text) }
    }

    @Test("a bench of LAN instruments: CLD1015, PM100USB and two 33500Bs bound to tcpip:// open and run over sockets")
    func benchOverLAN() async throws {
        let laser = SimulatedSCPIDevice(model: ThorlabsCLD1015Model())
        let meter = SimulatedSCPIDevice(model: ThorlabsPM100USBModel())
        let awgA = SimulatedSCPIDevice(model: Keysight33500BModel(serialNumber: "MY1"))
        let awgB = SimulatedSCPIDevice(model: Keysight33500BModel(serialNumber: "MY2"))
        let servers = try [SocketInstrumentServer(device: laser), SocketInstrumentServer(device: meter),
                           SocketInstrumentServer(device: awgA), SocketInstrumentServer(device: awgB)]
        defer { servers.forEach { $0.stop() } }
        let text = """
        bench: lan-testbed
        roles:
          server.laser:
            driver: thorlabs-cld1015
            address: tcpip://127.0.0.1:\(servers[0].port)
            limits:
              current: {min: 0 mA, max: 100 mA}
            options: {wavelength: 1550 nm}
          server.tap:
            driver: thorlabs-pm100usb
            address: TCPIP0::127.0.0.1::\(servers[1].port)::SOCKET
            options: {wavelength: 1550 nm, usbtmc-quirks: [lenient-bulk-in-header]}
          server.modulator:
            driver: keysight-33500b
            address: tcpip://127.0.0.1:\(servers[2].port)
            options:
              i: {channel: 1}
              q: {channel: 2}
              phase: {awg: "tcpip://127.0.0.1:\(servers[3].port)", channel: 1, load: high-z}
        """
        var options = SCPISession.Options()
        options.timeout = .seconds(2)
        let registry = try DriverCatalog.registry(library: library, connector: SystemConnector(sessionOptions: options))
        let bench = try await Bench.open(try BenchDescription.parse(text, file: "lan-testbed.yaml"), registry: registry)
        let cld = try bench.laser()
        try await cld.setTemperature(.celsius(25))
        try await cld.setEmission(true)
        try await cld.setCurrent(.milliamperes(5))
        #expect(laser.withModel { ($0.laserOn, $0.setpoint, $0.tecSetpoint) } == (true, 0.005, 25))
        meter.withModel { $0.opticalPower = 3e-4; $0.darkSignal = 0 }
        #expect(abs(try await bench.powerMeter().readPower(averaging: .milliseconds(3)).si - 3e-4) < 1e-12)
        let modulator = try bench.modulator()
        let w = Waveform(volts: (0..<16).map { Float(0.5 * sin(Double($0))) }, sampleRate: .hertz(10e6))
        try await modulator.loadDrive(i: w, q: w)
        #expect(awgA.withModel { ($0.channels[0].burst, $0.channels[0].output, $0.freeRunningEpisodes) } == (true, true, [0, 0]))
        try await modulator.setBias(.phase, .volts(1))
        #expect(awgB.withModel { $0.level(channel: 1) } == 1)
        try await cld.makeSafe()
        try await modulator.makeSafe()
        #expect(laser.withModel { $0.laserOn } == false)
        for d in [laser.errorQueue, meter.errorQueue, awgA.errorQueue, awgB.errorQueue] { #expect(d.isEmpty) }
    }

    @Test("a CLD1015 bound to serial:// (a pseudo-terminal running the model) opens through the bench and switches on")
    func laserOverSerial() async throws {
        let laser = SimulatedSCPIDevice(model: ThorlabsCLD1015Model())
        let pty = try PseudoTerminalInstrument(device: laser)
        defer { pty.stop() }
        let text = """
        bench: serial-testbed
        roles:
          server.laser:
            driver: thorlabs-cld1015
            address: serial://\(pty.path)?baud=115200
            options: {wavelength: 1550 nm}
        """
        let registry = try DriverCatalog.registry(library: library, connector: SystemConnector())
        let bench = try await Bench.open(try BenchDescription.parse(text, file: "serial-testbed.yaml"), registry: registry)
        let cld = try bench.laser()
        try await cld.setEmission(true)
        #expect(laser.withModel { $0.laserOn })
        try await cld.makeSafe()
        #expect(laser.withModel { $0.laserOn } == false && laser.errorQueue.isEmpty)
    }

    @Test("an unknown usbtmc quirk is refused when the bench file is checked")
    func unknownQuirk() throws {
        let text = """
        bench: q
        roles:
          server.tap:
            driver: thorlabs-pm100usb
            address: usbtmc://1313:8072?serial=P1
            options: {usbtmc-quirks: [ignore-everything]}
        """
        let registry = try DriverCatalog.registry(library: library, connector: SystemConnector())
        #expect {
            try registry.validate(try BenchDescription.parse(text, file: "q.yaml"))
        } throws: { error in
            "\(error)".contains("unknown USBTMC quirk 'ignore-everything'")
        }
        #expect(try TransportQuirks(lenientBulkInHeader: true).applied(to: USBTMCInstrument.Configuration()).bulkInHeaderCheck == .lenient)
    }
}
