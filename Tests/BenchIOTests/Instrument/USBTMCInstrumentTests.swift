import BenchIO
import InstrumentModels
import Testing

/// L1: the USBTMC message layer and its recovery state machine (USBTMC 1.0 §4.2.1,
/// docs/hardware.md §1.7) against an in-memory fake of the USB transport.
@Suite("USBTMCInstrument against an in-memory USB fake")
struct USBTMCInstrumentTests {
    typealias Op = FakeUSBTMCDevice.Operation

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    private func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    /// The Bulk-IN buffer for a REQUEST_DEV_DEP_MSG_IN of `requested` bytes with 64-byte packets:
    /// the next multiple of wMaxPacketSize above header + payload + alignment.
    private func bulkInBuffer(_ requested: Int = 1 << 20) -> Int { ((requested + 15) / 64 + 1) * 64 }

    @Test("opening reads GET_CAPABILITIES, device-clears and (T2) asserts REN because the capabilities accept REN_CONTROL")
    func openSequence() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        #expect(fake.log == [.control(.getCapabilities, value: 0), .control(.initiateClear, value: 0),
                             .control(.checkClearStatus, value: 0), .clearHalt(0x02), .control(.renControl, value: 1)])
        let caps = try #require(await instrument.capabilities)
        #expect(caps.acceptsTrigger && caps.understandsSCPI)
        #expect(instrument.resourceName == "USBTMC 1313:8072 serial FAKE0001")
    }

    @Test("a write is split into DEV_DEP_MSG_OUT transfers with EOM on the last; a reply spans transfers")
    func splitWriteAndMultiTransferRead() async throws {
        let (fake, device) = makeFake()
        var configuration = fastConfiguration()
        configuration.maxTransferSize = 8
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: configuration)
        fake.clearLog()
        try await instrument.write(bytes("DISP:TEXT \"hello world\"\n"))
        #expect(fake.log.count == 3)   // 24 bytes in transfers of 8
        #expect(fake.log.allSatisfy { if case .bulkOut(1, _) = $0 { return true } else { return false } })
        #expect(device.receivedMessages == ["DISP:TEXT \"hello world\""])
        fake.clearLog()
        let reply = try await instrument.query(bytes("DISP:TEXT?\n"))
        #expect(text(reply) == "\"hello world\"\n")
        let requests = fake.log.filter { if case .bulkOut(2, _) = $0 { return true } else { return false } }
        #expect(requests.count == 2)   // 14 bytes, 8 per REQUEST_DEV_DEP_MSG_IN
    }

    @Test("bTags increase with every Bulk-OUT transfer and the read tag is remembered for aborts")
    func tagsAdvance() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        _ = try await instrument.query(bytes("*IDN?\n"))
        #expect(await instrument.lastWriteTag == 1)
        #expect(await instrument.lastReadTag == 2)
        #expect(fake.log.contains(.bulkOut(msgID: 1, tag: 1)) && fake.log.contains(.bulkOut(msgID: 2, tag: 2)))
    }

    @Test("Bulk-IN timeout → INITIATE_ABORT_BULK_IN → drain → CHECK_ABORT_BULK_IN_STATUS → clear; next query works")
    func readTimeoutRecovery() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        try await instrument.write(bytes("MEAS:POW?\n"))
        fake.clearLog()
        fake.failBulkIn(.timeout)
        await #expect {
            _ = try await instrument.read(timeout: .milliseconds(80))
        } throws: { error in
            guard case .timeout(let resource, _, let limit, let recovery) = error as? TransportError else { return false }
            return resource.contains("FAKE0001") && limit == .milliseconds(80) && recovery.contains("answered SUCCESS")
        }
        let tag: UInt16 = 2
        #expect(fake.log == [
            .bulkOut(msgID: 2, tag: 2), .bulkIn(bulkInBuffer()),
            .control(.initiateAbortBulkIn, value: tag), .bulkIn(4096),
            .control(.checkAbortBulkInStatus, value: 0),
            .control(.initiateClear, value: 0), .control(.checkClearStatus, value: 0), .clearHalt(0x02),
        ])
        let counters = await instrument.recoveryCounters
        #expect(counters.readTimeouts == 1 && counters.abortsBulkIn == 1 && counters.deviceClears == 2)
        let reply = try await instrument.query(bytes("*IDN?\n"))
        #expect(text(reply) == "BenchSim,PM-GENERIC,FAKE0001,1.0.0\n")
    }

    @Test("INITIATE_ABORT_BULK_IN answered FAILED: nothing to drain, the device is still cleared")
    func abortFailedStillClears() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.setAbortBulkInStatus(.failed)
        fake.clearLog()
        await #expect(throws: TransportError.self) { _ = try await instrument.read() }
        #expect(fake.log.contains(.control(.initiateAbortBulkIn, value: 1)))
        #expect(!fake.log.contains(.control(.checkAbortBulkInStatus, value: 0)))
        #expect(fake.log.suffix(3) == [.control(.initiateClear, value: 0), .control(.checkClearStatus, value: 0), .clearHalt(0x02)])
    }

    @Test("CHECK_CLEAR_STATUS is polled while PENDING", arguments: [0, 1, 3])
    func clearPolling(pendingPolls: Int) async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.setClearPendingPolls(pendingPolls)
        fake.clearLog()
        try await instrument.clear(timeout: .milliseconds(100))
        #expect(fake.log.filter { $0 == .control(.checkClearStatus, value: 0) }.count == pendingPolls + 1)
    }

    @Test("CHECK_CLEAR_STATUS that never finishes gives requestFailed")
    func clearNeverFinishes() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.setClearPendingPolls(1000)
        await #expect {
            try await instrument.clear(timeout: .milliseconds(100))
        } throws: { error in
            guard case .requestFailed(_, "CHECK_CLEAR_STATUS", let status) = error as? TransportError else { return false }
            return status.contains("PENDING")
        }
    }

    @Test("Bulk-OUT timeout → INITIATE_ABORT_BULK_OUT → CHECK_ABORT_BULK_OUT_STATUS → clear_halt(Bulk-OUT)")
    func writeTimeoutRecovery() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.clearLog()
        fake.failBulkOut(.timeout)
        await #expect {
            try await instrument.write(bytes("*RST\n"), timeout: .milliseconds(50))
        } throws: { error in
            guard case .timeout(_, let operation, _, let recovery) = error as? TransportError else { return false }
            return operation.contains("*RST") && recovery.contains("INITIATE_ABORT_BULK_OUT")
        }
        #expect(fake.log == [.bulkOut(msgID: 1, tag: 1), .control(.initiateAbortBulkOut, value: 1), .clearHalt(0x02)])
        #expect(await instrument.recoveryCounters.writeTimeouts == 1)
    }

    @Test("a STALL (LIBUSB_ERROR_PIPE) → clear_halt on that endpoint → device clear → .stalled(recovered)")
    func stallRecovery() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.clearLog()
        fake.failBulkIn(.stall)
        await #expect(throws: TransportError.stalled(resource: "USBTMC 1313:8072 serial FAKE0001", operation: "reading a reply",
                                                     recovered: true)) {
            _ = try await instrument.query(bytes("*IDN?\n"))
        }
        #expect(Array(fake.log.suffix(5)) == [.bulkIn(bulkInBuffer()), .clearHalt(0x81), .control(.initiateClear, value: 0),
                                              .control(.checkClearStatus, value: 0), .clearHalt(0x02)])
        #expect(text(try await instrument.query(bytes("*IDN?\n"))).hasPrefix("BenchSim"))
    }

    @Test("LIBUSB_ERROR_NO_DEVICE → .deviceGone, and every later call fails the same way without touching the bus")
    func deviceGone() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.unplug()
        await #expect {
            try await instrument.write(bytes("*RST\n"))
        } throws: { error in
            (error as? TransportError)?.isDeviceGone == true
        }
        let operations = fake.log.count
        for _ in 0..<2 {
            await #expect {
                _ = try await instrument.readStatusByte()
            } throws: { error in
                guard case .deviceGone(_, let detail) = error as? TransportError else { return false }
                return detail.hasPrefix("earlier")
            }
        }
        #expect(fake.log.count == operations)
    }

    @Test("a reply with the wrong bTag is a protocol violation; the transfer is aborted and the device cleared")
    func wrongTag() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.corruptNextTag()
        fake.clearLog()
        await #expect {
            _ = try await instrument.query(bytes("*IDN?\n"))
        } throws: { error in
            guard case .protocolViolation(_, let detail) = error as? TransportError else { return false }
            return detail.contains("bTag 3") && detail.contains("bTag 2")
        }
        #expect(fake.log.contains(.control(.initiateAbortBulkIn, value: 2)))
        #expect(fake.log.contains(.control(.initiateClear, value: 0)))
        #expect(await instrument.recoveryCounters.protocolViolations == 1)
    }

    @Test("T1: class requests get 5 s (USB_CTRL_GET_TIMEOUT), drain reads 300 ms; a control timeout does not say power-cycle")
    func controlTimeouts() async throws {
        #expect(USBTMCInstrument.Configuration().controlTimeout == .seconds(5))
        #expect(USBTMCInstrument.Configuration().drainTimeout == .milliseconds(300))
        let (fake, _) = makeFake()
        var configuration = fastConfiguration()
        configuration.controlTimeout = .seconds(5)
        configuration.drainTimeout = .milliseconds(7)
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: configuration)
        #expect(fake.controlTimeouts.allSatisfy { $0 == .seconds(5) } && !fake.controlTimeouts.isEmpty)
        // A Bulk-IN timeout: the abort's drain reads use the drain timeout, every request 5 s.
        fake.failBulkIn(.timeout)
        await #expect(throws: TransportError.self) { _ = try await instrument.query(Array("*IDN?\n".utf8)) }
        #expect(fake.controlTimeouts.allSatisfy { $0 == .seconds(5) })
        #expect(fake.bulkInTimeouts.contains(.milliseconds(7)))
        fake.timeOutControlRequests(1)
        await #expect {
            try await instrument.clear(timeout: .seconds(1))
        } throws: { error in
            let text = "\(error)"
            return !text.contains("power-cycle") && text.contains("wait for it to finish and retry") && text.contains("5 s")
        }
    }

    @Test("T3: a quirky header (MsgID ≠ 2 or a wrong bTagInverse) is refused by default and read with the lenient quirk switch",
          arguments: [(UInt8(1), false), (UInt8(2), true)])
    func quirkyHeader(_ msgID: UInt8, _ wrongInverse: Bool) async throws {
        let (fake, _) = makeFake()
        let strict = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.sendQuirkyHeader(msgID: msgID, wrongInverse: wrongInverse)
        await #expect {
            _ = try await strict.query(bytes("*IDN?\n"))
        } throws: { error in
            guard case .protocolViolation = error as? TransportError else { return false }
            return "\(error)".contains("usbtmc-quirks: [lenient-bulk-in-header]")
        }
        var configuration = fastConfiguration()
        configuration.bulkInHeaderCheck = .lenient
        let lenient = try await USBTMCInstrument.open(transport: fake, configuration: configuration)
        fake.sendQuirkyHeader(msgID: msgID, wrongInverse: wrongInverse)
        #expect(text(try await lenient.query(bytes("*IDN?\n"))).hasPrefix("BenchSim"))
        // The bTag itself is still checked.
        fake.corruptNextTag()
        await #expect(throws: TransportError.self) { _ = try await lenient.query(bytes("*IDN?\n")) }
    }

    @Test("T5: an empty message is refused before it reaches the bus (TransferSize must be > 0)")
    func emptyMessage() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.clearLog()
        await #expect {
            try await instrument.write([])
        } throws: { error in
            guard case .unsupported(_, let feature, let hint) = error as? TransportError else { return false }
            return feature == "an empty message" && hint.contains("Table 3")
        }
        #expect(fake.log.isEmpty)
    }

    @Test("T6: wMaxPacketSize 0 is refused when opening instead of dividing by zero")
    func zeroPacketSize() async throws {
        let (fake, _) = makeFake(maxPacketSize: 0)
        await #expect {
            _ = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        } throws: { error in
            guard case .protocolViolation(_, let detail) = error as? TransportError else { return false }
            return detail.contains("wMaxPacketSize 0")
        }
        #expect(fake.log.isEmpty)
    }

    @Test("a stray zero-length packet before a transfer is skipped")
    func strayZeroLengthPacket() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        fake.sendStrayZeroLengthPacket()
        #expect(text(try await instrument.query(bytes("SENS:CORR:WAV?\n"))) == "1.550000E+03\n")
    }

    @Test("a reply longer than the caller's limit gives responseTooLong and resynchronises")
    func responseTooLong() async throws {
        let (fake, _) = makeFake()
        var configuration = fastConfiguration()
        configuration.maxTransferSize = 4
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: configuration)
        try await instrument.write(bytes("*IDN?\n"))
        await #expect(throws: TransportError.responseTooLong(resource: "USBTMC 1313:8072 serial FAKE0001", limit: 8)) {
            _ = try await instrument.read(timeout: .milliseconds(100), maxLength: 8)
        }
        #expect(text(try await instrument.query(bytes("TRAC:POIN?\n"))) == "16\n")
    }

    @Test("READ_STATUS_BYTE: through Interrupt-IN, or in the control response without one", arguments: [true, false])
    func readStatusByte(interruptIn: Bool) async throws {
        let (fake, _) = makeFake(interruptIn: interruptIn)
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        try await instrument.write(bytes("*IDN?\n"))
        #expect(try await instrument.readStatusByte() == 0x10)   // MAV
        #expect(fake.log.contains(.interruptIn) == interruptIn)
        #expect(fake.log.contains(.control(.readStatusByte, value: 2)))   // READ_STATUS_BYTE tags start at 2
    }

    @Test("service requests: waitForServiceRequest returns the STB, or nil after the timeout")
    func serviceRequest() async throws {
        let (fake, device) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        #expect(try await instrument.waitForServiceRequest(timeout: .milliseconds(20)) == nil)
        for command in ["*CLS\n", "*ESE 1\n", "*SRE 32\n", "*OPC\n"] { try await instrument.write(bytes(command)) }
        #expect(device.statusByte & 0x40 == 0x40)
        let stb = try await instrument.waitForServiceRequest(timeout: .milliseconds(50))
        #expect(stb == 0x60)
    }

    @Test("TRIGGER needs the capability; INDICATOR_PULSE and REN_CONTROL succeed")
    func triggerAndControls() async throws {
        let (fake, device) = makeFake(acceptsTrigger: false)
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        await #expect {
            try await instrument.trigger()
        } throws: { error in
            guard case .unsupported(_, let feature, let hint) = error as? TransportError else { return false }
            return feature.contains("TRIGGER") && hint.contains("*TRG")
        }
        try await instrument.indicatorPulse()
        try await instrument.setRemoteEnable(true)
        try await instrument.localLockout()
        let (fake2, device2) = makeFake()
        let instrument2 = try await USBTMCInstrument.open(transport: fake2, configuration: fastConfiguration())
        try await instrument2.trigger()
        #expect(device2.withModel { $0.triggerCount } == 1)
        #expect(device.withModel { $0.triggerCount } == 0)
    }

    @Test("after close() every call throws .closed")
    func closed() async throws {
        let (fake, _) = makeFake()
        let instrument = try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration())
        await instrument.close()
        await #expect(throws: TransportError.closed(resource: "USBTMC 1313:8072 serial FAKE0001")) {
            try await instrument.write(bytes("*RST\n"))
        }
    }

    @Test("SCPISession over the USBTMC layer: errors of set commands are typed and name the command")
    func sessionOverUSBTMC() async throws {
        let (fake, _) = makeFake()
        let session = SCPISession(transport: try await USBTMCInstrument.open(transport: fake, configuration: fastConfiguration()))
        try await session.write("SENS:CORR:WAV 1310")
        #expect(try await session.queryDouble("SENS:CORR:WAV?") == 1310)
        await #expect(throws: SCPIError.instrument(command: "SENS:CORR:WAV 5000",
                                                   errors: [SCPIErrorEntry(code: -222, message: "Data out of range")],
                                                   resource: "USBTMC 1313:8072 serial FAKE0001")) {
            try await session.write("SENS:CORR:WAV 5000")
        }
    }
}
