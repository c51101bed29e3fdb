import Foundation
import Testing
@testable import Sequencer

func scratchDirectory() -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-seq-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

@Suite("Run database")
struct RunDatabaseTests {
    let config = RunConfiguration(benchFile: "Devices/benches/sim.yaml", modelFile: "Models/m.qbm", dataDirectory: "Data/mnist", images: 20, blockImages: 10)

    func block(_ i: Int) -> BlockRecord {
        BlockRecord(blockIndex: i, imagesDone: 10 * (i + 1), correct: 9 * (i + 1), accuracy: 0.9, modes: 3_112_480 * (i + 1), vacuumSlots: 1000,
                    transmittance: 1, transmittanceStandardError: 1e-3, transmittanceLowerBound: 0.995, excessNoise: 2.6e-3,
                    excessNoiseStandardError: 1e-3, excessNoiseUpperBound: 7e-3, weightLeakageBitsPerMode: 0.087,
                    weightLeakageLowerBound: 0, weightLeakageUpperBound: 0.3, dataLeakageBits: 0.0073, decision: "collecting",
                    reason: "not yet", wallSeconds: 1)
    }

    @Test func runLifecycleJournalAndCheckpoints() throws {
        let db = try RunDatabase(directory: scratchDirectory())
        let id = RunDatabase.newRunID()
        try db.createRun(id: id, configuration: config, bench: "sim", benchSnapshot: Data("snap".utf8), calibrationIds: ["a", "b"],
                         modelId: "mnist-x", codeVersion: "0.1.0", arguments: ["qbench", "run"])
        #expect(try db.run(id).status == .running)
        #expect(try db.latestCheckpoint(id) == nil)
        try db.journal(id, kind: .step, step: "preflight")
        try db.journal(id, kind: .step, step: "block 0", block: block(0), checkpoint: Data([1, 2, 3]))
        try db.journal(id, kind: .step, step: "block 1 layer 0")
        let cp = try #require(try db.latestCheckpoint(id))
        #expect(cp.step == "block 0" && cp.data == Data([1, 2, 3]) && cp.sequence == 1)
        try db.journal(id, kind: .safeState, step: "server.laser: ramp-down", detail: "ok")
        #expect(try db.journalEntries(id).map(\.step) == ["preflight", "block 0", "block 1 layer 0", "server.laser: ramp-down"])
        #expect(try db.blocks(id) == [block(0)])
        try db.setStatus(id, .interrupted)
        let r = try db.run(id)
        #expect(r.status == .interrupted && r.finishedAt != nil && r.calibrationIds == ["a", "b"] && r.configuration == config)
        // Reopening the same file sees everything (durable on disk).
        let again = try RunDatabase(directory: db.url.deletingLastPathComponent())
        #expect(try again.journalEntries(id).count == 4)
        #expect(throws: RunDatabase.RecordError.self) { try again.run("nope") }
    }

    @Test func rawSamplesAreStoredAndCounted() throws {
        let db = try RunDatabase(directory: scratchDirectory())
        let id = RunDatabase.newRunID()
        try db.createRun(id: id, configuration: config, bench: "sim", benchSnapshot: nil, calibrationIds: [], modelId: "m", codeVersion: "v", arguments: [])
        try db.saveRawSamples(id, blockIndex: 0, kind: "returned", samples: [1, 2, 3, 4])
        #expect(try db.rawSampleCount(id) == 4)
    }

    @Test func reportIsSelfContainedHTMLWithPlotsAndProvenance() throws {
        let db = try RunDatabase(directory: scratchDirectory())
        let id = RunDatabase.newRunID()
        try db.createRun(id: id, configuration: config, bench: "sim", benchSnapshot: Data("roles: <x>".utf8), calibrationIds: ["sim/server.receiver/1-homodyne"],
                         modelId: "mnist-abc", codeVersion: "0.1.0+abc", arguments: ["qbench", "run", "--images", "20"])
        for i in 0..<2 { try db.journal(id, kind: .step, step: "block \(i)", block: block(i)) }
        let result = RunResult(runId: id, bench: "sim", images: 20, accuracy: 0.9, aborted: false, abortReason: nil, certified: false, blocks: 2,
                               modes: 6_224_960, transmittanceEstimate: 1, excessNoiseEstimate: 2.6e-3, excessNoiseUpperBound: 7e-3,
                               weightLeakageBitsPerMode: 0.087, weightLeakageUpperBoundBitsPerMode: 0.3, dataLeakageBits: 0.0073, seconds: 2)
        try db.setStatus(id, .completed, result: result)
        let html = try RunReport(database: db, runId: id).html
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 4)
        #expect(html.contains("mnist-abc") && html.contains("sim/server.receiver/1-homodyne") && html.contains("0.1.0+abc"))
        #expect(html.contains("roles: &lt;x&gt;"))
        #expect(!html.contains("http://") || html.contains("http://www.w3.org/2000/svg"))
        #expect(try db.run(id).result == result)
    }
}
