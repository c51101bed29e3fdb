import Crypto
import Foundation
import Testing
@testable import Sequencer

@Suite("The secret basis keystream")
struct SecretBasisKeystreamTests {
    /// Block c of stream s is HMAC-SHA256(key, s ‖ c), little-endian, read as four words: the
    /// keystream's words equal MACs computed one by one, across several refills and two streams.
    @Test(arguments: [UInt64(0), 0x0102_0304_0506_0708])
    func wordsAreTheCounterModeMACs(stream: UInt64) {
        let key = SymmetricKey(data: Data((0..<32).map { UInt8($0 * 7 + 1) }))
        var keystream = HMACKeystream(key: key, stream: stream)
        let blocks = 3 * HMACKeystream.blocksPerRefill + 5
        var expected: [UInt64] = []
        for counter in 0..<UInt64(blocks) {
            var message = Data()
            withUnsafeBytes(of: stream.littleEndian) { message.append(contentsOf: $0) }
            withUnsafeBytes(of: counter.littleEndian) { message.append(contentsOf: $0) }
            let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
            mac.withUnsafeBytes { raw in for w in 0..<4 { expected.append(raw.loadUnaligned(fromByteOffset: 8 * w, as: UInt64.self)) } }
        }
        let words = (0..<expected.count).map { _ in keystream.next() }
        #expect(words == expected)
    }
}
