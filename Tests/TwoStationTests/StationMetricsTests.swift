import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Sequencer
import Testing

/// `qbench serve --metrics` (docs/live-view.md): after an honest session and a cheating client's,
/// the Prometheus text a scraper reads says what the server's run database says.
@Suite("The server station's Prometheus metrics", .serialized)
struct StationMetricsTests {
    /// `name{label="value"} number` lines of the text format: series → value.
    static func parse(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    static func request(_ url: String, method: String = "GET") async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.timeoutInterval = 5
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func scrape(_ url: String) async throws -> String {
        let (status, text) = try await request(url)
        guard status == 200 else { throw HarnessError("GET \(url) answered \(status): \(text)") }
        return text
    }

    @Test("sessions by outcome, aborts by reason and each client's ledger equal the run database")
    func metricsMatchTheRunDatabase() async throws {
        let stations = try StationProcesses()
        try stations.startServer(images: 500, sessions: 3, extra: ["--metrics", "127.0.0.1:0"])
        defer { stations.server?.terminate() }
        let log = stations.log("server")
        let url = try #require(log.range(of: #"metrics: (http://[0-9.:]+/metrics)"#, options: .regularExpression)
            .map { String(log[$0].dropFirst("metrics: ".count)) }, "no metrics address in the server's log: \(log)")
        // Before any session: every outcome and reason at zero.
        let first = Self.parse(try await Self.scrape(url))
        #expect(first[#"qbench_sessions_total{outcome="certified"}"#] == 0 && first[#"qbench_aborts_total{reason="leakage-budget"}"#] == 0, "\(first)")

        try stations.startClient(log: "client-honest")
        stations.client?.waitUntilExit()
        try stations.startClient(log: "client-greedy", extra: ["--behaviour", "greedy-tap:0.8"])
        stations.client?.waitUntilExit()
        let text = try await Self.scrape(url)
        let m = Self.parse(text)
        print("scraped after an honest and a greedy-tap session:\n" + text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n"))

        let db = try RunDatabase(directory: stations.serverHome, readOnly: true)
        let runs = try db.runs()
        #expect(runs.count == 2, "\(runs.map(\.status))")
        func count(_ outcome: String) -> Double {
            Double(runs.filter { r in
                switch outcome {
                case "aborted": r.status == .aborted
                case "certified": r.status == .completed && r.result?.certified == true
                case "not-certified": r.status == .completed && r.result?.certified != true
                default: r.status.rawValue == outcome
                }
            }.count)
        }
        for outcome in ["certified", "not-certified", "aborted", "interrupted", "failed"] {
            #expect(m[#"qbench_sessions_total{outcome="\#(outcome)"}"#] == count(outcome), "\(outcome): \(text)")
        }
        // The cheating client was aborted by the check, and the metrics say why.
        #expect(count("aborted") == 1)
        #expect(m[#"qbench_aborts_total{reason="leakage-budget"}"#] == 1, "\(text)")
        // Every block the check decided, by decision.
        var blocks: [String: Double] = [:]
        for r in runs { for b in try db.blocks(r.id) { blocks[b.decision, default: 0] += 1 } }
        for (decision, n) in blocks { #expect(m[#"qbench_blocks_total{decision="\#(decision)"}"#] == n, "\(decision): \(text)") }
        // The ledger: the leakage each client holds, as the run database charges it.
        let accounts = try db.accounts()
        #expect(!accounts.isEmpty)
        for a in accounts {
            let shown = try #require(m[#"qbench_client_weight_leakage_bits_per_symbol{client="\#(a.client)"}"#], "\(a.client): \(text)")
            #expect(abs(shown - a.chargeBitsPerSymbol) <= 1e-12 * max(1, a.chargeBitsPerSymbol), "\(shown) vs \(a.chargeBitsPerSymbol)")
            #expect(m[#"qbench_client_images{client="\#(a.client)"}"#] == Double(a.images))
        }
        #expect(m["qbench_session_active"] == 0)
        #expect((m["qbench_signal_modes_per_second"] ?? 0) > 0)
        // Read-only, like the live page.
        #expect(try await Self.request(url, method: "POST").0 == 405)
    }
}
