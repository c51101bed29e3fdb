import Foundation
import Crypto

/// The session's transcript: a SHA-256 hash chain over every message, one chain per direction.
///
/// Each direction's messages are strictly ordered (by sequence number); the two directions are not
/// (a pause can cross a verdict on the wire), so each side keeps both chains and the transcript hash
/// at a point names how many messages of each direction it covers. Two honest sides then compute the
/// same hash for the same point whatever the interleaving; a commit carries that point.
///
///     C₀ = SHA-256("qbench-session-transcript-v1" ‖ "client→server")   (likewise S₀)
///     Cᵢ₊₁ = SHA-256(Cᵢ ‖ len(mᵢ) as UInt64 BE ‖ mᵢ)                     mᵢ = the envelope's wire bytes
///     H(a, b) = SHA-256("qbench-session-transcript-v1" ‖ C_a ‖ S_b ‖ a ‖ b)
public struct SessionTranscript: Sendable, Equatable {
    public static let domain = Array("qbench-session-transcript-v1".utf8)

    /// Chain heads after 0, 1, 2, ... client→server messages.
    private var clientChain: [[UInt8]]
    /// Chain heads after 0, 1, 2, ... server→client messages.
    private var serverChain: [[UInt8]]

    public init() {
        clientChain = [Array(SHA256.hash(data: Self.domain + Array("client→server".utf8)))]
        serverChain = [Array(SHA256.hash(data: Self.domain + Array("server→client".utf8)))]
    }

    /// Messages sent by the client so far (as this side has seen them).
    public var clientMessages: UInt64 { UInt64(clientChain.count - 1) }
    /// Messages sent by the server so far (as this side has seen them).
    public var serverMessages: UInt64 { UInt64(serverChain.count - 1) }

    /// Adds one envelope, sent by `sender`.
    public mutating func append(_ envelope: SessionEnvelope, from sender: SessionSide) {
        let bytes = envelope.wireBytes
        var input = sender == .client ? clientChain[clientChain.count - 1] : serverChain[serverChain.count - 1]
        var length = UInt64(bytes.count).bigEndian
        withUnsafeBytes(of: &length) { input.append(contentsOf: $0) }
        input.append(contentsOf: bytes)
        let head = Array(SHA256.hash(data: input))
        if sender == .client { clientChain.append(head) } else { serverChain.append(head) }
    }

    /// The transcript hash covering the first `clientMessages` and `serverMessages` messages, or nil
    /// when this side has not seen that many.
    public func hash(clientMessages a: UInt64, serverMessages b: UInt64) -> [UInt8]? {
        guard a <= clientMessages, b <= serverMessages else { return nil }
        var input = Self.domain + clientChain[Int(a)] + serverChain[Int(b)]
        var ab = (a.bigEndian, b.bigEndian)
        withUnsafeBytes(of: &ab) { input.append(contentsOf: $0) }
        return Array(SHA256.hash(data: input))
    }

    /// The hash over everything this side has seen.
    public var head: [UInt8] { hash(clientMessages: clientMessages, serverMessages: serverMessages) ?? [] }
}

extension Array where Element == UInt8 {
    /// Lower-case hex, for journals and fingerprints.
    public var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
