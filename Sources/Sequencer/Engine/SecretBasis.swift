import Calibrate
import Crypto
import CryptoExtras
import Foundation
import NumericsKit

/// How a run draws the server's secret X/P basis (PROTOCOL.md §3.5: unknown to the client).
public enum BasisPolicy: Sendable, Equatable {
    /// Production: a fresh 256-bit key per session from the operating system's CSPRNG, expanded
    /// with AES-256 in counter mode; the key is kept only in the server's run records, sealed with the station key.
    case secret
    /// Tests only: a reproducible xoshiro stream. Never reachable from the command line.
    case deterministicForTests(seed: UInt64)
}

/// The secret basis of one session: a key, and per (block, layer) a keystream that the frame's
/// pattern generator consumes bit by bit. The same key and stream id give the same bits, so a
/// resumed session measures exactly the basis it would have measured uninterrupted.
struct SecretBasis: Sendable {
    enum Source: Sendable {
        /// 32 key bytes.
        case key(Data)
        case deterministic(UInt64)
    }
    let source: Source

    /// A new session basis under `policy`.
    static func fresh(_ policy: BasisPolicy) -> SecretBasis {
        switch policy {
        case .secret: SecretBasis(source: .key(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }))
        case let .deterministicForTests(seed): SecretBasis(source: .deterministic(seed))
        }
    }

    /// What the run record keeps: the key sealed with the station key (bound to the run id), or the
    /// test seed in the clear (a test basis is not a secret).
    func sealed(with station: StationKey, runId: String) throws -> SealedBasis {
        switch source {
        case let .key(k): SealedBasis(sealedKey: try station.seal(k, purpose: Self.purpose(runId)), testSeed: nil, keystream: CounterKeystream.name)
        case let .deterministic(seed): SealedBasis(sealedKey: nil, testSeed: seed)
        }
    }

    static func purpose(_ runId: String) -> String { "session basis \(runId)" }

    static func open(_ sealed: SealedBasis, with station: StationKey, runId: String) throws -> SecretBasis {
        if let box = sealed.sealedKey {
            // A key expanded by another generator (an earlier qbench's HMAC-SHA256 stream, recorded
            // without a name) would give the rest of the session another basis and another hidden
            // unit permutation than its first blocks had.
            guard sealed.keystream == CounterKeystream.name else { throw SecretBasisError.otherKeystream(sealed.keystream ?? "HMAC-SHA256 counter mode") }
            let bytes = try station.unseal(box, purpose: purpose(runId))
            guard bytes.count == 32 else { throw StationKeyError.cannotOpen(purpose: purpose(runId)) }
            return SecretBasis(source: .key(bytes))
        }
        if let seed = sealed.testSeed { return SecretBasis(source: .deterministic(seed)) }
        throw StationKeyError.cannotOpen(purpose: purpose(runId))
    }

    func generator(stream: UInt64) -> BasisGenerator {
        switch source {
        case let .key(k): BasisGenerator(kind: .keystream(CounterKeystream(key: SymmetricKey(data: k), stream: stream)))
        case let .deterministic(seed): BasisGenerator(kind: .xoshiro(Xoshiro256(seed: seed, stream: stream)))
        }
    }

    var isTestBasis: Bool { if case .deterministic = source { true } else { false } }
}

/// The basis as the run records keep it.
struct SealedBasis: Sendable, Codable, Equatable {
    var sealedKey: Data?
    var testSeed: UInt64?
    /// The generator that expands the key (`CounterKeystream.name`); nil in records of an earlier
    /// qbench, whose generator was HMAC-SHA256 in counter mode.
    var keystream: String?
}

enum SecretBasisError: Error, CustomStringConvertible, Equatable {
    case otherKeystream(String)
    var description: String {
        switch self {
        case let .otherKeystream(name):
            "its key was expanded by another generator (\(name)) than this qbench's (\(CounterKeystream.name)): finish the session with the qbench that started it, or start a new one"
        }
    }
}

/// Random words for the pattern generator: the secret keystream, or the test stream.
struct BasisGenerator: RandomNumberGenerator {
    enum Kind {
        case keystream(CounterKeystream)
        case xoshiro(Xoshiro256)
    }
    var kind: Kind

    mutating func next() -> UInt64 {
        switch kind {
        case var .keystream(k):
            let w = k.next()
            kind = .keystream(k)
            return w
        case var .xoshiro(x):
            let w = x.next()
            kind = .xoshiro(x)
            return w
        }
    }
}

/// AES-256 in counter mode as a deterministic random bit generator keyed by the session key: block
/// c of stream s is AES-256_K(s ‖ c), the 16-byte counter block holding s then c, both big-endian
/// (the counter that BoringSSL's CTR mode increments as one 128-bit big-endian number, so c never
/// carries into s within 2⁶⁴ blocks); its bytes are read as little-endian 64-bit words. Without the
/// key the bits cannot be predicted (AES as a pseudorandom permutation; a session draws about 10⁷
/// blocks, far below the 2⁶⁴ where a permutation's missing collisions would show); with it (on
/// resume) they are the same. About 27 ns per 32 bytes here, against 735 for the HMAC-SHA256
/// stream it replaced (docs/performance.md, seventh round).
struct CounterKeystream {
    /// What the run record names this generator (`SealedBasis.keystream`).
    static let name = "AES-256-CTR"
    let key: SymmetricKey
    let stream: UInt64
    private var counter: UInt64
    private var words: [UInt64] = []
    private var position = 0
    /// Blocks per refill (16 bytes each): 64 KiB, about one burst's pattern.
    static let blocksPerRefill = 4_096
    private static let zeros = Data(count: 16 * blocksPerRefill)

    init(key: SymmetricKey, stream: UInt64) { self.init(key: key, stream: stream, firstBlock: 0) }

    /// The stream from block `firstBlock` on (tests: a known-answer counter block).
    init(key: SymmetricKey, stream: UInt64, firstBlock: UInt64) { self.key = key; self.stream = stream; counter = firstBlock }

    mutating func next() -> UInt64 {
        if position == words.count { refillWords() }
        defer { position += 1 }
        return words[position]
    }

    /// The counter block of block c: s then c, big-endian.
    static func counterBlock(stream: UInt64, block c: UInt64) -> [UInt8] {
        withUnsafeBytes(of: stream.bigEndian) { Array($0) } + withUnsafeBytes(of: c.bigEndian) { Array($0) }
    }

    private mutating func refillWords() {
        // AES-CTR over zeros is the keystream itself. It cannot fail with a 32-byte key and a
        // 16-byte counter block (the only errors BoringSSL's CTR mode reports); were it to fail all
        // the same, the words come from the operating system's CSPRNG: still secret, only not
        // reproducible on resume.
        let blocks = Self.blocksPerRefill
        words = [UInt64](repeating: 0, count: 2 * blocks)
        if let nonce = try? AES._CTR.Nonce(nonceBytes: Self.counterBlock(stream: stream, block: counter)),
           let bytes = try? AES._CTR.encrypt(Self.zeros, using: key, nonce: nonce), bytes.count == 16 * blocks {
            words.withUnsafeMutableBytes { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
            for w in words.indices { words[w] = UInt64(littleEndian: words[w]) }
        } else {
            var system = SystemRandomNumberGenerator()
            for w in words.indices { words[w] = system.next() }
        }
        counter &+= UInt64(blocks)
        position = 0
    }
}
