import BenchIO
import BenchMockHW
import Foundation
import InstrumentModels
import Testing

extension BusTests {
    /// Opens the instrument with `serial` through the real libusb stack.
    private func open(_ serial: String, in context: USBContext) async throws -> USBTMCInstrument {
        try await USBTMCInstrument.open(USBTMCDeviceMatch(vendorID: 0x1313, serialNumber: serial), context: context,
                                        configuration: emulatedConfiguration())
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("enumerates USBTMC interfaces by class FE/03 and selects by serial number")
    func enumerateAndSelectBySerial() async throws {
        try await withEmulatedBus { bus in
            let first = try bus.addInstrument(serialNumber: "P2000001", bus: 1, kernelDriverBound: true)
            let second = try bus.addInstrument(serialNumber: "P2000002", bus: 2)
            let context = try USBContext()
            let found = try context.usbtmcDevices()
            #expect(found.compactMap(\.serialNumber).sorted() == ["P2000001", "P2000002"])
            for info in found {
                #expect(info.id == USBDeviceID(vendorID: 0x1313, productID: 0x8072))
                #expect(info.interface.interfaceProtocol == .usb488)
                #expect(info.interface.bulkOut == USBEndpoint(address: 0x02, maxPacketSize: 512))
                #expect(info.interface.bulkIn == USBEndpoint(address: 0x81, maxPacketSize: 512))
                #expect(info.interface.interruptIn?.address == 0x83)
                #expect(info.manufacturer == "Thorlabs")
            }
            #expect(found.contains { $0.visaResource == "USB0::0x1313::0x8072::P2000002::INSTR" })

            // Same VID:PID twice: selecting without a serial number is ambiguous.
            #expect {
                _ = try context.open(USBTMCDeviceMatch(vendorID: 0x1313, productID: 0x8072))
            } throws: { error in
                guard case .ambiguousMatch(_, let candidates) = error as? USBError else { return false }
                return candidates.count == 2 && "\(error)".contains("add the serial number")
            }
            #expect {
                _ = try context.open(USBTMCDeviceMatch(serialNumber: "NOPE"))
            } throws: { error in
                guard case .noMatchingDevice(_, let listed) = error as? USBError else { return false }
                return listed.count == 2 && listed.contains { $0.contains("P2000001") }
            }

            let instrument = try await open("P2000002", in: context)
            let idn = try await instrument.query(Array("*IDN?\n".utf8))
            #expect(text(idn) == "Thorlabs,PM100USB,P2000002,1.7.0\n")
            #expect(second.device.receivedMessages == ["*IDN?"])
            #expect(first.device.receivedMessages.isEmpty)
            await instrument.close()

            // The first one has usbtmc.ko "bound": opening detaches it.
            #expect(first.kernelDriverBound)
            let transport = try context.open(resource: "USB0::0x1313::0x8072::P2000001::INSTR")
            #expect(transport.detachedKernelDriver)
            #expect(!first.kernelDriverBound)
            transport.close()
        }
    }

    @Test("GET_CAPABILITIES is read and decoded when the instrument is opened")
    func capabilities() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            let caps = try #require(await instrument.capabilities)
            #expect(caps.status == .success)
            #expect(caps.bcdUSBTMC == 0x0100)
            #expect(caps.bcdUSB488 == 0x0100)
            #expect(caps.acceptsIndicatorPulse && !caps.supportsTermChar)
            #expect(caps.isUSB4882Interface && caps.acceptsRemoteLocal && caps.acceptsTrigger)
            #expect(caps.understandsSCPI && caps.serviceRequestCapable && caps.remoteLocalCapable && caps.deviceTriggerCapable)
            #expect(emulated.stats.initiate_clear == 1)   // clear on open
            try await instrument.indicatorPulse()
            try await instrument.setRemoteEnable(true)
            try await instrument.goToLocal()
            await instrument.close()
        }
    }

    @Test("a reply longer than one transfer, and one of exactly wMaxPacketSize − 12 bytes",
          arguments: [(textLength: 1200, deviceTransferLimit: UInt32(256)), (textLength: 497, deviceTransferLimit: UInt32(0))])
    func multiTransferRead(textLength: Int, deviceTransferLimit: UInt32) async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            emulated.setMaxTransferSize(deviceTransferLimit)
            let context = try USBContext()
            let session = SCPISession(transport: try await open("P2000001", in: context))
            let message = String((0..<textLength).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
            try await session.write("DISP:TEXT \"\(message)\"")
            let before = emulated.stats
            let reply = try await session.query("DISP:TEXT?")
            let after = emulated.stats
            #expect(reply == "\"\(message)\"")
            let payload = textLength + 3   // quotes and NL
            if deviceTransferLimit > 0 {
                #expect(payload > 500)
                #expect(Int(after.bulk_in_transfers - before.bulk_in_transfers) == (payload + 255) / 256)
            } else {
                #expect(payload == 512 - 12)   // header + payload fill one packet exactly
                #expect(after.bulk_in_transfers - before.bulk_in_transfers == 1)
                #expect(after.zero_length_packets - before.zero_length_packets == 1)
            }
            // The zero-length packet (if any) was consumed: the next exchange is clean.
            #expect(try await session.identify().serialNumber == "P2000001")
            await (session.transport as? USBTMCInstrument)?.close()
        }
    }

    @Test("an IEEE 488.2 block that spans many DEV_DEP_MSG_IN transfers")
    func blockAcrossTransfers() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            emulated.setMaxTransferSize(512)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            let session = SCPISession(transport: instrument)
            try await session.write("TRAC:POIN 1000")
            let before = emulated.stats.bulk_in_transfers
            let block = try await session.queryBlock("TRAC:DATA?")
            #expect(block.count == 4000)
            #expect(emulated.stats.bulk_in_transfers - before >= 8)
            let expected = emulated.device.withModel { model in
                model.trace.flatMap { sample in withUnsafeBytes(of: sample.bitPattern.littleEndian) { Array($0) } }
            }
            #expect(block == expected)
            #expect(try await session.queryInt("TRAC:POIN?") == 1000)
            await instrument.close()
        }
    }

    @Test("Bulk-IN timeout → INITIATE_ABORT_BULK_IN → device clear, and the next query works")
    func timeoutAbortAndRecover() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            let clearsAtOpen = emulated.stats.initiate_clear
            emulated.holdResponses(true)
            let started = ContinuousClock.now
            do {
                _ = try await instrument.query(Array("MEAS:POW?\n".utf8), timeout: .milliseconds(150))
                Issue.record("the query should have timed out")
            } catch {
                guard case .timeout(_, _, let limit, let recovery)? = error as? TransportError else {
                    Issue.record("expected a timeout, got \(error)")
                    return
                }
                #expect(limit == .milliseconds(150))
                #expect(recovery.contains("INITIATE_ABORT_BULK_IN"))
                #expect("\(error)".contains("USBTMC 1313:8072 serial P2000001 did not complete reading a reply within 150 ms"))
            }
            #expect(ContinuousClock.now - started >= .milliseconds(150))
            let stats = emulated.stats
            #expect(stats.urbs_discarded >= 1)          // libusb cancelled the Bulk-IN URB
            #expect(stats.initiate_abort_bulk_in == 1)
            #expect(stats.check_abort_bulk_in_status >= 1)
            #expect(stats.initiate_clear == clearsAtOpen + 1)
            #expect(stats.clear_halt_bulk_out >= 1)
            let counters = await instrument.recoveryCounters
            #expect(counters.readTimeouts == 1 && counters.abortsBulkIn == 1)

            emulated.holdResponses(false)
            let idn = try await instrument.query(Array("*IDN?\n".utf8))
            #expect(text(idn) == "Thorlabs,PM100USB,P2000001,1.7.0\n")   // not the stale power reading
            await instrument.close()
        }
    }

    @Test("a STALL on Bulk-IN is cleared with clear_halt and the device is usable again")
    func stallThenClearHalt() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            emulated.halt(endpoint: 0x81)
            await #expect(throws: TransportError.stalled(resource: "USBTMC 1313:8072 serial P2000001",
                                                         operation: "reading a reply", recovered: true)) {
                _ = try await instrument.query(Array("*IDN?\n".utf8))
            }
            #expect(emulated.stats.clear_halt_bulk_in == 1)
            #expect(!emulated.isHalted(0x81))
            let reply = try await instrument.query(Array("SENS:CORR:WAV?\n".utf8))
            #expect(text(reply) == "1.550000E+03\n")
            await instrument.close()
        }
    }

    @Test("a device unplugged mid-run gives a typed 'device gone' error, also afterwards")
    func deviceGone() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            _ = try await instrument.query(Array("*IDN?\n".utf8))
            emulated.unplug()
            do {
                _ = try await instrument.query(Array("MEAS:POW?\n".utf8))
                Issue.record("expected deviceGone")
            } catch {
                #expect((error as? TransportError)?.isDeviceGone == true)
                #expect("\(error)".contains("reconnect it and open it again"))
            }
            await #expect {
                try await instrument.write(Array("*RST\n".utf8))
            } throws: { error in
                guard case .deviceGone(_, let detail) = error as? TransportError else { return false }
                return detail.hasPrefix("earlier")
            }
            await instrument.close()
        }
    }

    @Test("READ_STATUS_BYTE returns the STB through Interrupt-IN (MAV, EAV)")
    func readStatusByte() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            #expect(try await instrument.readStatusByte() == 0x00)
            try await instrument.write(Array("*IDN?\n".utf8))
            #expect(try await instrument.readStatusByte() == 0x10)       // MAV: a reply is waiting
            _ = try await instrument.read()
            try await instrument.write(Array("NOT:A:COMMAND\n".utf8))
            #expect(try await instrument.readStatusByte() == 0x04)       // EAV: the error queue is not empty
            #expect(emulated.stats.read_status_byte == 3)
            #expect(emulated.stats.interrupt_notifications >= 3)
            await instrument.close()
        }
    }

    @Test("a service request (*OPC with *ESE 1, *SRE 32) arrives on Interrupt-IN")
    func serviceRequest() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let context = try USBContext()
            let instrument = try await open("P2000001", in: context)
            #expect(try await instrument.waitForServiceRequest(timeout: .milliseconds(60)) == nil)
            let session = SCPISession(transport: instrument)
            try await session.clearStatus()
            try await session.write("*ESE 1")
            try await session.write("*SRE 32")
            try await session.write("INIT;*OPC")
            let stb = try #require(try await instrument.waitForServiceRequest(timeout: .milliseconds(200)))
            #expect(stb & 0x60 == 0x60)   // ESB and RQS
            #expect(try await session.eventStatusRegister() & 0x01 == 0x01)
            try await instrument.trigger()
            #expect(emulated.stats.triggers == 1)
            #expect(emulated.device.withModel { $0.triggerCount } == 1)
            await instrument.close()
        }
    }
}
