import BenchIO
import Testing

/// L0: Bulk-OUT encoders against byte fixtures (USBTMC 1.0 Tables 1, 3, 4; USB488 1.0 Table 2).
@Suite("USBTMC Bulk-OUT headers")
struct BulkOutMessageTests {
    @Test("DEV_DEP_MSG_OUT for *IDN?\\n with bTag 1 (docs/hardware.md §1.9 fixture)")
    func idnFixture() {
        let bytes = USBTMCBulkOut.devDepMsgOut(tag: 1, payload: Array("*IDN?\n".utf8), endOfMessage: true)
        #expect(hexBytes(bytes) == "01 01 FE 00 06 00 00 00 01 00 00 00 2A 49 44 4E 3F 0A 00 00")
    }

    @Test("DEV_DEP_MSG_OUT without EOM, little-endian TransferSize")
    func noEOMAndLittleEndianSize() {
        let payload = [UInt8](repeating: 0x55, count: 0x0102)
        let bytes = USBTMCBulkOut.devDepMsgOut(tag: 0xAB, payload: payload, endOfMessage: false)
        #expect(Array(bytes.prefix(12)) == [0x01, 0xAB, 0x54, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])
        #expect(bytes.count == 12 + 0x0102 + 2)
    }

    @Test("payloads are padded with 0–3 zero bytes to a multiple of 4", arguments: 0...9)
    func padding(length: Int) {
        let payload = [UInt8](repeating: 0xFF, count: length)
        let bytes = USBTMCBulkOut.devDepMsgOut(tag: 7, payload: payload, endOfMessage: true)
        #expect(bytes.count % 4 == 0)
        #expect(bytes.count - 12 - length == (4 - length % 4) % 4)
        #expect(bytes.count - 12 - length == USBTMCBulkOut.paddingLength(for: 12 + length))
        #expect(bytes[(12 + length)...].allSatisfy { $0 == 0 })
    }

    @Test("REQUEST_DEV_DEP_MSG_IN, with and without TermChar")
    func requestDevDepMsgIn() {
        #expect(hexBytes(USBTMCBulkOut.requestDevDepMsgIn(tag: 2, transferSize: 1024))
                == "02 02 FD 00 00 04 00 00 00 00 00 00")
        #expect(hexBytes(USBTMCBulkOut.requestDevDepMsgIn(tag: 255, transferSize: 0x0010_0000, termChar: 0x0A))
                == "02 FF 00 00 00 00 10 00 02 0A 00 00")
    }

    @Test("USB488 TRIGGER is a bare header")
    func trigger() {
        #expect(hexBytes(USBTMCBulkOut.trigger(tag: 9)) == "80 09 F6 00 00 00 00 00 00 00 00 00")
    }

    @Test("a long message is split into transfers with consecutive tags and EOM only on the last")
    func splitting() {
        var tags = BTagGenerator(last: 254)
        let message = Array("0123456789".utf8)
        let transfers = USBTMCBulkOut.transfers(for: message, maxPayload: 4, tags: &tags)
        #expect(transfers.count == 3)
        #expect(transfers.map { $0[1] } == [255, 1, 2])              // bTag wraps 255 → 1
        #expect(transfers.map { $0[8] } == [0, 0, 1])                // EOM
        #expect(transfers.map { Int($0[4]) } == [4, 4, 2])
        #expect(transfers.flatMap { $0[12..<(12 + Int($0[4]))] } == message)
        var single = BTagGenerator()
        #expect(USBTMCBulkOut.transfers(for: [], maxPayload: 4, tags: &single) == [[1, 1, 0xFE, 0, 0, 0, 0, 0, 1, 0, 0, 0]])
    }
}

@Suite("bTag sequences")
struct BTagTests {
    @Test("Bulk-OUT bTags run 1…255 and wrap to 1, never 0")
    func bulkTagsWrap() {
        var tags = BTagGenerator()
        let sequence = (0..<600).map { _ in tags.next() }
        #expect(sequence.first == 1)
        #expect(!sequence.contains(0))
        #expect(Array(sequence[253...256]) == [254, 255, 1, 2])
    }

    @Test("bTagInverse is the one's complement", arguments: [(UInt8(1), UInt8(0xFE)), (0x80, 0x7F), (0xFF, 0x00), (0x5A, 0xA5)])
    func inverse(tag: UInt8, inverse: UInt8) {
        #expect(tag.bTagInverse == inverse)
    }

    @Test("READ_STATUS_BYTE bTags run 2…127 and wrap to 2")
    func statusTagsWrap() {
        var tags = StatusByteTagGenerator()
        let sequence = (0..<300).map { _ in tags.next() }
        #expect(sequence.first == 2)
        #expect(sequence.allSatisfy { (2...127).contains($0) })
        #expect(Array(sequence[124...127]) == [126, 127, 2, 3])
    }
}
