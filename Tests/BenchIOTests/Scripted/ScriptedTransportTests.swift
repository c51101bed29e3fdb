import BenchIO
import Testing

/// Tests of the test tool: ScriptedTransport must fail loudly and precisely.
@Suite("ScriptedTransport itself")
struct ScriptedTransportTests {
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test("a write that differs from the script fails, showing expected and actual bytes")
    func unexpectedWrite() throws {
        let transport = ScriptedTransport([.exchange("SENS:CORR:WAV 1550\n", reply: nil)])
        #expect {
            try transport.write(bytes("SENS:CORR:WAV 1310\n"), timeout: .seconds(1))
        } throws: { error in
            guard case .scriptMismatch(let message)? = error as? TransportError else { return false }
            return message.contains("step 1: expected write \"SENS:CORR:WAV 1550\\n\", got \"SENS:CORR:WAV 1310\\n\"")
                && message.contains("first difference at byte 15: expected \"5\", got \"3\"")
        }
        #expect(!transport.isFinished)
    }

    @Test("a missing or extra terminator is pointed out")
    func terminatorDifference() {
        let transport = ScriptedTransport([.write("*RST\n")])
        #expect {
            try transport.write(bytes("*RST"), timeout: .seconds(1))
        } throws: { error in
            "\(error)".contains("1 bytes missing at the end")
        }
    }

    @Test("a write after the script ended fails")
    func writeAfterEnd() throws {
        let transport = ScriptedTransport([.write("*RST\n")])
        try transport.write(bytes("*RST\n"), timeout: .seconds(1))
        #expect {
            try transport.write(bytes("*CLS\n"), timeout: .seconds(1))
        } throws: { error in
            "\(error)".contains("unexpected write \"*CLS\\n\": all 1 scripted steps were already used")
        }
    }

    @Test("a read with nothing scripted fails and names the last write")
    func readWithNothingScripted() throws {
        let transport = ScriptedTransport([.write("*RST\n")])
        try transport.write(bytes("*RST\n"), timeout: .seconds(1))
        #expect {
            _ = try transport.readChunk(maxLength: 100, timeout: .seconds(1))
        } throws: { error in
            "\(error)".contains("read with nothing scripted (the last write was \"*RST\\n\"")
        }
    }

    @Test("writing before the previous reply was read fails")
    func writeWhileReplyPending() throws {
        let transport = ScriptedTransport([.exchange("*IDN?\n", reply: "X,Y,Z,1\n"), .write("*RST\n")])
        try transport.write(bytes("*IDN?\n"), timeout: .seconds(1))
        #expect {
            try transport.write(bytes("*RST\n"), timeout: .seconds(1))
        } throws: { error in
            "\(error)".contains("while the reply to step 1 (reply \"X,Y,Z,1\\n\") was not read")
        }
    }

    @Test("finish() lists steps never reached and replies never read")
    func unconsumed() throws {
        let transport = ScriptedTransport([.exchange("*IDN?\n", reply: "X,Y,Z,1\n"), .write("*RST\n"), .deviceClear])
        try transport.write(bytes("*IDN?\n"), timeout: .seconds(1))
        #expect {
            try transport.finish()
        } throws: { error in
            let text = "\(error)"
            return text.contains("the reply to step 1 was never read")
                && text.contains("2 scripted step(s) were never reached")
                && text.contains("step 2: write \"*RST\\n\" → no reply") && text.contains("step 3: device clear")
        }
    }

    @Test("a violation is remembered even if the code under test swallows the error")
    func swallowedViolation() throws {
        let transport = ScriptedTransport([.write("A\n")])
        _ = try? transport.write(bytes("B\n"), timeout: .seconds(1))
        try? transport.write(bytes("A\n"), timeout: .seconds(1))
        #expect(transport.violations.count == 1)
        #expect(throws: TransportError.self) { try transport.finish() }
    }

    @Test("an unexpected device clear fails; an expected one passes")
    func deviceClears() throws {
        let transport = ScriptedTransport([.deviceClear, .write("*RST\n")])
        try transport.clear(timeout: .seconds(1))
        #expect {
            try transport.clear(timeout: .seconds(1))
        } throws: { error in
            "\(error)".contains("unexpected device clear: expected write \"*RST\\n\"")
        }
    }

    @Test("replies come in their scripted chunks, split further by maxLength, EOM on the last")
    func chunks() throws {
        let transport = ScriptedTransport([.exchange("Q?\n", replyChunks: [bytes("abcdef"), bytes("gh\n")])])
        try transport.write(bytes("Q?\n"), timeout: .seconds(1))
        #expect(try transport.readChunk(maxLength: 4, timeout: .seconds(1)) == MessageChunk(bytes: bytes("abcd"), isEndOfMessage: false))
        #expect(try transport.readChunk(maxLength: 4, timeout: .seconds(1)) == MessageChunk(bytes: bytes("ef"), isEndOfMessage: false))
        #expect(try transport.readChunk(maxLength: 4, timeout: .seconds(1)) == MessageChunk(bytes: bytes("gh\n"), isEndOfMessage: true))
        try transport.finish()
        #expect(transport.isFinished)
    }

    @Test("PyMeasure-style pairs append the terminator to command and reply")
    func pairs() async throws {
        let transport = ScriptedTransport(terminator: "\r\n", [("*IDN?", "A,B,C,D"), ("*RST", nil)])
        var options = SCPISession.Options()
        options.writeTerminator = Array("\r\n".utf8)
        options.checkErrorsAfterSet = false
        let session = SCPISession(transport: transport, options: options)
        #expect(try await session.identify().model == "B")
        try await session.reset()
        try transport.finish()
    }

    @Test("expectProtocol fails when the body leaves steps unused")
    func expectProtocolUnused() async {
        await #expect {
            try await ScriptedTransport.expectProtocol([.write("*RST\n"), .write("*CLS\n")]) { session in
                try await session.write("*RST", checkErrors: false)
            }
        } throws: { error in
            "\(error)".contains("step 2: write \"*CLS\\n\"")
        }
    }
}
