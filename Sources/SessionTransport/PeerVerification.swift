import Crypto
import Foundation
import NIOCore
import NIOSSL
import SessionProtocol
import SwiftASN1
import X509

/// One allow-list entry: a station certificate is admitted when any entry matches it (and it chains to the lab CA).
///
/// Text form (what `qbench pki fingerprint` prints and a station's configuration lists):
/// `cert-sha256:<hex>` (the DER certificate), `key-sha256:<hex>` (its public key; survives re-issue with
/// the same key) or `cn:<common name>`.
public enum AllowListEntry: Sendable, Hashable, CustomStringConvertible {
    case certificateSHA256(String)
    case publicKeySHA256(String)
    case commonName(String)

    /// Parses the text form; nil (with nothing trapped) for anything else.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func hex(_ s: Substring) -> String? {
            let h = s.lowercased()
            return h.count == 64 && h.allSatisfy(\.isHexDigit) ? h : nil
        }
        if trimmed.hasPrefix("cert-sha256:"), let h = hex(trimmed.dropFirst(12)) { self = .certificateSHA256(h) }
        else if trimmed.hasPrefix("key-sha256:"), let h = hex(trimmed.dropFirst(11)) { self = .publicKeySHA256(h) }
        else if trimmed.hasPrefix("cn:"), trimmed.count > 3 { self = .commonName(String(trimmed.dropFirst(3))) }
        else { return nil }
    }

    public var description: String {
        switch self {
        case let .certificateSHA256(h): "cert-sha256:\(h)"
        case let .publicKeySHA256(h): "key-sha256:\(h)"
        case let .commonName(n): "cn:\(n)"
        }
    }

    public func matches(_ certificate: Certificate) -> Bool {
        switch self {
        case let .certificateSHA256(h): certificate.sha256Fingerprint == h
        case let .publicKeySHA256(h): certificate.publicKeySHA256 == h
        case let .commonName(n): certificate.commonName == n
        }
    }

    /// The entries that name `certificate` (for `qbench pki fingerprint`).
    public static func entries(for certificate: Certificate) -> [AllowListEntry] {
        var list: [AllowListEntry] = [.certificateSHA256(certificate.sha256Fingerprint), .publicKeySHA256(certificate.publicKeySHA256)]
        if let cn = certificate.commonName { list.append(.commonName(cn)) }
        return list
    }
}

/// Who is on the other end, as established by the TLS handshake (what the server records per session).
public struct PeerIdentity: Sendable, Equatable, CustomStringConvertible {
    /// False only on an explicitly allowed plaintext loopback connection.
    public var authenticated: Bool
    public var commonName: String?
    public var subject: String?
    public var certificateSHA256: String?
    public var publicKeySHA256: String?
    /// The transport's view of the peer's address ("ipv4:127.0.0.1:53412").
    public var remoteAddress: String

    public init(certificate: Certificate?, remoteAddress: String) {
        authenticated = certificate != nil
        commonName = certificate?.commonName
        subject = certificate.map { String(describing: $0.subject) }
        certificateSHA256 = certificate?.sha256Fingerprint
        publicKeySHA256 = certificate?.publicKeySHA256
        self.remoteAddress = remoteAddress
    }

    public var description: String {
        authenticated ? "\(commonName ?? "?") (cert-sha256:\(certificateSHA256 ?? "?"), \(remoteAddress))" : "unauthenticated plaintext peer at \(remoteAddress)"
    }
}

/// Why a peer's certificate was refused during the handshake.
public struct PeerRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case noCertificate, malformedCertificate, expired, notYetValid, untrustedIssuer, wrongRole, notOnAllowList
    }
    public var reason: Reason
    public var subject: String?
    public var certificateSHA256: String?
    public var message: String

    public var remedy: String {
        switch reason {
        case .noCertificate: "configure the peer station with its certificate and key (qbench pki issue)"
        case .malformedCertificate: "re-issue the peer's certificate with `qbench pki issue`"
        case .expired: "re-issue the peer's certificate (qbench pki issue --days N) and check both clocks"
        case .notYetValid: "check the clocks of both stations, or wait until the certificate's start"
        case .untrustedIssuer: "issue the peer's certificate from this lab's CA (qbench pki issue --dir <lab CA dir>)"
        case .wrongRole: "issue the peer's certificate with the right --role"
        case .notOnAllowList: "add the peer's `qbench pki fingerprint` entry to this station's allow-list if it is expected"
        }
    }

    public var description: String { "\(message) — \(remedy)" }
}

/// Checks a peer's certificate chain: issued by one of `trustRoots`, within its validity period now,
/// for `role`, and (when `allowList` is given) named by one of its entries.
public struct PeerVerifier: Sendable {
    public var trustRoots: [Certificate]
    public var role: StationRole
    public var allowList: [AllowListEntry]?

    public init(trustRoots: [Certificate], role: StationRole, allowList: [AllowListEntry]?) {
        self.trustRoots = trustRoots
        self.role = role
        self.allowList = allowList
    }

    /// The validated chain (leaf first) or why it is refused.
    public func verify(_ chain: [Certificate], now: Date = Date()) async -> Result<[Certificate], PeerRefusal> {
        guard let leaf = chain.first else {
            return .failure(PeerRefusal(reason: .noCertificate, subject: nil, certificateSHA256: nil, message: "the peer presented no certificate"))
        }
        func refusal(_ reason: PeerRefusal.Reason, _ message: String) -> Result<[Certificate], PeerRefusal> {
            .failure(PeerRefusal(reason: reason, subject: String(describing: leaf.subject), certificateSHA256: leaf.sha256Fingerprint, message: message))
        }
        if now < leaf.notValidBefore { return refusal(.notYetValid, "certificate of \(leaf.subject) is valid only from \(leaf.notValidBefore)") }
        if now > leaf.notValidAfter { return refusal(.expired, "certificate of \(leaf.subject) expired on \(leaf.notValidAfter)") }
        var verifier = Verifier(rootCertificates: CertificateStore(trustRoots)) { RFC5280Policy() }
        let validated: [Certificate]
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst())) {
        case let .validCertificate(c): validated = Array(c)
        case let .couldNotValidate(failures):
            let why = failures.map { String(describing: $0.policyFailureReason) }.joined(separator: "; ")
            return refusal(.untrustedIssuer, "certificate of \(leaf.subject) (issuer \(leaf.issuer)) does not chain to the lab CA\(why.isEmpty ? "" : ": \(why)")")
        }
        let wanted: ExtendedKeyUsage.Usage = role == .server ? .serverAuth : .clientAuth
        guard let eku = try? leaf.extensions.extendedKeyUsage, eku.contains(wanted) else {
            return refusal(.wrongRole, "certificate of \(leaf.subject) is not a \(role) station certificate")
        }
        if let allowList, !allowList.contains(where: { $0.matches(leaf) }) {
            return refusal(.notOnAllowList, "certificate of \(leaf.subject) (cert-sha256:\(leaf.sha256Fingerprint)) is not on the allow-list")
        }
        return .success(validated)
    }

    /// The NIOSSL custom verification callback built on `verify`; refusals go to `onRefusal`.
    func nioCallback(onRefusal: @escaping @Sendable (PeerRefusal) -> Void)
        -> @Sendable ([NIOSSLCertificate], NIOCore.EventLoopPromise<NIOSSLVerificationResultWithMetadata>) -> Void
    {
        let verifier = self
        return { certificates, promise in
            promise.completeWithTask {
                var chain: [Certificate] = []
                for c in certificates {
                    guard let der = try? c.toDERBytes(), let cert = try? Certificate(derEncoded: der) else {
                        onRefusal(PeerRefusal(reason: .malformedCertificate, subject: nil, certificateSHA256: nil, message: "the peer's certificate could not be parsed"))
                        return .failed
                    }
                    chain.append(cert)
                }
                switch await verifier.verify(chain) {
                case let .success(validated):
                    let nio = validated.compactMap { try? NIOSSLCertificate(bytes: $0.derBytes, format: .der) }
                    guard !nio.isEmpty else { return .failed }
                    return .certificateVerified(VerificationMetadata(NIOSSL.ValidatedCertificateChain(nio)))
                case let .failure(refusal):
                    onRefusal(refusal)
                    return .failed
                }
            }
        }
    }
}
