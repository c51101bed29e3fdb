import BenchIO
import InstrumentModels
import Testing

/// L1: the shared instrument model behind the in-memory transport, through SCPISession —
/// the same model the bus tests serve over emulated USB.
@Suite("Simulated IEEE 488.2 instrument (GenericPowerMeterModel)")
struct SimulatedInstrumentTests {
    private func make(chunkSize: Int = 1 << 20) -> (SCPISession, SimulatedSCPIDevice<GenericPowerMeterModel>) {
        let device = SimulatedSCPIDevice(model: GenericPowerMeterModel(serialNumber: "SIM0001"))
        let transport = SimulatedTransport(device: device, resourceName: "simulated PM", maxChunkSize: chunkSize)
        return (SCPISession(transport: transport), device)
    }

    @Test("identify, set and read back, measure")
    func basics() async throws {
        let (session, device) = make()
        #expect(try await session.identify() == SCPIIdentity(manufacturer: "BenchSim", model: "PM-GENERIC", serialNumber: "SIM0001",
                                                            firmware: "1.0.0"))
        try await session.write("SENSe:CORRection:WAVelength 1310NM")
        #expect(try await session.queryDouble("SENS:CORR:WAV?") == 1310)
        #expect(try await session.queryDouble("CORR:WAV? MAX") == 1800)
        device.withModel { $0.opticalPower = 2.5e-6 }
        #expect(try await session.queryDouble("MEAS:POW?") == 2.5e-6)
        try await session.write("SENS:POW:UNIT DBM")
        #expect(abs(try await session.queryDouble("READ?") - (-26.0206)) < 1e-3)
        try await session.reset()
        #expect(try await session.query("SENS:POW:UNIT?") == "W")
    }

    @Test("bad values become typed errors naming the command", arguments: [
        ("SENS:CORR:WAV 5000", -222), ("SENS:CORR:WAV", -109), ("SENS:CORR:WAV abc", -104),
        ("SENS:AVER:COUN 0", -222), ("SENS:POW:UNIT LUMEN", -224), ("MEAS:PWO", -113), ("SENS:CORR:WAV \"x", -151),
    ])
    func rejected(command: String, code: Int) async throws {
        let (session, _) = make()
        await #expect {
            try await session.write(command)
        } throws: { error in
            guard case .instrument(let c, let errors, "simulated PM")? = error as? SCPIError else { return false }
            return c == command && errors.map(\.code) == [code]
        }
    }

    @Test("a mistyped query is explained by the error queue instead of a bare timeout")
    func mistypedQuery() async throws {
        let (session, _) = make()
        await #expect(throws: SCPIError.queryRejected(command: "MEAS:PWO?", errors: [SCPIErrorEntry(code: -113, message: "Undefined header")],
                                                      resource: "simulated PM")) {
            _ = try await session.query("MEAS:PWO?")
        }
    }

    @Test("compound messages: ';' continues in the same subsystem, ';:' returns to the root, replies joined by ';'")
    func compoundHeaders() async throws {
        let (session, device) = make()
        try await session.write("SENS:POW:UNIT DBM;RANG:AUTO 0;:SENS:AVER:COUN 10")
        let model = device.withModel { $0 }
        #expect(model.unit == .dBm && !model.autoRange && model.averageCount == 10)
        #expect(try await session.query("SENS:AVER?;:TRAC:POIN?;*OPC?") == "10;16;1")
    }

    @Test("a new command while a reply is unread discards it with -410 Query INTERRUPTED")
    func queryInterrupted() async throws {
        let device = SimulatedSCPIDevice(model: GenericPowerMeterModel())
        device.receive(Array("*IDN?\n".utf8))
        device.receive(Array("*RST\n".utf8))
        #expect(device.readResponse(maxLength: 100) == nil)
        #expect(device.errorQueue == [SCPIErrorEntry(code: -410, message: "Query INTERRUPTED")])
    }

    @Test("the error queue overflows into -350 and *CLS empties it")
    func queueOverflow() async throws {
        let device = SimulatedSCPIDevice(model: GenericPowerMeterModel(), errorQueueCapacity: 3)
        for _ in 0..<5 { device.receive(Array("BOGUS\n".utf8)) }
        #expect(device.errorQueue.map(\.code) == [-113, -113, -350])
        let session = SCPISession(transport: SimulatedTransport(device: device))
        #expect(try await session.readErrorQueue().map(\.code) == [-113, -113, -350])
        device.receive(Array("BOGUS\n".utf8))
        try await session.clearStatus()
        #expect(device.errorQueue.isEmpty)
    }

    @Test("status byte: EAV, MAV, ESB and RQS; a service request fires once")
    func statusByte() async throws {
        let device = SimulatedSCPIDevice(model: GenericPowerMeterModel())
        #expect(device.statusByte == 0)
        device.receive(Array("*IDN?\n".utf8))
        #expect(device.statusByte == 0x10)
        _ = device.readResponse(maxLength: 1000)
        device.receive(Array("NOPE\n".utf8))
        #expect(device.statusByte == 0x04)
        device.receive(Array("*CLS;*ESE 1;*SRE 32\n".utf8))
        #expect(device.takeServiceRequest() == nil)
        device.receive(Array("*OPC\n".utf8))
        #expect(device.statusByte == 0x60)
        #expect(device.takeServiceRequest() == 0x60)
        #expect(device.takeServiceRequest() == nil)
        device.receive(Array("*ESR?\n".utf8))
        #expect(device.readResponse(maxLength: 10)?.bytes == Array("1\n".utf8))
        #expect(device.statusByte == 0)
    }

    @Test("a trace block read through small chunks")
    func traceBlock() async throws {
        let (session, device) = make(chunkSize: 7)
        try await session.write("TRAC:POIN 100")
        let block = try await session.queryBlock("TRAC:DATA?")
        let expected = device.withModel { model in
            model.trace.flatMap { sample in withUnsafeBytes(of: sample.bitPattern.littleEndian) { Array($0) } }
        }
        #expect(block.count == 400 && block == expected)
        #expect(try await session.query("DISP:TEXT?") == "\"\"")
        try await session.write("DISP:TEXT \"say \"\"hi\"\"; ok, fine\"")
        #expect(device.withModel { $0.displayText } == "say \"hi\"; ok, fine")
        #expect(try await session.query("DISP:TEXT?") == "\"say \"\"hi\"\"; ok, fine\"")
    }
}

@Suite("SCPI program message parsing and header patterns")
struct SCPIParsingTests {
    private func parse(_ text: String) -> [SCPICommand] {
        (try? SCPIProgramParser.parse(Array(text.utf8)).get()) ?? []
    }

    @Test("header patterns: short and long forms, optional nodes, numeric suffixes", arguments: [
        ("SENS:CORR:WAV", "[SENSe#]:CORRection:WAVelength", [1] as [Int]?),
        ("SENSE2:CORRECTION:WAVELENGTH", "[SENSe#]:CORRection:WAVelength", [2]),
        ("CORR:WAV", "[SENSe#]:CORRection:WAVelength", [1]),
        ("SENS:CORR:WAVE", "[SENSe#]:CORRection:WAVelength", nil),
        ("SOUR2:CURR:LEV:AMPL", "SOURce#:CURRent[:LEVel][:AMPLitude]", [2]),
        ("SOUR:CURR", "SOURce#:CURRent[:LEVel][:AMPLitude]", [1]),
        ("MEAS:SCAL:POW", "MEASure[:SCALar]:POWer", []),
        ("MEAS:POW2", "MEASure[:SCALar]:POWer", nil),
    ])
    func patterns(header: String, pattern: String, suffixes: [Int]?) {
        let command = parse(header).first
        #expect(command?.match(pattern) == suffixes)
    }

    @Test("parameters: numbers with units, strings with separators, binary blocks")
    func parameters() throws {
        let bytes = Array("SOUR1:DATA:ARB w1,#14\u{0A};\",;X 'a;b',1550NM\n".utf8)
        let commands = try SCPIProgramParser.parse(bytes).get()
        #expect(commands.count == 2)
        #expect(commands[0].arguments == [.token("w1"), .block(Array("\n;\",".utf8))])
        #expect(commands[1].keywords == ["SOUR1", "DATA", "X"])
        #expect(commands[1].arguments == [.string("a;b"), .token("1550NM")])
        // A suffix counts only where the model's manual allows it (otherwise -131 Invalid suffix).
        #expect(commands[1].number(at: 1) == nil)
        #expect(commands[1].number(at: 1, suffixes: ["NM"]) == 1550)
        #expect(commands[1].suffixError(at: 1, otherwise: .missingParameter) == .invalidSuffix)
    }

    @Test("syntax errors carry the code an instrument would queue", arguments: [
        ("SENS:CORR:WAV \"open", -151), ("A::B", -102), ("SENS:CORR:WAV 1,,2", -102), ("*IDN:X?", -102), ("DATA #2A", -161),
    ])
    func syntaxErrors(text: String, code: Int) {
        guard case .failure(let error) = SCPIProgramParser.parse(Array(text.utf8)) else {
            Issue.record("\(text) should not parse")
            return
        }
        #expect(error.entry.code == code)
    }

    @Test("NR3 formatting", arguments: [(1.2345e-3, "1.234500E-03"), (1550, "1.550000E+03"), (0, "0.000000E+00"),
                                        (-2.5, "-2.500000E+00"), (9.9999999, "1.000000E+01"), (Double.infinity, "9.9E+37")])
    func nr3(value: Double, text: String) {
        #expect(formatNR3(value) == text)
    }
}
