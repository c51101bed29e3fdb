import Crypto
import Foundation

/// A station's secret key: 256 bits from the operating system's cryptographic generator, kept in
/// one file readable by the station's user only (`$QBENCH_HOME/keys/station.key`, mode 0600).
///
/// It seals what the station must be able to trust later and nobody else may forge or read:
/// calibration records (HMAC-SHA256: an edited η or SNU scale is refused, PROTOCOL.md §5b says why
/// that matters) and the secret X/P basis of a session (AES-GCM, so a resumed session measures the
/// same basis and a reader of the run database learns nothing about it). Derived keys are separated
/// by purpose (HKDF-SHA256), so a MAC key is never an encryption key.
public struct StationKey: Sendable {
    /// The 32 key bytes (SymmetricKey is not Sendable; the bytes are turned into one per use).
    let bytes: Data
    var material: SymmetricKey { SymmetricKey(data: bytes) }

    /// A fresh key from the system's CSPRNG (getrandom on Linux).
    public static func generate() -> StationKey { StationKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }) }

    init(bytes: Data) { self.bytes = bytes }

    /// A short public name of the key (not secret): the first 8 bytes of a hash of it. Records say
    /// which key sealed them, so a record from another station is reported as such.
    public var id: String {
        let digest = material.withUnsafeBytes { SHA256.hash(data: Data("qbench station key id".utf8) + Data($0)) }
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    func derived(_ purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: material, info: Data("qbench \(purpose)".utf8), outputByteCount: 32)
    }

    /// HMAC-SHA256 of `data` under the calibration-sealing key, hex.
    public func authenticationCode(_ data: Data, purpose: String = "calibration seal") -> String {
        Data(HMAC<SHA256>.authenticationCode(for: data, using: derived(purpose))).map { String(format: "%02x", $0) }.joined()
    }

    /// Constant-time check of a hex MAC.
    public func verify(_ data: Data, code: String, purpose: String = "calibration seal") -> Bool {
        guard let mac = Data(hexadecimal: code), mac.count == 32 else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: data, using: derived(purpose))
    }

    /// Encrypts a secret for the station's own records (AES-GCM with a random nonce).
    public func seal(_ secret: Data, purpose: String) throws -> Data {
        guard let combined = try AES.GCM.seal(secret, using: derived(purpose)).combined else {
            throw StationKeyError.crypto("AES-GCM produced no combined box")
        }
        return combined
    }

    /// Decrypts what `seal` produced with this station's key; throws if it was sealed by another
    /// key or altered.
    public func unseal(_ box: Data, purpose: String) throws -> Data {
        do { return try AES.GCM.open(AES.GCM.SealedBox(combined: box), using: derived(purpose)) } catch {
            throw StationKeyError.cannotOpen(purpose: purpose)
        }
    }

    // MARK: the key file

    /// `$QBENCH_HOME/keys/station.key` unless a path is given.
    public static func defaultURL(home: URL) -> URL { home.appendingPathComponent("keys/station.key") }

    /// Loads the station key, creating it (and its folder, mode 0700) on first use.
    public static func loadOrCreate(at url: URL) throws -> StationKey {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) { return try load(at: url) }
        let dir = url.deletingLastPathComponent()
        do {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StationKeyError.unwritable(path: dir.path, reason: "\(error)")
        }
        let key = generate()
        let bytes = key.bytes
        // Create with 0600 and never overwrite: two processes racing both end up with the winner's key.
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd < 0 {
            if errno == EEXIST { return try load(at: url) }
            throw StationKeyError.unwritable(path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw StationKeyError.unwritable(path: url.path, reason: "short write: \(String(cString: strerror(errno)))")
        }
        return key
    }

    public static func load(at url: URL) throws -> StationKey {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StationKeyError.unreadable(path: url.path)
        }
        guard data.count == 32 else { throw StationKeyError.damaged(path: url.path, bytes: data.count) }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
           let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw StationKeyError.exposed(path: url.path, mode: mode)
        }
        return StationKey(bytes: data)
    }
}

public enum StationKeyError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String)
    case unwritable(path: String, reason: String)
    case damaged(path: String, bytes: Int)
    case exposed(path: String, mode: Int)
    case cannotOpen(purpose: String)
    case crypto(String)

    public var description: String {
        switch self {
        case let .unreadable(p): "the station key \(p) cannot be read: check its owner (it must be the user running qbench)"
        case let .unwritable(p, why): "cannot create the station key at \(p) (\(why)): make $QBENCH_HOME writable"
        case let .damaged(p, n): "the station key \(p) holds \(n) bytes, not 32: it is damaged; restore it from the station's backup (records it sealed cannot be verified without it)"
        case let .exposed(p, mode): "the station key \(p) is readable by others (mode \(String(mode, radix: 8))): run `chmod 600 \(p)`; a key others can read cannot vouch for the station's records"
        case let .cannotOpen(purpose): "the \(purpose) was sealed by another station key or altered: it cannot be opened on this station"
        case let .crypto(s): "cryptography failed: \(s)"
        }
    }
}

extension Data {
    /// Bytes from lowercase or uppercase hex; nil on odd length or any other character.
    init?(hexadecimal text: String) {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var k = 0
        while k < chars.count {
            guard let hi = nibble(chars[k]), let lo = nibble(chars[k + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            k += 2
        }
        self.init(bytes)
    }
}
