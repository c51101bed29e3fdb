import Foundation
import Sequencer
import Testing

/// The two stations as two programs (docs/two-sites.md): `qbench serve` and `qbench client`, each
/// opening only its half of the simulated bench, joined by the twin's fibre and by gRPC with mutual
/// TLS; through `scripts/two-stations.sh` (also across two network namespaces) and, for the kill -9
/// cases, started here.
@Suite("Two stations as processes", .serialized)
struct TwoStationTests {
    /// An honest session across two processes ends certified (budget 0.2 bit/mode, which 1,000
    /// images reach), each station's report in its own database, and the client's accuracy is the
    /// in-process run's within the spread of two sessions (each draws its own secret basis and pair
    /// permutation, so no two sessions are the same; 4σ of the difference of two binomials).
    @Test func honestSessionAcrossTwoProcessesIsCertifiedLikeTheInProcessRun() throws {
        let pair = try QBench.twoStations(["--images", "1000", "--budget", "0.2"])
        #expect(pair.server.sessionId == pair.client.sessionId)
        #expect(pair.server.decision == "certified" && pair.client.decision == "certified", "\(pair.server.decision) / \(pair.client.decision)")
        #expect(pair.client.images == 1000 && pair.server.images == 1000)
        #expect(pair.server.accuracy == nil, "the server reported an accuracy: it never sees a prediction")
        #expect(pair.server.database != pair.client.database)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-one-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        let one = try QBench.run(QBench.binary, ["run", "--images", "1000", "--budget", "0.2", "--json"], environment: ["QBENCH_HOME": home.path])
        #expect(one.status == 0, "\(one.stderr.suffix(1000))")
        struct Run: Decodable { let accuracy: Double?; let certified: Bool }
        let inProcess = try JSONDecoder().decode(Run.self, from: one.stdout)
        #expect(inProcess.certified)
        let a = try #require(pair.client.accuracy), b = try #require(inProcess.accuracy)
        let p = (a + b) / 2, sigma = (2 * p * (1 - p) / 1000).squareRoot()
        #expect(abs(a - b) <= 4 * sigma + 1e-9, "two processes \(a), one process \(b)")
    }

    /// A client that keeps 80 % of mode 1 (honest is 50 % at G = 2) is aborted by the server's check.
    @Test func greedyTapClientIsAbortedByTheServer() throws {
        let pair = try QBench.twoStations(["--images", "1000", "--client", "greedy-tap:0.8"])
        #expect(pair.server.decision == "abort", "\(pair.server)")
        #expect(pair.client.aborted, "the client was not told of the abort: \(pair.client)")
        #expect(pair.server.images < 1000)
    }

    /// Whether this machine lets us make network namespaces (root, iproute2, the capability): CI does.
    static let canMakeNamespaces: Bool = {
        guard getuid() == 0, let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first(where: FileManager.default.isExecutableFile) else { return false }
        let name = "qb-probe-\(getpid())"
        guard (try? QBench.run(URL(fileURLWithPath: ip), ["netns", "add", name]).status) == 0 else { return false }
        _ = try? QBench.run(URL(fileURLWithPath: ip), ["netns", "del", name])
        return true
    }()

    /// The stations in two network namespaces joined by a veth pair, as on two hosts (needs root).
    @Test(.enabled(if: canMakeNamespaces, "needs root, iproute2 and the right to make network namespaces"))
    func stationsInTwoNetworkNamespaces() throws {
        let pair = try QBench.twoStations(["--images", "300", "--netns"])
        #expect(pair.server.sessionId == pair.client.sessionId)
        #expect(pair.client.images == 300 && pair.server.status == "completed" && pair.client.status == "completed")
    }

    /// kill -9 of the client mid-session: the server notices, puts its instruments in their safe
    /// state within 1 s and records the session as unfinished; `serve --resume` and a new client
    /// process continue it from the last commit to its end.
    @Test func clientKilledMidSessionLeavesTheServerSafeAndTheSessionResumes() throws {
        let stations = try StationProcesses()
        try stations.startServer(images: 600)
        try stations.startClient()
        let runId = try stations.waitForServerBlocks(2)
        let killed = Date()
        StationProcesses.kill9(stations.client)
        stations.server?.waitUntilExit()
        let db = try RunDatabase(directory: stations.serverHome, readOnly: true)
        let journal = try db.journalEntries(runId)
        let safe = try #require(journal.last { $0.kind == .safeState }, "no safe-state entry in the server's journal")
        print("kill -9 of the client: the server's last safe-state step \(String(format: "%.3f", safe.at.timeIntervalSince(killed))) s after it")
        #expect(safe.at.timeIntervalSince(killed) < 1, "the server reached its safe state \(safe.at.timeIntervalSince(killed)) s after the kill")
        let summary = try db.run(runId)
        #expect([.interrupted, .failed].contains(summary.status), "status \(summary.status)")
        let committed = try db.blocks(runId).count
        #expect(committed >= 2 && committed < 6)

        try stations.startServer(images: 600, resume: runId, log: "server-resumed")
        try stations.startClient(log: "client-resumed")
        stations.client?.waitUntilExit()
        stations.server?.waitUntilExit()
        let server = try stations.report("server-resumed"), client = try stations.report("client-resumed")
        #expect(server.sessionId == runId && client.sessionId == runId)
        #expect(server.status == "completed" && client.status == "completed", "\(server.status) / \(client.status): \(stations.log("server-resumed").suffix(600))")
        #expect(client.images == 600)
        #expect(try RunDatabase(directory: stations.serverHome, readOnly: true).blocks(runId).count == 6)
    }

    /// kill -9 of the server mid-session: the client goes safe, says so and records the session as
    /// unfinished.
    @Test func serverKilledMidSessionLeavesTheClientSafe() throws {
        let stations = try StationProcesses()
        try stations.startServer(images: 600)
        try stations.startClient()
        let runId = try stations.waitForServerBlocks(1)
        let killed = Date()
        StationProcesses.kill9(stations.server)
        stations.client?.waitUntilExit()
        print("kill -9 of the server: the client exited \(String(format: "%.3f", Date().timeIntervalSince(killed))) s after it")
        #expect(Date().timeIntervalSince(killed) < 5)
        #expect(stations.client?.terminationStatus != 0)
        #expect(stations.log("client").contains("safe state"), "\(stations.log("client").suffix(600))")
        let client = try stations.report("client")
        #expect(client.sessionId == runId && client.decision == "interrupted", "\(client)")
        let db = try RunDatabase(directory: stations.clientHome.appendingPathComponent("client"), readOnly: true)
        let journal = try db.journalEntries(runId)
        #expect(journal.contains { $0.kind == .safeState })
        #expect([.interrupted, .failed].contains(try db.run(runId).status))
    }
}
