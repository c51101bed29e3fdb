import Calibrate
import Crypto
import Foundation
import NumericsKit

/// How a run draws the server's secret X/P basis (PROTOCOL.md §3.5: unknown to the client).
public enum BasisPolicy: Sendable, Equatable {
    /// Production: a fresh 256-bit key per session from the operating system's CSPRNG, expanded
    /// with HMAC-SHA256 in counter mode; the key is kept only in the server's run records, sealed with the station key.
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
        case let .key(k): SealedBasis(sealedKey: try station.seal(k, purpose: Self.purpose(runId)), testSeed: nil)
        case let .deterministic(seed): SealedBasis(sealedKey: nil, testSeed: seed)
        }
    }

    static func purpose(_ runId: String) -> String { "session basis \(runId)" }

    static func open(_ sealed: SealedBasis, with station: StationKey, runId: String) throws -> SecretBasis {
        if let box = sealed.sealedKey {
            let bytes = try station.unseal(box, purpose: purpose(runId))
            guard bytes.count == 32 else { throw StationKeyError.cannotOpen(purpose: purpose(runId)) }
            return SecretBasis(source: .key(bytes))
        }
        if let seed = sealed.testSeed { return SecretBasis(source: .deterministic(seed)) }
        throw StationKeyError.cannotOpen(purpose: purpose(runId))
    }

    func generator(stream: UInt64) -> BasisGenerator {
        switch source {
        case let .key(k): BasisGenerator(kind: .keystream(HMACKeystream(key: SymmetricKey(data: k), stream: stream)))
        case let .deterministic(seed): BasisGenerator(kind: .xoshiro(Xoshiro256(seed: seed, stream: stream)))
        }
    }

    var isTestBasis: Bool { if case .deterministic = source { true } else { false } }
}

/// The basis as the run records keep it.
struct SealedBasis: Sendable, Codable, Equatable {
    var sealedKey: Data?
    var testSeed: UInt64?
}

/// Random words for the pattern generator: the secret keystream, or the test stream.
struct BasisGenerator: RandomNumberGenerator {
    enum Kind {
        case keystream(HMACKeystream)
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

/// HMAC-SHA256 in counter mode as a deterministic random bit generator (a PRF keyed by the session
/// key): block c of stream s is HMAC(key, s ‖ c). Without the key the bits cannot be predicted;
/// with it (on resume) they are the same. Nothing here can fail, so nothing traps.
struct HMACKeystream {
    let key: SymmetricKey
    let stream: UInt64
    /// HMAC with the key's inner and outer pads already hashed: each block copies it, so a block
    /// costs the message's compressions only (the same MAC as `HMAC.authenticationCode`).
    private let keyed: HMAC<SHA256>
    private var counter: UInt64 = 0
    private var words: [UInt64] = []
    private var position = 0
    /// HMAC blocks per refill (32 bytes each).
    static let blocksPerRefill = 256

    init(key: SymmetricKey, stream: UInt64) { self.key = key; self.stream = stream; keyed = HMAC<SHA256>(key: key) }

    mutating func next() -> UInt64 {
        if position == words.count { refillWords() }
        defer { position += 1 }
        return words[position]
    }

    private mutating func refillWords() {
        words.removeAll(keepingCapacity: true)
        var message = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: stream.littleEndian) { for k in 0..<8 { message[k] = $0[k] } }
        for _ in 0..<Self.blocksPerRefill {
            withUnsafeBytes(of: counter.littleEndian) { for k in 0..<8 { message[8 + k] = $0[k] } }
            counter &+= 1
            var block = keyed
            block.update(data: message)
            let mac = block.finalize()
            mac.withUnsafeBytes { raw in
                for w in 0..<4 { words.append(raw.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)) }
            }
        }
        position = 0
    }
}
