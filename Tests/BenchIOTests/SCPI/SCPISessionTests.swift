import BenchIO
import Testing

/// L1: SCPISession against ScriptedTransport, byte for byte (PyMeasure/InstrumentKit
/// `expected_protocol` style).
@Suite("SCPISession against scripted instruments")
struct SCPISessionTests {
    typealias Step = ScriptedTransport.Step
    static let noError = Step.exchange("SYST:ERR?\n", reply: "0,\"No error\"\n")

    @Test("*IDN? is parsed into manufacturer, model, serial and firmware")
    func identify() async throws {
        let idn = try await ScriptedTransport.expectProtocol([
            .exchange("*IDN?\n", reply: "Thorlabs,PM100USB,P2000001,1.7.0\n"),
        ]) { session async throws in try await session.identify() }
        #expect(idn.manufacturer == "Thorlabs" && idn.model == "PM100USB" && idn.serialNumber == "P2000001" && idn.firmware == "1.7.0")
    }

    @Test("every set command is followed by draining SYST:ERR?")
    func setCommandDrainsErrors() async throws {
        try await ScriptedTransport.expectProtocol([
            .write("*RST\n"), Self.noError,
            .write("*CLS\n"), Self.noError,
            .write("SENS:CORR:WAV 1550\n"), Self.noError,
        ]) { session async throws in
            try await session.reset()
            try await session.clearStatus()
            try await session.write("SENS:CORR:WAV 1550")
        }
    }

    @Test("instrument errors become typed errors naming the command, oldest first")
    func instrumentErrors() async throws {
        let transport = ScriptedTransport([
            .write("SOUR1:CURR:LIM:AMPL 5\n"),
            .exchange("SYST:ERR?\n", reply: "-222,\"Data out of range\"\n"),
            .exchange("SYST:ERR?\n", reply: "-221,\"Settings conflict\"\n"),
            Self.noError,
        ])
        let session = SCPISession(transport: transport)
        await #expect {
            try await session.write("SOUR1:CURR:LIM:AMPL 5")
        } throws: { error in
            guard let error = error as? SCPIError,
                  case .instrument(let command, let errors, _) = error else { return false }
            return command == "SOUR1:CURR:LIM:AMPL 5" && errors.map(\.code) == [-222, -221]
                && error.description.contains("rejected \"SOUR1:CURR:LIM:AMPL 5\": -222,\"Data out of range\"; -221,\"Settings conflict\"")
                && error.description.contains("check ranges")
        }
        try transport.finish()
    }

    @Test("the error check can be skipped per command or switched off")
    func skipErrorCheck() async throws {
        var options = SCPISession.Options()
        options.checkErrorsAfterSet = false
        try await ScriptedTransport.expectProtocol([.write("INIT\n"), .write("*OPC\n")], options: options) { session async throws in
            try await session.write("INIT")
            try await session.write("*OPC", checkErrors: true)
        }
        try await ScriptedTransport.expectProtocol([.write("INIT\n")]) { session async throws in
            try await session.write("INIT", checkErrors: false)
        }
    }

    @Test("an error queue that never empties stops after the limit")
    func errorQueueNotDraining() async throws {
        var options = SCPISession.Options()
        options.errorQueueLimit = 3
        let error = Step.exchange("SYST:ERR?\n", reply: "-100,\"Command error\"\n")
        await #expect {
            try await ScriptedTransport.expectProtocol([.write("X\n"), error, error, error], options: options) { session async throws in
                try await session.write("X")
            }
        } throws: { error in
            guard case .errorQueueNotDraining("X", let errors, 3, _)? = error as? SCPIError else { return false }
            return errors.count == 3
        }
    }

    @Test("a query that times out is explained by the error queue")
    func queryTimeoutExplained() async throws {
        let transport = ScriptedTransport([
            .exchange("MEAS:PWO?\n", reply: .timeout),
            .exchange("SYST:ERR?\n", reply: "-113,\"Undefined header\"\n"),
            Self.noError,
        ])
        await #expect(throws: SCPIError.queryRejected(command: "MEAS:PWO?", errors: [SCPIErrorEntry(code: -113, message: "Undefined header")],
                                                      resource: "scripted instrument")) {
            _ = try await SCPISession(transport: transport).query("MEAS:PWO?")
        }
        try transport.finish()
    }

    @Test("a query that times out with an empty error queue is a transport timeout naming the command")
    func queryTimeout() async throws {
        let transport = ScriptedTransport([.exchange("MEAS:POW?\n", reply: .timeout), Self.noError])
        let session = SCPISession(transport: transport)
        await #expect {
            _ = try await session.queryDouble("MEAS:POW?", timeout: .milliseconds(250))
        } throws: { error in
            guard case .transport("MEAS:POW?", .timeout(_, _, let limit, _))? = error as? SCPIError else { return false }
            return limit == .milliseconds(250) && "\(error)".hasPrefix("\"MEAS:POW?\": scripted instrument did not complete")
        }
        try transport.finish()
    }

    @Test("numeric, integer, boolean and list queries; a malformed number is a typed error")
    func typedQueries() async throws {
        try await ScriptedTransport.expectProtocol([
            .exchange("MEAS:POW?\n", reply: "1.234500E-03\n"),
            .exchange("SENS:AVER?\n", reply: "+100\n"),
            .exchange("OUTP?\n", reply: "ON\n"),
            .exchange(":WAV:PRE?\n", reply: "0,2,1200,1,2.0E-09,-1.2E-06,0,4.0E-02,0,128\n"),
        ]) { session async throws in
            #expect(try await session.queryDouble("MEAS:POW?") == 1.2345e-3)
            #expect(try await session.queryInt("SENS:AVER?") == 100)
            #expect(try await session.queryBool("OUTP?"))
            #expect(try await session.queryDoubles(":WAV:PRE?").count == 10)
        }
        await #expect(throws: SCPIError.unexpectedResponse(command: "MEAS:POW?", response: "OVERRANGE", expected: "a number",
                                                           resource: "scripted instrument")) {
            try await ScriptedTransport.expectProtocol([.exchange("MEAS:POW?\n", reply: "OVERRANGE\n")]) { session async throws in
                _ = try await session.queryDouble("MEAS:POW?")
            }
        }
    }

    @Test("a binary block that arrives in several transfers, header split across them")
    func blockAcrossChunks() async throws {
        let samples = (0..<40).map { UInt8($0) }
        let encoded = try IEEEBlock.encode(samples) + [0x0A]           // "#240" + 40 bytes + NL
        let chunks = [Array(encoded[0..<2]), Array(encoded[2..<20]), Array(encoded[20..<43]), Array(encoded[43...])]
        let block = try await ScriptedTransport.expectProtocol([.exchange(":WAV:DATA?\n", replyChunks: chunks)]) { session async throws in
            try await session.queryBlock(":WAV:DATA?")
        }
        #expect(block == samples)
    }

    @Test("a reply that is not a block is reported and the instrument cleared")
    func notABlock() async throws {
        await #expect {
            try await ScriptedTransport.expectProtocol([.exchange(":WAV:DATA?\n", reply: "1.0,2.0\n"), .deviceClear]) { session async throws in
                _ = try await session.queryBlock(":WAV:DATA?")
            }
        } throws: { error in
            guard case .malformedBlock(":WAV:DATA?", .missingHash, _)? = error as? SCPIError else { return false }
            return true
        }
    }

    @Test("a waveform upload is the command, a definite-length block and NL, byte for byte")
    func blockUpload() async throws {
        let samples: [UInt8] = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x80, 0xBF]   // float32 LE: 1, -1
        try await ScriptedTransport.expectProtocol([
            .exchange(Array("SOUR1:DATA:ARB qbench,#18".utf8) + samples + [0x0A], reply: nil),
            Self.noError,
        ]) { session async throws in
            try await session.write("SOUR1:DATA:ARB qbench,", block: samples)
        }
    }

    @Test("*OPC?, *STB?, *ESR? and device clear")
    func commonQueries() async throws {
        try await ScriptedTransport.expectProtocol([
            .exchange("*OPC?\n", reply: "1\n"),
            .exchange("*STB?\n", reply: "16\n"),
            .exchange("*ESR?\n", reply: "+32\n"),
            .deviceClear,
        ]) { session async throws in
            try await session.waitForOperationComplete(timeout: .seconds(30))
            #expect(try await session.statusByte() == 0x10)
            #expect(try await session.eventStatusRegister() == 0x20)
            try await session.deviceClear()
        }
    }

    @Test("commands containing a terminator are refused before anything is sent")
    func invalidCommands() async throws {
        try await ScriptedTransport.expectProtocol([]) { session async throws in
            await #expect(throws: SCPIError.self) { try await session.write("*RST\n*CLS") }
            await #expect(throws: SCPIError.self) { _ = try await session.query("") }
        }
    }

    @Test("a device that disappears surfaces as deviceGone naming the command")
    func deviceGone() async throws {
        await #expect {
            try await ScriptedTransport.expectProtocol([.exchange("MEAS:POW?\n", reply: .deviceGone)]) { session async throws in
                _ = try await session.query("MEAS:POW?")
            }
        } throws: { error in
            guard case .transport("MEAS:POW?", let transportError)? = error as? SCPIError else { return false }
            return transportError.isDeviceGone
        }
    }
}
