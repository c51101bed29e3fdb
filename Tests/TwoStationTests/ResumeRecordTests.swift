import Foundation
import Testing

/// `qbench run --resume ID` continues a run as it was recorded (issue 11, "Data loss and unclear
/// state"): options that differ from the record are refused with each difference named, an
/// edited bench file is refused with its first changed line, and a bench file that is gone is
/// replaced by the text the run recorded.
@Suite("qbench run --resume continues from the run's own record", .serialized)
struct ResumeRecordTests {
    struct Listing: Decodable {
        struct Run: Decodable { let id: String; let status: String }
        let runs: [Run]
    }

    static func runs(_ home: URL) throws -> [Listing.Run] {
        let r = try QBench.run(QBench.binary, ["runs", "--json"], environment: ["QBENCH_HOME": home.path])
        return (try? JSONDecoder().decode(Listing.self, from: r.stdout))?.runs ?? []
    }

    static func folder() throws -> (home: URL, bench: URL) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-resume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        let bench = base.appendingPathComponent("bench.yaml")
        try FileManager.default.copyItem(atPath: QBench.simBench, toPath: bench.path)
        return (base.appendingPathComponent("home"), bench)
    }

    @Test("options that differ from the record, and an edited bench file, are refused with the differences named")
    func conflictsAreRefused() throws {
        let (home, bench) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: home.deletingLastPathComponent()) }
        let env = ["QBENCH_HOME": home.path]
        let first = try QBench.run(QBench.binary, ["run", "--bench", bench.path, "--images", "20", "--block-images", "10"], environment: env)
        try #require(first.status == 0, "\(first.stderr.suffix(800))")
        let id = try #require(try Self.runs(home).first?.id)

        let options = try QBench.run(QBench.binary, ["run", "--resume", id, "--gain", "3", "--images", "50", "--data", "/tmp"], environment: env)
        #expect(options.status == 1)
        #expect(options.stderr.contains("--images 50 (the run recorded 20)") && options.stderr.contains("--gain 3.0 (the run recorded 2.0)")
                && options.stderr.contains("--data /tmp"), "\(options.stderr.suffix(800))")

        let text = try String(contentsOf: bench, encoding: .utf8)
        try text.replacingOccurrences(of: "max: 100 mA", with: "max: 150 mA").write(to: bench, atomically: true, encoding: .utf8)
        let edited = try QBench.run(QBench.binary, ["run", "--resume", id], environment: env)
        #expect(edited.status == 1)
        #expect(edited.stderr.contains("changed since run \(id) started") && edited.stderr.contains("150 mA"), "\(edited.stderr.suffix(800))")
    }

    @Test("a run whose bench file is gone resumes on the text it recorded")
    func resumesWithoutItsBenchFile() async throws {
        let (home, bench) = try Self.folder()
        defer { try? FileManager.default.removeItem(at: home.deletingLastPathComponent()) }
        let p = try QBench.start(["run", "--bench", bench.path, "--images", "3000", "--block-images", "10"],
                                 environment: ["QBENCH_HOME": home.path])
        // Stop it (SIGTERM: at its next safe point) once it has run a few blocks.
        let deadline = ContinuousClock.now + .seconds(120)
        var id: String?
        while ContinuousClock.now < deadline, p.isRunning {
            try await Task.sleep(for: .seconds(2))
            if let run = try Self.runs(home).first, run.status == "running" { id = run.id; break }
        }
        try await Task.sleep(for: .seconds(3))
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let runId = try #require(id)
        try #require(try Self.runs(home).first?.status == "interrupted")

        try FileManager.default.removeItem(at: bench)
        let resumed = try QBench.run(QBench.binary, ["run", "--resume", runId], environment: ["QBENCH_HOME": home.path])
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(800))")
        #expect(resumed.stderr.contains("is gone; run \(runId) resumes on the bench text it recorded"), "\(resumed.stderr.suffix(800))")
        #expect(try Self.runs(home).first?.status == "completed")
    }
}
