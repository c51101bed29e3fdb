import BenchIO
import InstrumentModels
import Synchronization
import Testing

/// A model whose replies carry what breaks naive newline framing: a block with NL bytes and a
/// quoted string with an NL inside.
struct AwkwardReplyModel: SCPIInstrumentModel {
    var identity = SCPIIdentity(manufacturer: "TEST", model: "AWKWARD", serialNumber: "1", firmware: "1")
    static let payload: [UInt8] = [0x0A, 0x3B, 0x22, 0x0A, 0x00, 0xFF, 0x23, 0x31, 0x0A]
    mutating func reset() {}
    mutating func execute(_ c: SCPICommand) -> SCPICommandOutcome {
        if c.isQuery && c.matches("DATA:BLOCk") { return .block(Self.payload) }
        if c.isQuery && c.matches("DATA:STRing") { return .quoted("line one\nline \"two\"") }
        if !c.isQuery && c.matches("DATA:LOAD") {
            guard case .block(let bytes)? = c.arguments.first, bytes == Self.payload else { return .dataTypeError }
            return .done
        }
        return .undefinedHeader
    }
}

/// SCPI over a raw TCP socket (docs/hardware.md §2.4) against emulated LAN instruments on
/// 127.0.0.1 that run the same models as every other test.
@Suite("LAN: SCPI raw socket transport", .serialized)
struct SocketTransportTests {
    @Test("framing: a newline ends a message except inside strings and definite-length blocks", arguments: [
        ("1.5E-3\n", [7]),
        ("A\nB\n", [2, 4]),
        ("\"x\ny\"\n", [6]),
        ("'a''\nb'\n", [8]),
        ("#15\n\n\n\n\nOK\n", [11]),
        ("#15\n\n\n\n\n\nOK\n", [9, 12]),
        ("#0ABC\n", [6]),
        ("#H1F\n", [5]),
        ("DATA W,#213\n;\",;\n\n\n\n\n\n\n\n\n", [25]),
        ("#\n", [2]),
    ] as [(String, [Int])])
    func framing(_ text: String, _ ends: [Int]) {
        var framer = SCPIStreamFramer()
        var found: [Int] = []
        for (i, byte) in Array(text.utf8).enumerated() where framer.consume(byte) { found.append(i + 1) }
        #expect(found == ends)
    }

    func withServer<M: SCPIInstrumentModel>(_ model: M, _ body: (SocketInstrumentServer, SimulatedSCPIDevice<M>) async throws -> Void) async throws {
        let device = SimulatedSCPIDevice(model: model)
        let server = try SocketInstrumentServer(device: device)
        defer { server.stop() }
        try await body(server, device)
    }

    @Test("identify, set commands with the error queue, and queries through SCPISession over 127.0.0.1")
    func session() async throws {
        try await withServer(GenericPowerMeterModel(serialNumber: "LAN0001")) { server, device in
            let transport = try await SocketTransport.open(host: "127.0.0.1", port: server.port, connectTimeout: .seconds(2))
            #expect(transport.resourceName == "TCPIP 127.0.0.1:\(server.port)")
            let s = SCPISession(transport: transport)
            #expect(try await s.identify().serialNumber == "LAN0001")
            try await s.write("SENS:CORR:WAV 1310")
            #expect(try await s.queryDouble("SENS:CORR:WAV?") == 1310)
            await #expect {
                try await s.write("SENS:CORR:WAV 99999")
            } throws: { error in
                guard case .instrument(let command, let errors, _)? = error as? SCPIError else { return false }
                return command == "SENS:CORR:WAV 99999" && errors.first?.code == -222
            }
            #expect(device.receivedMessages.contains("SENS:CORR:WAV 1310"))
            await transport.close()
        }
    }

    @Test("replies with NL inside blocks and strings arrive whole; a block is sent to the instrument intact")
    func blocksAndStrings() async throws {
        try await withServer(AwkwardReplyModel()) { server, device in
            let transport = try await SocketTransport.open(host: "localhost", port: server.port)
            let s = SCPISession(transport: transport)
            #expect(try await s.queryBlock("DATA:BLOC?") == AwkwardReplyModel.payload)
            #expect(try await s.query("DATA:STR?") == "\"line one\nline \"\"two\"\"\"")
            try await s.write("DATA:LOAD ", block: AwkwardReplyModel.payload)
            #expect(device.errorQueue.isEmpty)
        }
    }

    @Test("a query without a reply times out after its Duration and is explained from the error queue; a late reply is dropped")
    func timeoutAndLateReply() async throws {
        try await withServer(GenericPowerMeterModel()) { server, _ in
            let transport = try await SocketTransport.open(host: "127.0.0.1", port: server.port)
            let clock = ContinuousClock()
            let start = clock.now
            await #expect {
                _ = try await transport.query(Array("NOPE?\n".utf8), timeout: .milliseconds(150))
            } throws: { error in
                guard case .timeout(_, _, let limit, _)? = error as? TransportError else { return false }
                return limit == .milliseconds(150)
            }
            #expect(clock.now - start >= .milliseconds(150))
            let s = SCPISession(transport: transport)
            await #expect {
                _ = try await s.query("NOPE?", timeout: .milliseconds(150))
            } throws: { error in
                guard case .queryRejected(_, let errors, _)? = error as? SCPIError else { return false }
                return errors.contains { $0.code == -113 }
            }
            // A reply nobody read is not taken for the next one.
            try await transport.write(Array("*IDN?\n".utf8), timeout: .seconds(1))
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await s.query("SYST:ERR?") == "0,\"No error\"")
            #expect(await transport.discardedBytes > 0)
        }
    }

    @Test("nobody listening: connectionFailed says what to check; the instrument closing the socket: deviceGone")
    func connectionErrors() async throws {
        let device = SimulatedSCPIDevice(model: GenericPowerMeterModel())
        let server = try SocketInstrumentServer(device: device)
        let port = server.port
        let transport = try await SocketTransport.open(host: "127.0.0.1", port: port)
        #expect(String(decoding: try await transport.query(Array("*IDN?\n".utf8)), as: UTF8.self).hasPrefix("BenchSim,"))
        server.stop()
        await #expect {
            _ = try await transport.query(Array("*IDN?\n".utf8), timeout: .seconds(2))
        } throws: { error in
            guard case .deviceGone? = error as? TransportError else { return false }
            return true
        }
        await #expect {
            _ = try await SocketTransport.open(host: "127.0.0.1", port: port, connectTimeout: .seconds(1))
        } throws: { error in
            guard case .connectionFailed(_, let detail)? = error as? TransportError else { return false }
            return detail.contains("refused") && "\(error)".contains("port 5025")
        }
        await #expect(throws: TransportError.self) { _ = try await SocketTransport.open(host: "no-such-host.invalid", port: 5025) }
    }
}

extension SocketTransport {
    /// `write` then `read`, for tests.
    func query(_ message: [UInt8], timeout: Duration = .seconds(2)) async throws(TransportError) -> [UInt8] {
        try await write(message, timeout: timeout)
        return try await read(timeout: timeout, maxLength: 1 << 20)
    }
}

/// SCPI over a serial port (termios, raw 8N1) against an instrument model behind the master side
/// of a pseudo-terminal pair; the transport opens the slave side as its serial port.
@Suite("Serial: SCPI over a tty", .serialized)
struct SerialTransportTests {
    @Test("identify, set and query, a block with NL bytes, a timeout, and a hang-up over a pseudo-terminal")
    func overPseudoTerminal() async throws {
        let device = SimulatedSCPIDevice(model: AwkwardReplyModel())
        let pty = try PseudoTerminalInstrument(device: device)
        let transport = try SerialTransport.open(path: pty.path, baudRate: 115200)
        #expect(transport.resourceName == "ASRL \(pty.path) at 115200 Bd")
        let s = SCPISession(transport: transport)
        #expect(try await s.identify().model == "AWKWARD")
        #expect(try await s.queryBlock("DATA:BLOC?") == AwkwardReplyModel.payload)
        try await s.write("DATA:LOAD ", block: AwkwardReplyModel.payload)
        await #expect {
            _ = try await s.query("NOPE?", timeout: .milliseconds(100))
        } throws: { error in
            guard case .queryRejected(_, let errors, _)? = error as? SCPIError else { return false }
            return errors.contains { $0.code == -113 }
        }
        pty.stop()
        await #expect {
            _ = try await transport.read(timeout: .seconds(1), maxLength: 64)
        } throws: { error in
            if case .deviceGone? = error as? TransportError { return true }
            return false
        }
    }

    @Test("a rate termios does not offer, and a path that is not a tty, are refused with what to do")
    func refused() async throws {
        #expect(throws: TransportError.self) { _ = try SerialTransport.open(path: "/dev/null", baudRate: 12345) }
        #expect {
            _ = try SerialTransport.open(path: "/dev/null", baudRate: 9600)
        } throws: { error in
            guard case .connectionFailed(_, let detail)? = error as? TransportError else { return false }
            return detail.contains("not a serial port")
        }
    }
}
