import Foundation
import Testing

/// A twin in a station's home keeps its simulated time between commands (`TwinTime`,
/// docs/digital-twin.md "Time between commands"). A twin that restarted at time zero in every
/// process replayed the same shot noise, meter noise and drifts in every command, and met the
/// calibration records an earlier command stored with its drifts wound back.
@Suite("the twin keeps its time between commands in one home", .serialized)
struct TwinTimeTests {
    struct Calibrated: Decodable {
        struct Entry: Decodable { let kind: String; let role: String; let values: [String: Value] }
        struct Value: Decodable { let value: Double; let uncertainty: Double }
        let records: [Entry]
    }

    struct Saved: Decodable {
        struct Twin: Decodable { let clock: Double; let shotCounter: UInt64; let acquireCounter: UInt64 }
        let bench: String
        let seed: UInt64
        let site: String
        let twin: Twin
    }

    static func home() throws -> URL {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-twin-time-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        return home
    }

    /// The one saved time of the default bench's one-table twin in `home`.
    static func saved(_ home: URL) throws -> Saved {
        let files = try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("twin").path)
        try #require(files == ["sim-seed-20250801-table.json"], "\(files)")
        return try JSONDecoder().decode(Saved.self, from: Data(contentsOf: home.appendingPathComponent("twin/\(files[0])")))
    }

    /// `qbench calibrate all --json` in `home`: every record's values by kind and name.
    static func calibrateAll(_ home: URL) throws -> [String: Calibrated.Value] {
        let r = try QBench.run(QBench.binary, ["calibrate", "all", "--json"], environment: ["QBENCH_HOME": home.path])
        try #require(r.status == 0, "\(r.stderr.suffix(800))")
        let out = try JSONDecoder().decode(Calibrated.self, from: r.stdout)
        return Dictionary(uniqueKeysWithValues: out.records.flatMap { record in record.values.map { ("\(record.role).\(record.kind).\($0.key)", $0.value) } })
    }

    @Test("a second command continues the first's time: the clock and counters go on from where they were saved, and the light is new")
    func secondCommandContinues() throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(at: home) }
        let first = try Self.calibrateAll(home)
        let afterFirst = try Self.saved(home)
        #expect(afterFirst.bench == "sim" && afterFirst.seed == 20250801 && afterFirst.site == "table")
        try #require(afterFirst.twin.clock > 0 && afterFirst.twin.acquireCounter > 0 && afterFirst.twin.shotCounter > 0, "\(afterFirst.twin)")
        let second = try Self.calibrateAll(home)
        let afterSecond = try Self.saved(home)
        // The same routines from the saved time take the same counts again and about the same
        // simulated time (a settling wait may differ: 0.05 s of 40 s measured), so the second
        // command ends at twice the first's counters and about twice its clock. A twin started
        // at zero ends where the first did.
        let took = afterSecond.twin.clock - afterFirst.twin.clock
        #expect(abs(took - afterFirst.twin.clock) <= 0.01 * afterFirst.twin.clock,
                "clock \(afterFirst.twin.clock) s, then \(afterSecond.twin.clock) s")
        #expect(afterSecond.twin.acquireCounter == 2 * afterFirst.twin.acquireCounter)
        #expect(afterSecond.twin.shotCounter == 2 * afterFirst.twin.shotCounter)
        // New light: noise and drifts go on instead of replaying, so no value that carries noise
        // comes out as it did (a twin started at zero measures every value again bit for bit).
        try #require(first.keys.sorted() == second.keys.sorted() && !first.isEmpty)
        let noisy = first.keys.filter { first[$0]!.uncertainty > 0 }.sorted()
        try #require(noisy.count >= 10, "\(noisy)")
        let replayed = noisy.filter { first[$0]!.value == second[$0]!.value }
        #expect(replayed.isEmpty, "measured again bit for bit: \(replayed)")
    }

    @Test("records stored before the twin's time was lost are not used: the twin is calibrated again")
    func lostTimeRecalibrates() throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(at: home) }
        let env = ["QBENCH_HOME": home.path]
        let first = try QBench.run(QBench.binary, ["run", "--images", "2"], environment: env)
        try #require(first.status == 0, "\(first.stderr.suffix(800))")
        #expect(first.stderr.contains("calibrating the twin"), "\(first.stderr.suffix(800))")
        let again = try QBench.run(QBench.binary, ["run", "--images", "2"], environment: env)
        try #require(again.status == 0, "\(again.stderr.suffix(800))")
        #expect(!again.stderr.contains("calibrating the twin"), "the continued twin has active records: \(again.stderr.suffix(800))")
        try FileManager.default.removeItem(at: home.appendingPathComponent("twin"))
        let lost = try QBench.run(QBench.binary, ["run", "--images", "2"], environment: env)
        try #require(lost.status == 0, "\(lost.stderr.suffix(800))")
        #expect(lost.stderr.contains("calibrating the twin") && lost.stderr.contains("its time starts at zero"), "\(lost.stderr.suffix(800))")
        #expect(try Self.saved(home).twin.clock > 0)
    }

    static let damaged: [(name: String, text: String, says: String)] = [
        ("not JSON", "garbage", "not a saved twin time"),
        ("a clock that is no time", #"{"bench":"sim","seed":20250801,"site":"table","savedAt":"2026-11-30T00:00:00Z","twin":{"clock":-1,"shotCounter":0,"acquireCounter":0,"meterRandom":{"s0":1,"s1":2,"s2":3,"s3":4}}}"#, "not a simulated time"),
        ("counters beyond the twin's", #"{"bench":"sim","seed":20250801,"site":"table","savedAt":"2026-11-30T00:00:00Z","twin":{"clock":1,"shotCounter":18446744073709551615,"acquireCounter":0,"meterRandom":{"s0":1,"s1":2,"s2":3,"s3":4}}}"#, "beyond the"),
        ("another twin's time", #"{"bench":"sim","seed":7,"site":"table","savedAt":"2026-11-30T00:00:00Z","twin":{"clock":1,"shotCounter":0,"acquireCounter":0,"meterRandom":{"s0":1,"s1":2,"s2":3,"s3":4}}}"#, "seed 7"),
    ]

    @Test("a damaged saved time is refused, saying what to do, before any light", arguments: damaged)
    func damagedIsRefused(_ c: (name: String, text: String, says: String)) throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(at: home) }
        try FileManager.default.createDirectory(at: home.appendingPathComponent("twin"), withIntermediateDirectories: true)
        let file = home.appendingPathComponent("twin/sim-seed-20250801-table.json")
        try Data(c.text.utf8).write(to: file)
        let r = try QBench.run(QBench.binary, ["run", "--images", "2"], environment: ["QBENCH_HOME": home.path])
        #expect(r.status == 1, "\(c.name): \(r.status) \(r.stderr.suffix(800))")
        #expect(r.stderr.contains("delete it to start the twin at time zero") && r.stderr.contains(c.says), "\(c.name): \(r.stderr.suffix(800))")
        // Refused, not overwritten: the file is the user's evidence.
        #expect(try Data(contentsOf: file) == Data(c.text.utf8))
    }
}
