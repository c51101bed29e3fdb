import Foundation
import Yams

/// A server station's file (`qbench serve --station-file FILE`; format in docs/two-sites.md): the
/// clients it admits and how much of the weights each may take over all its sessions.
///
///     # server-a's station file
///     admit:
///       - client: client-b                     # a name for the records
///         fingerprint: cert-sha256:6707…e538   # `qbench pki fingerprint client-b.pem`
///       - client: client-c
///         fingerprint: key-sha256:…            # survives re-issue with the same key
///     lifetime-budget: 1.0                     # bit per weight symbol per client; absent: unlimited (recorded)
///
/// Everything is checked when the file is read, before any light: a malformed fingerprint, a
/// duplicate, an unknown key or a budget that is not a finite number ≥ 0 is refused with the file
/// and the line.
public struct ServerStationFile: Sendable {
    public struct Admitted: Sendable, Equatable {
        public let client: String
        public let entry: AllowListEntry
        public init(client: String, entry: AllowListEntry) { self.client = client; self.entry = entry }
    }

    public let admitted: [Admitted]
    public let lifetimeBudgetBitsPerSymbol: Double?

    public var allowList: [AllowListEntry] { admitted.map(\.entry) }

    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public let file: String, line: Int, message: String
        public var description: String { "\(file)\(line > 0 ? ":\(line)" : ""): \(message)" }
    }

    public static func load(_ url: URL) throws -> ServerStationFile {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ReadError(file: url.path, line: 0, message: "cannot be read: check that it exists and its permissions")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: url.path)
    }

    public static func parse(_ text: String, file: String) throws -> ServerStationFile {
        func fail(_ message: String, _ node: Node?) -> ReadError {
            ReadError(file: file, line: node.map { $0.mark.map { $0.line } ?? 0 } ?? 0, message: message)
        }
        let root: Node
        do {
            guard let parsed = try Yams.compose(yaml: text) else { throw fail("is empty: give at least 'admit:' with one client", nil) }
            root = parsed
        } catch let e as ReadError { throw e } catch {
            throw ReadError(file: file, line: 0, message: "is not YAML: \(error)")
        }
        guard let map = root.mapping else { throw fail("expected 'admit:' and 'lifetime-budget:' keys", root) }
        for (k, _) in map {
            guard let key = k.string, ["admit", "lifetime-budget"].contains(key) else {
                throw fail("unknown key '\(k.string ?? "?")': a station file has admit and lifetime-budget", k)
            }
        }
        var admitted: [Admitted] = []
        guard let list = map["admit"] else { throw fail("has no 'admit:' list: a server station admits no client without one", root) }
        guard let items = list.sequence, !items.isEmpty else { throw fail("'admit' must be a non-empty list of {client, fingerprint}", list) }
        for item in items {
            guard let m = item.mapping else { throw fail("each admitted client is {client: NAME, fingerprint: cert-sha256:HEX}", item) }
            for (k, _) in m where !["client", "fingerprint"].contains(k.string ?? "") {
                throw fail("unknown key '\(k.string ?? "?")' in an admitted client: it has client and fingerprint", k)
            }
            guard let name = m["client"]?.string, !name.isEmpty else { throw fail("an admitted client needs 'client: NAME'", item) }
            guard let text = m["fingerprint"]?.string, let entry = AllowListEntry(text) else {
                throw fail("client \(name): 'fingerprint' must be cert-sha256:HEX or key-sha256:HEX (64 hex digits; `qbench pki fingerprint CLIENT.pem`)", m["fingerprint"] ?? item)
            }
            if case .commonName = entry {
                throw fail("client \(name): a common name is not a fingerprint (any certificate the CA issues could carry it); give cert-sha256 or key-sha256", m["fingerprint"])
            }
            guard !admitted.contains(where: { $0.entry == entry || $0.client == name }) else {
                throw fail("client \(name) or its fingerprint is listed twice", item)
            }
            admitted.append(Admitted(client: name, entry: entry))
        }
        var budget: Double?
        if let b = map["lifetime-budget"] {
            guard let text = b.string, let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
                throw fail("lifetime-budget must be a finite number ≥ 0 (bit per weight symbol per client)", b)
            }
            budget = v
        }
        return ServerStationFile(admitted: admitted, lifetimeBudgetBitsPerSymbol: budget)
    }
}
