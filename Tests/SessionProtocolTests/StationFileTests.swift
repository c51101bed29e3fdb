import Foundation
import SessionTransport
import Testing

/// The server station's file: its admitted clients and the lifetime budget, checked when read.
@Suite("Server station file")
struct StationFileTests {
    static let cert = "cert-sha256:" + String(repeating: "ab", count: 32)
    static let key = "key-sha256:" + String(repeating: "cd", count: 32)

    @Test func admittedClientsAndLifetimeBudgetAreRead() throws {
        let file = try ServerStationFile.parse("""
            # server-a
            admit:
              - client: client-b
                fingerprint: \(Self.cert)
              - client: client-c
                fingerprint: \(Self.key)
            lifetime-budget: 1.5
            """, file: "station.yaml")
        #expect(file.admitted.map(\.client) == ["client-b", "client-c"])
        #expect(file.allowList.map(\.description) == [Self.cert, Self.key])
        #expect(file.lifetimeBudgetBitsPerSymbol == 1.5)
        let unlimited = try ServerStationFile.parse("admit:\n  - {client: b, fingerprint: \(Self.cert)}\n", file: "s.yaml")
        #expect(unlimited.lifetimeBudgetBitsPerSymbol == nil)
    }

    struct Bad: Sendable, CustomStringConvertible {
        let name: String, text: String, says: String
        var description: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "empty", text: "", says: "empty"),
        Bad(name: "no admit list", text: "lifetime-budget: 1\n", says: "admit"),
        Bad(name: "empty admit list", text: "admit: []\n", says: "non-empty"),
        Bad(name: "unknown key", text: "admit:\n  - {client: b, fingerprint: \(cert)}\nallow-all: true\n", says: "unknown key"),
        Bad(name: "short fingerprint", text: "admit:\n  - {client: b, fingerprint: cert-sha256:abcd}\n", says: "64 hex"),
        Bad(name: "common name", text: "admit:\n  - {client: b, fingerprint: \"cn:client-b\"}\n", says: "common name"),
        Bad(name: "duplicate", text: "admit:\n  - {client: b, fingerprint: \(cert)}\n  - {client: c, fingerprint: \(cert)}\n", says: "twice"),
        Bad(name: "no name", text: "admit:\n  - {fingerprint: \(cert)}\n", says: "client: NAME"),
        Bad(name: "negative budget", text: "admit:\n  - {client: b, fingerprint: \(cert)}\nlifetime-budget: -1\n", says: "≥ 0"),
        Bad(name: "infinite budget", text: "admit:\n  - {client: b, fingerprint: \(cert)}\nlifetime-budget: .inf\n", says: "finite"),
        Bad(name: "NaN budget", text: "admit:\n  - {client: b, fingerprint: \(cert)}\nlifetime-budget: nan\n", says: "finite"),
        Bad(name: "not YAML", text: "admit: [\n", says: "YAML"),
    ]

    @Test(arguments: bad)
    func malformedFilesAreRefusedWithTheReason(_ c: Bad) {
        do {
            _ = try ServerStationFile.parse(c.text, file: "station.yaml")
            Issue.record("\(c.name) was accepted")
        } catch let e as ServerStationFile.ReadError {
            #expect(e.description.contains(c.says), "\(c.name): \(e)")
            #expect(e.file == "station.yaml")
        } catch {
            Issue.record("\(c.name): \(error)")
        }
    }
}
