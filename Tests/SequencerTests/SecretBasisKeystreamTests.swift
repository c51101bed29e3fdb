import Calibrate
import Crypto
import CryptoExtras
import Foundation
import Testing
@testable import Sequencer

@Suite("The secret basis keystream")
struct SecretBasisKeystreamTests {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    /// FIPS-197 appendix C.3 (AES-256): key 00…1f enciphers 00112233445566778899aabbccddeeff to
    /// 8ea2b7ca516745bfeafc49904b496089. With that counter block (stream 0x0011223344556677, block
    /// 0x8899aabbccddeeff, both big-endian) the stream's first two words are that ciphertext read
    /// as little-endian words: the cipher is AES-256 and the counter block is laid out as documented.
    @Test func firstBlockIsTheFIPS197Vector() {
        let key = SymmetricKey(data: Data((0..<32).map { UInt8($0) }))
        var keystream = CounterKeystream(key: key, stream: 0x0011_2233_4455_6677, firstBlock: 0x8899_aabb_ccdd_eeff)
        let cipher = Self.bytes("8ea2b7ca516745bfeafc49904b496089")
        let expected = [0, 8].map { o in cipher[o..<o + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        #expect([keystream.next(), keystream.next()] == expected)
    }

    /// Block c of stream s is AES-256_K(s ‖ c): the stream's words equal the block cipher applied to
    /// each counter block one by one, across refills, for two streams (the second one the hidden
    /// unit permutation's, all ones).
    @Test(arguments: [UInt64(0x0102_0304_0506_0708), .max])
    func wordsAreTheCipheredCounterBlocks(stream: UInt64) throws {
        let key = SymmetricKey(data: Data((0..<32).map { UInt8($0 * 7 + 1) }))
        var keystream = CounterKeystream(key: key, stream: stream)
        let blocks = 2 * CounterKeystream.blocksPerRefill + 5
        var expected: [UInt64] = []
        for c in 0..<UInt64(blocks) {
            var block = CounterKeystream.counterBlock(stream: stream, block: c)
            try AES.permute(&block, key: key)
            for o in [0, 8] { expected.append(block[o..<o + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        }
        let words = (0..<expected.count).map { _ in keystream.next() }
        #expect(words == expected)
    }

    /// Streams of one key differ, and so do keys of one stream (no word of one equals the other's at
    /// the same place in a refill's worth).
    @Test func streamsAndKeysDiffer() {
        let a = SymmetricKey(data: Data(repeating: 1, count: 32)), b = SymmetricKey(data: Data(repeating: 2, count: 32))
        func words(_ key: SymmetricKey, _ stream: UInt64) -> [UInt64] {
            var k = CounterKeystream(key: key, stream: stream)
            return (0..<2 * CounterKeystream.blocksPerRefill).map { _ in k.next() }
        }
        let base = words(a, 5)
        #expect(zip(base, words(a, 6)).allSatisfy { $0 != $1 })
        #expect(zip(base, words(b, 5)).allSatisfy { $0 != $1 })
    }

    /// The run record names the generator; a record of an earlier qbench (no name: its key was
    /// expanded by HMAC-SHA256) is refused with what to do, not resumed with another basis.
    @Test func recordNamesItsGeneratorAndOthersAreRefused() throws {
        let station = StationKey.generate()
        let sealed = try SecretBasis.fresh(.secret).sealed(with: station, runId: "r")
        #expect(sealed.keystream == CounterKeystream.name)
        #expect(throws: Never.self) { try SecretBasis.open(sealed, with: station, runId: "r") }
        var older = sealed
        older.keystream = nil
        #expect(throws: SecretBasisError.otherKeystream("HMAC-SHA256 counter mode")) { try SecretBasis.open(older, with: station, runId: "r") }
        // A test basis carries no key, so no generator to name.
        let test = try SecretBasis.fresh(.deterministicForTests(seed: 3)).sealed(with: station, runId: "r")
        #expect(test.keystream == nil)
        #expect(try SecretBasis.open(test, with: station, runId: "r").isTestBasis)
    }
}
