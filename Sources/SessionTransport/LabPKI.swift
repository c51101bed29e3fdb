import Crypto
import Foundation
import SessionProtocol
import SwiftASN1
import X509

/// What a station certificate is for: the TLS role it may play (extended key usage).
public enum StationRole: String, Sendable, CaseIterable, Codable {
    case server, client
}

/// A PKI step that failed, and what to do next.
public struct PKIError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case exists, missing, unreadable, invalid, io }
    public var kind: Kind
    public var message: String
    public var remedy: String
    public init(_ kind: Kind, _ message: String, remedy: String) {
        self.kind = kind
        self.message = message
        self.remedy = remedy
    }
    public var description: String { "\(message) — \(remedy)" }
}

/// A certificate with its private key (P-256), in memory.
public struct StationCredentials: Sendable {
    public var certificate: Certificate
    public var privateKey: P256.Signing.PrivateKey

    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// Loads a certificate and its key from PEM files (as `qbench pki issue` writes them).
    public static func load(certificate certificatePath: String, privateKey keyPath: String) throws(PKIError) -> StationCredentials {
        let certificate = try LabPKI.readCertificate(certificatePath)
        let keyText = try LabPKI.readText(keyPath)
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyText) } catch {
            throw PKIError(.invalid, "\(keyPath) is not a P-256 private key in PEM (\(error))", remedy: "issue the station's key with `qbench pki issue`")
        }
        guard Certificate.PublicKey(key.publicKey) == certificate.publicKey else {
            throw PKIError(.invalid, "the key in \(keyPath) does not belong to the certificate in \(certificatePath)", remedy: "use the key file issued with that certificate")
        }
        return StationCredentials(certificate: certificate, privateKey: key)
    }
}

/// The lab's certificate authority: signs the station certificates that the allow-lists then name.
public struct LabCertificateAuthority: Sendable {
    public var credentials: StationCredentials
    public var certificate: Certificate { credentials.certificate }

    /// A new self-signed P-256 CA, valid from `now` − 5 min for `days` days.
    public static func create(commonName: String = "qbench lab CA", days: Int = 3650, now: Date = Date()) throws(PKIError) -> LabCertificateAuthority {
        let key = P256.Signing.PrivateKey()
        do {
            let name = try DistinguishedName {
                OrganizationName("qbench")
                CommonName(commonName)
            }
            let publicKey = Certificate.PublicKey(key.publicKey)
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
            return LabCertificateAuthority(credentials: StationCredentials(certificate: certificate, privateKey: key))
        } catch {
            throw PKIError(.invalid, "could not build the CA certificate (\(error))", remedy: "report this; the CA name may contain characters X.509 refuses")
        }
    }

    /// Issues a station certificate for `name` and `role`, valid from `notBefore` (default now − 5 min)
    /// for `days` days, with the given subject alternative names (DNS names or IP addresses).
    public func issue(
        name: String, role: StationRole, days: Int = 825, subjectAlternativeNames: [String] = ["localhost", "127.0.0.1"],
        notBefore: Date? = nil, now: Date = Date()
    ) throws(PKIError) -> StationCredentials {
        guard !name.isEmpty, name.utf8.count <= 64 else { throw PKIError(.invalid, "station name must be 1...64 bytes", remedy: "pick a short name such as server-1") }
        guard days > 0 else { throw PKIError(.invalid, "validity of \(days) days", remedy: "give --days ≥ 1") }
        let key = P256.Signing.PrivateKey()
        let start = notBefore ?? now.addingTimeInterval(-300)
        do {
            let subject = try DistinguishedName {
                OrganizationName("qbench")
                OrganizationalUnitName(role.rawValue)
                CommonName(name)
            }
            let publicKey = Certificate.PublicKey(key.publicKey)
            var altNames: [GeneralName] = []
            for san in subjectAlternativeNames where !san.isEmpty {
                if let ip = LabPKI.ipAddressBytes(san) {
                    altNames.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
                } else {
                    altNames.append(.dnsName(san))
                }
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([role == .server ? .serverAuth : .clientAuth])
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: try? self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                if !altNames.isEmpty { SubjectAlternativeNames(altNames) }
            }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: start, notValidAfter: start.addingTimeInterval(Double(days) * 86_400),
                issuer: self.certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(credentials.privateKey)
            )
            return StationCredentials(certificate: certificate, privateKey: key)
        } catch {
            throw PKIError(.invalid, "could not issue the certificate for \(name) (\(error))", remedy: "check the name and the subject alternative names")
        }
    }
}

/// Files of a lab PKI directory and the `qbench pki` operations.
///
///     DIR/ca.pem, DIR/ca-key.pem (0600)         the lab CA (keep ca-key.pem offline after issuing)
///     DIR/NAME.pem, DIR/NAME-key.pem (0600)     a station's certificate and key
public enum LabPKI {
    public static func caCertificatePath(_ dir: String) -> String { (dir as NSString).appendingPathComponent("ca.pem") }
    public static func caKeyPath(_ dir: String) -> String { (dir as NSString).appendingPathComponent("ca-key.pem") }
    public static func certificatePath(_ dir: String, name: String) -> String { (dir as NSString).appendingPathComponent("\(name).pem") }
    public static func keyPath(_ dir: String, name: String) -> String { (dir as NSString).appendingPathComponent("\(name)-key.pem") }

    /// Creates the lab CA in `dir` (refuses to overwrite one).
    @discardableResult
    public static func initialize(directory dir: String, commonName: String = "qbench lab CA", days: Int = 3650) throws(PKIError) -> LabCertificateAuthority {
        let fm = FileManager.default
        if fm.fileExists(atPath: caCertificatePath(dir)) || fm.fileExists(atPath: caKeyPath(dir)) {
            throw PKIError(.exists, "\(dir) already holds a lab CA", remedy: "use another --dir, or move the old CA away deliberately (its stations stop being trusted)")
        }
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw PKIError(.io, "cannot create \(dir) (\(error))", remedy: "check the path and its permissions")
        }
        let ca = try LabCertificateAuthority.create(commonName: commonName, days: days)
        try writeFile(ca.credentials.certificatePEM, to: caCertificatePath(dir), mode: 0o644)
        try writeFile(ca.credentials.privateKeyPEM, to: caKeyPath(dir), mode: 0o600)
        return ca
    }

    /// Loads the lab CA (certificate and key) from `dir`.
    public static func loadAuthority(directory dir: String) throws(PKIError) -> LabCertificateAuthority {
        guard FileManager.default.fileExists(atPath: caCertificatePath(dir)) else {
            throw PKIError(.missing, "no lab CA in \(dir)", remedy: "run `qbench pki init --dir \(dir)` first")
        }
        return LabCertificateAuthority(credentials: try StationCredentials.load(certificate: caCertificatePath(dir), privateKey: caKeyPath(dir)))
    }

    /// Issues NAME's certificate and key into `dir`; returns the paths written.
    @discardableResult
    public static func issue(directory dir: String, name: String, role: StationRole, days: Int = 825,
                             subjectAlternativeNames: [String] = ["localhost", "127.0.0.1"]) throws(PKIError) -> (certificate: String, privateKey: String, credentials: StationCredentials) {
        guard name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]*$", options: .regularExpression) != nil, name != "ca" else {
            throw PKIError(.invalid, "station name '\(name)' is not a plain file name", remedy: "use letters, digits, '.', '_' and '-' (not 'ca')")
        }
        let certPath = certificatePath(dir, name: name), keyPath = keyPath(dir, name: name)
        if FileManager.default.fileExists(atPath: certPath) || FileManager.default.fileExists(atPath: keyPath) {
            throw PKIError(.exists, "\(certPath) or its key already exists", remedy: "pick another --name, or remove the old files deliberately")
        }
        let ca = try loadAuthority(directory: dir)
        let credentials = try ca.issue(name: name, role: role, days: days, subjectAlternativeNames: subjectAlternativeNames)
        try writeFile(credentials.certificatePEM, to: certPath, mode: 0o644)
        try writeFile(credentials.privateKeyPEM, to: keyPath, mode: 0o600)
        return (certPath, keyPath, credentials)
    }

    static func writeFile(_ text: String, to path: String, mode: Int) throws(PKIError) {
        // Created with the final mode, so a key is never readable by others, even briefly.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode_t(mode))
        guard fd >= 0 else { throw PKIError(.io, "cannot create \(path) (errno \(errno))", remedy: "check the directory's permissions; the file must not exist yet") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw PKIError(.io, "cannot write \(path) (errno \(errno))", remedy: "check free disk space") }
            written += n
        }
        _ = fchmod(fd, mode_t(mode))
    }

    static func readText(_ path: String) throws(PKIError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw PKIError(.unreadable, "cannot read \(path)", remedy: "check the path (PEM files from `qbench pki issue`)")
        }
        return text
    }

    /// Reads one PEM certificate.
    public static func readCertificate(_ path: String) throws(PKIError) -> Certificate {
        let text = try readText(path)
        do { return try Certificate(pemEncoded: text) } catch {
            throw PKIError(.invalid, "\(path) is not a PEM certificate (\(error))", remedy: "pass the .pem certificate, not the key")
        }
    }

    /// IPv4 or IPv6 literal → its bytes, else nil.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

extension Certificate {
    /// The certificate's DER bytes.
    public var derBytes: [UInt8] {
        var serializer = DER.Serializer()
        do { try serializer.serialize(self) } catch { return [] }
        return serializer.serializedBytes
    }

    /// SHA-256 of the DER certificate, lower-case hex.
    public var sha256Fingerprint: String { Array(SHA256.hash(data: derBytes)).hexString }

    /// SHA-256 of the public key (the subject public key bits), lower-case hex: survives re-issuing with the same key.
    public var publicKeySHA256: String { Array(SHA256.hash(data: Array(publicKey.subjectPublicKeyInfoBytes))).hexString }

    /// The subject's common name, if any.
    public var commonName: String? {
        for rdn in subject {
            for attribute in rdn where attribute.type == ASN1ObjectIdentifier.RDNAttributeType.commonName {
                return String(describing: attribute.value)
            }
        }
        return nil
    }
}
