import BenchIO
import Testing

/// L0: IEEE 488.2 definite and indefinite length blocks (§7.7.6, §8.7.9, §8.7.10).
@Suite("IEEE 488.2 blocks")
struct IEEEBlockTests {
    @Test("encoding uses the fewest length digits",
          arguments: [(0, "#10"), (4, "#14"), (9, "#19"), (10, "#210"), (1000, "#41000"), (123_456, "#6123456")])
    func encodeHeader(count: Int, header: String) throws {
        let payload = [UInt8](repeating: 0xA5, count: count)
        let encoded = try IEEEBlock.encode(payload)
        #expect(Array(encoded.prefix(header.utf8.count)) == Array(header.utf8))
        #expect(Array(encoded.dropFirst(header.utf8.count)) == payload)
    }

    @Test("more than 999 999 999 bytes cannot be encoded")
    func tooLarge() {
        #expect(throws: IEEEBlockError.tooLarge(1_000_000_000)) {
            _ = try IEEEBlock.encode(repeatElement(UInt8(0), count: 1_000_000_000))
        }
    }

    @Test("decoding returns the payload and what follows it; binary payload may contain NL and #")
    func decode() throws {
        let payload: [UInt8] = [0x0A, 0x23, 0x00, 0xFF, 0x0D]
        let (decoded, rest) = try IEEEBlock.decode(Array("#15".utf8) + payload + [0x0A])
        #expect(decoded == payload)
        #expect(rest == [0x0A])
        #expect(try IEEEBlock.decode(Array(" #10\n".utf8)).payload.isEmpty)   // leading space, empty block
    }

    @Test("a block split at any point decodes the same", arguments: 0...17)
    func splitAnywhere(split: Int) throws {
        let payload = Array("ABCDEFGHIJ".utf8)
        let message = try IEEEBlock.encode(payload) + [0x0A]   // 4 + 10 + 1 = 15 bytes
        let cut = min(split, message.count)
        var decoder = IEEEBlockDecoder()
        let done1 = try decoder.feed(message[..<cut])
        let done2 = try decoder.feed(message[cut...])
        #expect(done2)
        #expect(done1 == (cut >= 14))
        #expect(decoder.payload == payload)
        #expect(decoder.trailing == [0x0A])
    }

    @Test("a block fed one byte at a time, as many tiny transfers")
    func byteByByte() throws {
        let payload = (0..<300).map { UInt8($0 % 256) }
        var decoder = IEEEBlockDecoder()
        for byte in try IEEEBlock.encode(payload) { _ = try decoder.feed([byte]) }
        #expect(decoder.isComplete && decoder.payload == payload && decoder.expectedLength == 300)
    }

    @Test("#0 indefinite blocks end with the message; the final NL is dropped")
    func indefinite() throws {
        var decoder = IEEEBlockDecoder()
        #expect(try decoder.feed(Array("#0".utf8) + [1, 2]) == false)
        #expect(decoder.isIndefinite)
        _ = try decoder.feed([3, 0x0A])
        try decoder.finish()
        #expect(decoder.payload == [1, 2, 3])
    }

    @Test("malformed blocks are reported precisely",
          arguments: [
            (Array("1.5\n".utf8), IEEEBlockError.missingHash(found: UInt8(ascii: "1"))),
            (Array("#A12".utf8), .invalidDigitCount(UInt8(ascii: "A"))),
            (Array("#3 12".utf8), .invalidLengthDigits(" ")),
            (Array("#15abc".utf8), .truncated(expected: 5, received: 3)),
          ])
    func malformed(bytes: [UInt8], expected: IEEEBlockError) {
        #expect(throws: expected) { _ = try IEEEBlock.decode(bytes) }
    }

    @Test("the missing-hash message hints at the data format")
    func hint() {
        #expect(IEEEBlockError.missingHash(found: 0x31).description.contains("FORM"))
    }
}
