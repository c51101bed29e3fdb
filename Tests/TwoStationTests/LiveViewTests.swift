import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Sequencer
import Testing

/// The live page (`qbench run --live`, docs/live-view.md) loaded in a real browser (headless
/// Chromium, Debian's `chromium`; scripts/bootstrap.sh installs it) while a twin run goes on: the
/// values the browser renders are the run database's, block for block.
@Suite("The live page in a real browser", .serialized)
struct LiveViewTests {
    static let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static func get(_ url: String) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 5
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// The DOM once it holds the run (a browser that starts slowly on a loaded machine is asked again).
    static func renderedRun(_ url: String, browser: String) throws -> [String: String] {
        var dom: [String: String] = [:]
        for _ in 0..<3 {
            dom = try rendered(url, browser: browser)
            if dom["block"].flatMap(Int.init) != nil { break }
        }
        return dom
    }

    /// The DOM the browser renders: element id → its text.
    static func rendered(_ url: String, browser: String) throws -> [String: String] {
        let r = try QBench.run(URL(fileURLWithPath: browser), ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                                            "--virtual-time-budget=5000", "--dump-dom", url])
        let dom = String(decoding: r.stdout, as: UTF8.self)
        var out: [String: String] = [:]
        let pattern = try NSRegularExpression(pattern: #"id="([a-z-]+)"[^>]*>([^<]*)<"#)
        for m in pattern.matches(in: dom, range: NSRange(dom.startIndex..., in: dom)) {
            if let k = Range(m.range(at: 1), in: dom), let v = Range(m.range(at: 2), in: dom) { out[String(dom[k])] = String(dom[v]) }
        }
        return out
    }

    /// The page's address, as the station prints it on stderr (`live page: URL`), once it has.
    static func liveURL(in log: URL, while process: Process, deadline: ContinuousClock.Instant) async throws -> String? {
        while ContinuousClock.now < deadline, process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: #"live page: (http://[0-9.:]+/)"#, options: .regularExpression) {
                return String(text[r].dropFirst("live page: ".count))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// Waits until the page's state holds block `block` or later.
    static func waitForBlock(_ block: Int, at url: String, while process: Process, deadline: ContinuousClock.Instant) async throws {
        struct State: Decodable { struct Point: Decodable { let block: Int }; let latest: Point? }
        while ContinuousClock.now < deadline, process.isRunning {
            if let (_, data) = try? await get(url + "state.json"),
               let s = try? JSONDecoder().decode(State.self, from: data), let b = s.latest?.block, b >= block { return }
            try await Task.sleep(for: .milliseconds(300))
        }
    }

    @Test("Chromium renders the run's values: each as the run database records it")
    func browserShowsTheRunDatabase() async throws {
        let browser = try #require(Self.browser, "no chromium: run scripts/bootstrap.sh (it installs Debian's chromium)")
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let log = home.appendingPathComponent("run.err")
        let run = try QBench.start(["run", "--images", "10000", "--block-images", "100", "--live", "127.0.0.1:0"],
                                   environment: ["QBENCH_HOME": home.path], stderr: log)
        defer { if run.isRunning { kill(run.processIdentifier, SIGKILL) } }

        // The page's address, then a run with a few blocks behind it.
        let deadline = ContinuousClock.now + .seconds(180)
        let url = try #require(try await Self.liveURL(in: log, while: run, deadline: deadline),
                               "the run never printed its live page: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        try await Self.waitForBlock(2, at: url, while: run, deadline: deadline)
        try #require(run.isRunning, "the run ended before the page could be read: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        let (status, _) = try await Self.get(url + "nothing-here")
        #expect(status == 404)

        let dom = try Self.renderedRun(url + "?once", browser: browser)
        // A block reaches the page after its record is committed: no need to wait for the end.
        kill(run.processIdentifier, SIGTERM)
        run.waitUntilExit()
        let runId = try #require(dom["run-id"], "\(dom)")
        let blockIndex = try #require(dom["block"].flatMap(Int.init), "\(dom)")
        let db = try RunDatabase(directory: home, readOnly: true)
        let record = try #require(try db.blocks(runId).first { $0.blockIndex == blockIndex })
        let g = { (v: Double) in String(format: "%.6g", v) }
        #expect(dom["transmittance"] == g(record.transmittance))
        #expect(dom["excess-noise"] == g(record.excessNoise))
        #expect(dom["excess-noise-upper"] == g(record.excessNoiseUpperBound))
        #expect(dom["weight-leakage"] == g(record.weightLeakageBitsPerMode))
        #expect(dom["weight-leakage-upper"] == g(record.weightLeakageUpperBound))
        #expect(dom["decision"] == record.decision)
        #expect(dom["bench"] == "sim" && dom["station"] == "server" && dom["budget"] == "0.1")
        #expect((dom["images-done"].flatMap(Int.init) ?? -1) >= record.imagesDone)
        #expect(dom["images"] == "10000")
        // The server's page has no accuracy: it never sees a prediction.
        #expect(dom["accuracy"] == nil || dom["accuracy"] == "", "\(dom)")
        // The devices as read between blocks, not as they were before the run (laser off).
        #expect(dom["devices-read"]?.hasPrefix("after block ") == true, "\(dom)")
        #expect(dom["device-server-laser"]?.contains("emission = on") == true, "\(dom["device-server-laser"] ?? "no laser row")")
    }

    @Test("the client's own page shows its accuracy, as its run database records it")
    func clientPageShowsItsAccuracy() async throws {
        let browser = try #require(Self.browser, "no chromium: run scripts/bootstrap.sh (it installs Debian's chromium)")
        let keep = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-client-live-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: keep) }
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.arguments = [QBench.root.appendingPathComponent("scripts/two-stations.sh").path, "--images", "3000",
                            "--client-live", "127.0.0.1:0", "--keep", keep.path]
        script.environment = ProcessInfo.processInfo.environment.merging(["QBENCH": QBench.binary.path]) { $1 }
        script.currentDirectoryURL = QBench.root
        script.standardOutput = FileHandle.nullDevice
        script.standardError = FileHandle.nullDevice
        try script.run()
        defer { if script.isRunning { kill(script.processIdentifier, SIGTERM) } }

        let deadline = ContinuousClock.now + .seconds(240)
        let url = try #require(try await Self.liveURL(in: keep.appendingPathComponent("client.log"), while: script, deadline: deadline),
                               "the client never printed its live page")
        try await Self.waitForBlock(1, at: url, while: script, deadline: deadline)
        try #require(script.isRunning, "the session ended before the client's page could be read")
        let dom = try Self.renderedRun(url + "?once", browser: browser)
        let blockIndex = try #require(dom["block"].flatMap(Int.init), "\(dom)")
        let db = try RunDatabase(directory: keep.appendingPathComponent("client/client"), readOnly: true)
        let runId = try #require(try db.runs().first?.id)
        let record = try #require(try db.blocks(runId).first { $0.blockIndex == blockIndex })
        let accuracy = try #require(record.accuracy)
        #expect(dom["station"] == "client")
        #expect(dom["accuracy"] == String(format: "%.2f %%", 100 * accuracy), "\(dom)")
        #expect(dom["weight-leakage-upper"] == String(format: "%.6g", record.weightLeakageUpperBound))
        // Its own devices only, read between blocks.
        #expect(dom["devices-read"]?.hasPrefix("after block ") == true, "\(dom)")
        #expect(dom.keys.contains { $0.hasPrefix("device-client-") } && !dom.keys.contains { $0.hasPrefix("device-server-") }, "\(dom.keys.sorted())")
        kill(script.processIdentifier, SIGTERM)
        script.waitUntilExit()
    }
}
