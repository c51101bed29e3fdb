import BenchIO
import Testing

/// L0: DEV_DEP_MSG_IN parsing (USBTMC 1.0 Table 9), GET_CAPABILITIES (Table 37, USB488 Table 8),
/// the control responses (Tables 19–34, USB488 Table 12) and Interrupt-IN notifications (USB488 Table 7).
@Suite("USBTMC Bulk-IN and control responses")
struct BulkInAndControlTests {
    private func header(tag: UInt8, size: UInt32, attributes: UInt8) -> [UInt8] {
        [2, tag, ~tag, 0, UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24),
         attributes, 0, 0, 0]
    }

    @Test("DEV_DEP_MSG_IN with EOM: payload without alignment bytes")
    func parseComplete() throws {
        let bytes = header(tag: 5, size: 6, attributes: 0x01) + Array("1.234\n".utf8) + [0, 0]
        let transfer = try DevDepMsgIn.parse(bytes, expectedTag: 5, requestedSize: 1024)
        #expect(transfer.header == DevDepMsgInHeader(tag: 5, transferSize: 6, endOfMessage: true))
        #expect(transfer.payload == Array("1.234\n".utf8))
    }

    @Test("EOM clear and TermChar flag")
    func attributes() throws {
        let h = try DevDepMsgInHeader.parse(header(tag: 9, size: 300, attributes: 0x02), expectedTag: 9, requestedSize: 512)
        #expect(!h.endOfMessage && h.endedOnTermChar && h.transferSize == 300)
    }

    @Test("malformed headers are rejected with the reason",
          arguments: [
            ([UInt8](repeating: 0, count: 11), USBTMCCodecError.shortHeader(received: 11)),
            ([1, 5, 0xFA, 0, 0, 0, 0, 0, 1, 0, 0, 0], .unexpectedMessageID(1)),
            ([2, 5, 0xFB, 0, 0, 0, 0, 0, 1, 0, 0, 0], .tagInverseMismatch(tag: 5, inverse: 0xFB)),
            ([2, 6, 0xF9, 0, 0, 0, 0, 0, 1, 0, 0, 0], .tagMismatch(expected: 5, received: 6)),
            ([2, 5, 0xFA, 0, 0x01, 0x02, 0, 0, 1, 0, 0, 0], .transferSizeTooLarge(requested: 256, announced: 0x201)),
          ])
    func rejects(bytes: [UInt8], expected: USBTMCCodecError) {
        #expect(throws: expected) { _ = try DevDepMsgInHeader.parse(bytes, expectedTag: 5, requestedSize: 256) }
        #expect(!expected.description.isEmpty)
    }

    @Test("a transfer shorter than its TransferSize is truncated")
    func truncated() {
        let bytes = header(tag: 1, size: 10, attributes: 1) + [1, 2, 3]
        #expect(throws: USBTMCCodecError.truncatedPayload(announced: 10, received: 3)) {
            _ = try DevDepMsgIn.parse(bytes, expectedTag: 1, requestedSize: 100)
        }
    }

    @Test("GET_CAPABILITIES: USB488 bits come from bytes 14 and 15, not byte 4")
    func capabilities() throws {
        var b = [UInt8](repeating: 0, count: 24)
        b[0] = 0x01; b[2] = 0x00; b[3] = 0x01; b[4] = 0x04; b[5] = 0x01
        b[12] = 0x00; b[13] = 0x01; b[14] = 0x07; b[15] = 0x0F
        let caps = try USBTMCCapabilities(response: b)
        #expect(caps.status == .success && caps.bcdUSBTMC == 0x0100 && caps.bcdUSB488 == 0x0100)
        #expect(caps.acceptsIndicatorPulse && !caps.talkOnly && !caps.listenOnly && caps.supportsTermChar)
        #expect(caps.isUSB4882Interface && caps.acceptsRemoteLocal && caps.acceptsTrigger)
        #expect(caps.understandsSCPI && caps.serviceRequestCapable && caps.remoteLocalCapable && caps.deviceTriggerCapable)
        #expect(caps.usb488Bits == 0xF7)   // the Linux driver's packing: (b[14] & 7) | (b[15] & 0xF) << 4

        var plain = [UInt8](repeating: 0, count: 24)
        plain[0] = 1; plain[4] = 0x07   // talk-only + listen-only + pulse, but no USB488 bits
        let p = try USBTMCCapabilities(response: plain)
        #expect(p.talkOnly && p.listenOnly && !p.acceptsTrigger && !p.understandsSCPI && p.usb488Bits == 0)
        #expect(throws: USBTMCCodecError.shortControlResponse(request: "GET_CAPABILITIES", expected: 24, received: 3)) {
            _ = try USBTMCCapabilities(response: [1, 0, 0])
        }
    }

    @Test("abort, check and clear responses")
    func controlResponses() throws {
        let abort = try USBTMCControlResponse.InitiateAbort(response: [0x80, 7], request: .initiateAbortBulkIn)
        #expect(abort == USBTMCControlResponse.InitiateAbort(status: .failed, tag: 7))
        let checkIn = try USBTMCControlResponse.CheckAbortBulkIn(response: [0x02, 0x01, 0, 0, 0x10, 0x01, 0, 0])
        #expect(checkIn.status == .pending && checkIn.moreDataQueued && checkIn.bytesTransmitted == 0x110)
        let checkOut = try USBTMCControlResponse.CheckAbortBulkOut(response: [0x01, 0, 0, 0, 4, 0, 0, 0])
        #expect(checkOut.status == .success && checkOut.bytesReceived == 4)
        let clear = try USBTMCControlResponse.CheckClear(response: [0x02, 0x01])
        #expect(clear.status == .pending && clear.bulkInDataQueued)
        #expect(try USBTMCControlResponse.status([0x81], request: .initiateClear) == .transferNotInProgress)
        let rsb = try USBTMCControlResponse.ReadStatusByte(response: [1, 5, 0x50], expectedTag: 5)
        #expect(rsb.statusByte == 0x50)
        #expect(throws: USBTMCCodecError.unexpectedControlTag(request: "READ_STATUS_BYTE", expected: 6, received: 5)) {
            _ = try USBTMCControlResponse.ReadStatusByte(response: [1, 5, 0x50], expectedTag: 6)
        }
        #expect(throws: USBTMCCodecError.self) {
            _ = try USBTMCControlResponse.CheckAbortBulkIn(response: [1, 0])
        }
    }

    @Test("status codes print their USBTMC names",
          arguments: [(UInt8(0x01), "SUCCESS"), (0x02, "PENDING"), (0x20, "STATUS_INTERRUPT_IN_BUSY"), (0x80, "FAILED"),
                      (0x81, "TRANSFER_NOT_IN_PROGRESS"), (0x82, "SPLIT_NOT_IN_PROGRESS"), (0x83, "SPLIT_IN_PROGRESS"), (0x42, "0x42")])
    func statusNames(raw: UInt8, name: String) {
        #expect(USBTMCStatus(rawValue: raw).description == name)
    }

    @Test("control request table: bmRequestType and wLength", arguments: USBTMCControlRequest.allCases)
    func requestTable(request: USBTMCControlRequest) {
        let endpointRecipient: Set<USBTMCControlRequest> = [.initiateAbortBulkOut, .checkAbortBulkOutStatus,
                                                            .initiateAbortBulkIn, .checkAbortBulkInStatus]
        #expect(request.requestType == (endpointRecipient.contains(request) ? 0xA2 : 0xA1))
        let lengths: [USBTMCControlRequest: UInt16] = [
            .initiateAbortBulkOut: 2, .checkAbortBulkOutStatus: 8, .initiateAbortBulkIn: 2, .checkAbortBulkInStatus: 8,
            .initiateClear: 1, .checkClearStatus: 2, .getCapabilities: 24, .indicatorPulse: 1, .readStatusByte: 3,
            .renControl: 1, .goToLocal: 1, .localLockout: 1,
        ]
        #expect(request.responseLength == lengths[request])
    }

    @Test("Interrupt-IN notifications: READ_STATUS_BYTE replies, SRQ, vendor specific")
    func notifications() {
        #expect(USB488Notification([0x82, 0x10]) == .statusByte(tag: 2, statusByte: 0x10))
        #expect(USB488Notification([0xFF, 0x04]) == .statusByte(tag: 127, statusByte: 0x04))
        #expect(USB488Notification([0x81, 0x60]) == .serviceRequest(statusByte: 0x60))
        #expect(USB488Notification([0x01, 0x02]) == .vendorSpecific(1, 2))
        #expect(USB488Notification([0x81]) == nil)
    }
}

@Suite("USB resource strings and errors")
struct USBResourceTests {
    @Test("VISA and usbtmc:// resources select VID, PID and serial",
          arguments: [
            ("USB0::0x1313::0x8072::P2000001::INSTR", USBTMCDeviceMatch(vendorID: 0x1313, productID: 0x8072, serialNumber: "P2000001")),
            ("USB0::0x0957::0x2807::MY5700::0::INSTR", USBTMCDeviceMatch(vendorID: 0x0957, productID: 0x2807, serialNumber: "MY5700", interfaceNumber: 0)),
            // T4: decimal ids (int(x, 0) semantics, as pyvisa-py), the interface number honoured.
            ("USB::4883::32847::M00324473::INSTR", USBTMCDeviceMatch(vendorID: 0x1313, productID: 0x804F, serialNumber: "M00324473")),
            ("USB0::4883::0x804F::M01093719::1::INSTR", USBTMCDeviceMatch(vendorID: 0x1313, productID: 0x804F, serialNumber: "M01093719", interfaceNumber: 1)),
            ("USB0::0x0957::0x2C07::MY57801381", USBTMCDeviceMatch(vendorID: 0x0957, productID: 0x2C07, serialNumber: "MY57801381")),
            ("usbtmc://0957:2807?serial=MY1&interface=2", USBTMCDeviceMatch(vendorID: 0x0957, productID: 0x2807, serialNumber: "MY1", interfaceNumber: 2)),
            ("USB0::0x1AB1::0x04CE::INSTR", USBTMCDeviceMatch(vendorID: 0x1AB1, productID: 0x04CE)),
            ("usbtmc://1313:8072?serial=P2000001", USBTMCDeviceMatch(vendorID: 0x1313, productID: 0x8072, serialNumber: "P2000001")),
            ("usbtmc://2a8d:1602", USBTMCDeviceMatch(vendorID: 0x2A8D, productID: 0x1602)),
          ])
    func resources(text: String, expected: USBTMCDeviceMatch) throws {
        #expect(try USBTMCDeviceMatch(resource: text) == expected)
    }

    @Test("T4: the interface number of a resource picks one of a device's USBTMC interfaces")
    func interfaceSelection() throws {
        func info(_ n: UInt8) -> USBTMCDeviceInfo {
            USBTMCDeviceInfo(id: USBDeviceID(vendorID: 0x1313, productID: 0x804F), busNumber: 1, deviceAddress: 2, serialNumber: "M1",
                             manufacturer: nil, product: nil, unreadableReason: nil,
                             interface: USBTMCInterface(number: n, interfaceProtocol: .usb488, bulkOut: USBEndpoint(address: 0x02, maxPacketSize: 64),
                                                        bulkIn: USBEndpoint(address: 0x81, maxPacketSize: 64), interruptIn: nil))
        }
        let match = try USBTMCDeviceMatch(resource: "USB0::4883::32847::M1::1::INSTR")
        #expect(!match.matches(info(0)) && match.matches(info(1)))
    }

    @Test("bad resources are rejected with the accepted forms", arguments: ["GPIB0::5::INSTR", "USB0::xyz::0x8072::INSTR", "usbtmc://1313",
                                                                              "USB0::99999::0x8072::INSTR", "USB0::0x1313::0x8072::S::300::INSTR"])
    func badResources(text: String) {
        #expect {
            _ = try USBTMCDeviceMatch(resource: text)
        } throws: { error in
            "\(error)".contains("USB0::0x1313::0x8072::SERIAL::INSTR")
        }
    }

    @Test("matching ignores unspecified fields")
    func matching() {
        let info = USBTMCDeviceInfo(id: USBDeviceID(vendorID: 0x1313, productID: 0x8078), busNumber: 1, deviceAddress: 4,
                                    serialNumber: "P5", manufacturer: nil, product: nil,
                                    interface: USBTMCInterface(number: 0, interfaceProtocol: .usb488,
                                                               bulkOut: USBEndpoint(address: 2, maxPacketSize: 512),
                                                               bulkIn: USBEndpoint(address: 0x81, maxPacketSize: 512), interruptIn: nil))
        #expect(USBTMCDeviceMatch(vendorID: 0x1313).matches(info))
        #expect(!USBTMCDeviceMatch(vendorID: 0x1313, productID: 0x8072).matches(info))
        #expect(!USBTMCDeviceMatch(serialNumber: "P6").matches(info))
        #expect(info.description == "USBTMC 1313:8078 serial P5")
        #expect(info.visaResource == "USB0::0x1313::0x8078::P5::INSTR")
    }

    @Test("USB errors say what to do next")
    func messages() {
        let timeout = USBError.timeout(device: "USBTMC 1313:8072 serial P2000001", operation: "a Bulk-IN read",
                                       limit: .seconds(2), partial: [])
        #expect("\(timeout)" == "USBTMC 1313:8072 serial P2000001 did not complete a Bulk-IN read within 2 s: is it powered and connected, and is the udev rule installed?")
        #expect("\(USBError.accessDenied(device: "d", operation: "open"))".contains("udev rule"))
        #expect("\(USBError.busy(device: "d", operation: "claim"))".contains("rmmod usbtmc"))
        #expect(Duration.milliseconds(200).benchDescription == "200 ms")
        #expect(Duration.milliseconds(1500).benchDescription == "1.5 s")
        #expect(Duration.microseconds(50).benchDescription == "50 µs")
    }
}
