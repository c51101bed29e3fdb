import BenchKit
import BenchSim
import Calibrate
import Foundation
import SecureInference
import Testing
@testable import Sequencer

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let simBench = repositoryRoot.appendingPathComponent("Devices/benches/sim.yaml")

/// One calibration of the default twin per test process, shared by the runs (the twin's hidden
/// constants depend only on the bench file's seed, so every fresh twin of it is the same bench).
actor TwinFixture {
    static let shared = TwinFixture()
    private var store: CalibrationStore?
    let model: ModelFile
    let testSet: MNISTSet

    init() {
        model = try! ModelFile.read(from: repositoryRoot.appendingPathComponent("Models/mnist-784-784-10.qbm"))
        testSet = try! MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 400)
    }

    func calibratedStore() async throws -> CalibrationStore {
        if let store { return store }
        let s = CalibrationStore(root: scratchDirectory().appendingPathComponent("Calibration"), key: .generate())
        var settings = CalibrationSettings()
        settings.referenceShots = 64
        let bench = try await SimulatedBench.open(simBench)
        _ = try await CalibrationRunner.all(CalibrationContext(bench: bench, store: s, settings: settings, codeVersion: "test"))
        store = s
        return s
    }
}

/// Requests a stop after a given block, and can trip the twin's interlock on the first progress
/// report or act on a journaled step (the client's steps arrive as "client: …").
final class TestObserver: RunObserver, @unchecked Sendable {
    let stop: StopRequest
    let stopAfterBlock: Int?
    let onFirstProgress: (@Sendable () -> Void)?
    let onStep: (@Sendable (String) -> Void)?
    private let lock = NSLock()
    private var progressed = false
    init(stop: StopRequest, stopAfterBlock: Int? = nil, onFirstProgress: (@Sendable () -> Void)? = nil, onStep: (@Sendable (String) -> Void)? = nil) {
        self.stop = stop; self.stopAfterBlock = stopAfterBlock; self.onFirstProgress = onFirstProgress; self.onStep = onStep
    }
    func step(_ text: String) { onStep?(text) }
    func block(_ record: BlockRecord) { if record.blockIndex == stopAfterBlock { stop.request("test stop") } }
    func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?) {
        lock.lock(); let first = !progressed; progressed = true; lock.unlock()
        if first { onFirstProgress?() }
    }
}

struct Harness {
    let bench: Bench
    let engine: SimulationEngine
    let env: RunEnvironment
    /// The server station's and the client station's run databases.
    let db: RunDatabase
    let clientDb: RunDatabase

    static func make(store: CalibrationStore? = nil, db: RunDatabase? = nil, clientDb: RunDatabase? = nil, stopAfterBlock: Int? = nil,
                     basis: BasisPolicy = .deterministicForTests(seed: 3), benchFile: URL = simBench, chunkShots: Int = 8,
                     onFirstProgress: (@Sendable (SimulationEngine) -> Void)? = nil,
                     onStep: (@Sendable (SimulationEngine, String) -> Void)? = nil) async throws -> Harness {
        let bench = try await SimulatedBench.open(benchFile)
        let engine = try await SimulatedBench.engine(of: bench)
        let database = try db ?? RunDatabase(directory: scratchDirectory())
        let clientDatabase = try clientDb ?? RunDatabase(directory: scratchDirectory().appendingPathComponent("client"))
        let stop = StopRequest()
        var hook: (@Sendable () -> Void)?
        if let onFirstProgress { hook = { onFirstProgress(engine) } }
        var stepHook: (@Sendable (String) -> Void)?
        if let onStep { stepHook = { text in onStep(engine, text) } }
        let observer = TestObserver(stop: stop, stopAfterBlock: stopAfterBlock, onFirstProgress: hook, onStep: stepHook)
        let calibration: CalibrationStore
        if let store { calibration = store } else { calibration = try await TwinFixture.shared.calibratedStore() }
        var env = RunEnvironment(bench: bench, store: calibration, database: database, clientDatabase: clientDatabase,
                                 codeVersion: "test", arguments: ["test"], stop: stop, observer: observer)
        env.interlockTimeout = .seconds(5)
        env.reconnectTimeout = .seconds(5)
        env.basis = basis
        env.chunkShots = chunkShots
        return Harness(bench: bench, engine: engine, env: env, db: database, clientDb: clientDatabase)
    }
}

func configuration(images: Int, block: Int, client: String = "honest") -> RunConfiguration {
    RunConfiguration(benchFile: simBench.path, modelFile: "Models/mnist-784-784-10.qbm", dataDirectory: "Data/mnist",
                     images: images, blockImages: block, client: client)
}

@Suite("Protocol runs on the twin", .serialized)
struct ProtocolRunTests {
    @Test func honestRunIsRecordedJournaledAndLeftSafe() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        let r = try await ProtocolRun.start(configuration(images: 40, block: 20), model: f.model, testSet: f.testSet, env: h.env)
        #expect(r.images == 40 && r.blocks == 2)
        #expect((r.accuracy ?? 0) >= 0.85)
        #expect(!r.aborted && r.abortReason == nil)
        #expect(r.modes == 40 * 311_248)
        #expect(abs(r.transmittanceEstimate - 1) < 0.01)
        #expect(abs(r.excessNoiseEstimate - 1.0 / 392) < 0.01)
        let summary = try h.db.run(r.runId)
        // The server's record: its five calibration records, its result without the accuracy.
        var serverView = r
        serverView.accuracy = nil
        #expect(summary.status == .completed && summary.calibrationIds.count == 5 && summary.result == serverView)
        #expect(try h.db.blocks(r.runId).allSatisfy { $0.accuracy == nil && $0.correct == nil })
        // The client's record: its accuracy, its two calibration records, the verdicts it received.
        let client = try h.clientDb.run(r.runId)
        #expect(client.status == .completed && client.calibrationIds.count == 2 && client.result?.accuracy == r.accuracy)
        #expect(client.result?.excessNoiseEstimate == r.excessNoiseEstimate && client.result?.images == 40)
        #expect(try h.clientDb.blocks(r.runId).map(\.decision) == h.db.blocks(r.runId).map(\.decision))
        let clientSteps = try h.clientDb.journalEntries(r.runId).map(\.step)
        #expect(clientSteps.contains("client.processor: safe") && !clientSteps.contains("server.laser: ramp-down"))
        let steps = try h.db.journalEntries(r.runId).map(\.step)
        #expect(Array(steps.prefix(3)) == ["preflight", "block 0 layer 0", "block 0 layer 1"] || steps.contains("warm-up"))
        #expect(steps.contains("preflight") && steps.contains("warm-up") && steps.contains("block 1 (images 20…39)"))
        #expect(steps.contains("server.laser: ramp-down") && steps.last == "finish")
        #expect(try h.db.blocks(r.runId).count == 2)
        #expect(try await h.bench.laser().isEmitting() == false)
        #expect(try await h.bench.shutter().isOpen() == false)
        #expect(try h.db.benchSnapshot(r.runId) != nil)
    }

    @Test func rawSamplesAreKeptWithinTheirBound() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        var c = configuration(images: 20, block: 10)
        c.keepRawSamples = true
        c.rawSampleLimit = 1_000_000
        let r = try await ProtocolRun.start(c, model: f.model, testSet: f.testSet, env: h.env)
        #expect(try h.db.rawSampleCount(r.runId) == 1_000_000)
        let plain = try await ProtocolRun.start(configuration(images: 10, block: 10), model: f.model, testSet: f.testSet, env: try await Harness.make(db: h.db).env)
        #expect(try h.db.rawSampleCount(plain.runId) == 0)
    }

    /// Each cheating client is stopped by the server's check, with the block and the reason.
    @Test(arguments: [("intercept-resend", 20), ("greedy-tap:1", 20), ("over-amplify:10", 400)])
    func cheatingClientsAreAborted(client: String, images: Int) async throws {
        let h = try await Harness.make()
        try h.engine.setClientBehaviour(try #require(ClientBehaviour(argument: client)))
        let f = TwinFixture.shared
        let r = try await ProtocolRun.start(configuration(images: images, block: 20, client: client), model: f.model, testSet: f.testSet, env: h.env)
        #expect(r.aborted, "\(client) was not aborted: ε̂ = \(r.excessNoiseEstimate), I_w = \(r.weightLeakageBitsPerMode)")
        #expect(r.abortReason?.contains("exceeds the budget") == true)
        #expect(try h.db.run(r.runId).status == .aborted)
        #expect(try h.db.journalEntries(r.runId).contains { $0.kind == .decision && $0.step == "abort" })
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// Stopped after block 1 and resumed on a fresh twin: the same numbers as without the stop.
    @Test func resumedRunEqualsUninterruptedRun() async throws {
        let f = TwinFixture.shared
        let whole = try await ProtocolRun.start(configuration(images: 60, block: 20), model: f.model, testSet: f.testSet, env: try await Harness.make().env)
        let db = try RunDatabase(directory: scratchDirectory())
        let clientDb = try RunDatabase(directory: scratchDirectory())
        let first = try await Harness.make(db: db, clientDb: clientDb, stopAfterBlock: 1)
        var runId = ""
        do {
            _ = try await ProtocolRun.start(configuration(images: 60, block: 20), model: f.model, testSet: f.testSet, env: first.env)
            Issue.record("the stop was not honoured")
        } catch let failure as RunFailure {
            #expect(failure.status == .interrupted)
            runId = failure.runId
        }
        #expect(try db.run(runId).status == .interrupted)
        #expect(try await first.bench.laser().isEmitting() == false)
        #expect(try clientDb.run(runId).status == .interrupted)
        let second = try await Harness.make(db: db, clientDb: clientDb)
        let resumed = try await ProtocolRun.resume(runId: runId, model: f.model, testSet: f.testSet, env: second.env)
        #expect(resumed.images == 60 && resumed.blocks == 3)
        #expect(resumed.accuracy == whole.accuracy)
        #expect(resumed.modes == whole.modes)
        #expect(resumed.transmittanceEstimate == whole.transmittanceEstimate)
        #expect(resumed.excessNoiseEstimate == whole.excessNoiseEstimate)
        #expect(resumed.weightLeakageUpperBoundBitsPerMode == whole.weightLeakageUpperBoundBitsPerMode)
        let journal = try db.journalEntries(runId)
        #expect(journal.contains { $0.step == "resume" })
        #expect(journal.filter { $0.kind == .safeState && $0.step == "server.laser: ramp-down" }.count >= 3)
    }

    /// The twin's physics on 1 or 2 threads, the same session: the same numbers to the last digit
    /// (every random stream is keyed by shot and work unit, never by thread).
    @Test func resultsDoNotDependOnTheThreadCount() async throws {
        let f = TwinFixture.shared
        var results: [RunResult] = []
        for threads in [1, 2] {
            let h = try await Harness.make()
            h.engine.setWorkerThreads(threads)
            results.append(try await ProtocolRun.start(configuration(images: 20, block: 10), model: f.model, testSet: f.testSet, env: h.env))
        }
        #expect(results[0].excessNoiseEstimate == results[1].excessNoiseEstimate)
        #expect(results[0].transmittanceEstimate == results[1].transmittanceEstimate)
        #expect(results[0].accuracy == results[1].accuracy && results[0].modes == results[1].modes)
    }

    @Test func missingCalibrationStopsTheRunBeforeAnyLight() async throws {
        let empty = CalibrationStore(root: scratchDirectory(), key: .generate())
        let h = try await Harness.make(store: empty)
        let f = TwinFixture.shared
        do {
            _ = try await ProtocolRun.start(configuration(images: 20, block: 20), model: f.model, testSet: f.testSet, env: h.env)
            Issue.record("ran without calibration")
        } catch let failure as RunFailure {
            #expect("\(failure)".contains("qbench calibrate"))
            #expect(failure.status == .failed)
            let steps = try h.db.journalEntries(failure.runId).map(\.step)
            #expect(!steps.contains("warm-up") && !steps.contains("preflight"))
            #expect(h.engine.shotsFired == 0)
        }
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// The client's processor disconnects after the first burst and never comes back: the client
    /// pauses before its next burst, waits `reconnectTimeout` for it, and the run ends interrupted
    /// (resumable once it is back) with both stations safe. (Injected at the first progress
    /// report, not at a simulated time: the shared simulated clock advances with the server's shots
    /// and captures, so which of the client's processor calls met the fault first depended on
    /// scheduling; once, on a loaded machine, the run ended failed after 1.3 s, before any pause.)
    @Test func deviceFaultEndsTheRunInTheSafeState() async throws {
        let h = try await Harness.make(onFirstProgress: { engine in try? engine.inject(SimulatedFault(role: .clientProcessor, kind: .disconnect)) })
        let f = TwinFixture.shared
        do {
            _ = try await ProtocolRun.start(configuration(images: 40, block: 20), model: f.model, testSet: f.testSet, env: h.env)
            Issue.record("the fault did not end the run")
        } catch let failure as RunFailure {
            #expect(failure.status == .interrupted, "\(failure)")
            #expect("\(failure.underlying)".contains("client.processor"))
            let safe = try h.db.journalEntries(failure.runId).filter { $0.kind == .safeState }
            #expect(safe.contains { $0.step == "server.laser: ramp-down" && $0.detail == "ok" })
            #expect(safe.contains { $0.step == "shutter: close" && $0.detail == "ok" })
        }
        #expect(try await h.bench.laser().isEmitting() == false)
        #expect(try await h.bench.shutter().isOpen() == false)
    }

    /// The interlock trips during block 0 and clears 0.3 s later: the run pauses in the safe
    /// state, warms up again, repeats the block and completes.
    /// With 8-shot bursts the trip is seen before the next burst through the client; with 32 (one
    /// burst per layer of a 20-image block) before the back-to-back reference bursts, which once
    /// fired with the laser off and turned the reference to nothing (T̂ ≈ 6000, the honest client
    /// aborted).
    @Test(arguments: [8, 32])
    func interlockTripPausesAndResumes(burstShots: Int) async throws {
        let h = try await Harness.make(chunkShots: burstShots, onFirstProgress: { engine in
            engine.setInterlock(clear: false)
            engine.setInterlock(clear: true, after: .milliseconds(300))
        })
        let f = TwinFixture.shared
        let r = try await ProtocolRun.start(configuration(images: 40, block: 20), model: f.model, testSet: f.testSet, env: h.env)
        #expect(r.images == 40 && !r.aborted, "\(r.images) images, \(r.abortReason ?? "not aborted")")
        let steps = try h.db.journalEntries(r.runId).map(\.step)
        #expect(steps.contains("interlock tripped") && steps.contains("interlock cleared"))
    }

    /// The laser's controller switches its output off by itself after the first burst (keylock, its
    /// own interlock input), the bench's interlock staying clear. Fired dark, the next burst through
    /// the client (8-shot bursts) would look like light the client took, and a dark back-to-back
    /// reference (32-shot bursts: the reference comes next) like light it amplified: either way the
    /// honest client would be aborted and charged. Instead the session stops, resumable, with no
    /// block and no decision recorded, and the resumed session measures the block again.
    @Test(arguments: [8, 32])
    func laserControllerTripStopsTheSessionAndResumes(burstShots: Int) async throws {
        let f = TwinFixture.shared
        let db = try RunDatabase(directory: scratchDirectory())
        let clientDb = try RunDatabase(directory: scratchDirectory())
        let h = try await Harness.make(db: db, clientDb: clientDb, chunkShots: burstShots, onFirstProgress: { engine in engine.tripLaserController() })
        var runId = ""
        do {
            let r = try await ProtocolRun.start(configuration(images: 40, block: 20), model: f.model, testSet: f.testSet, env: h.env)
            Issue.record("the run went on with the laser dark: \(r.images) images, \(r.abortReason ?? "not aborted")")
        } catch let failure as RunFailure {
            runId = failure.runId
            #expect(failure.status == .interrupted, "\(failure)")
            #expect("\(failure.underlying)".contains("stopped emitting"), "\(failure.underlying)")
        }
        #expect(try db.blocks(runId).isEmpty)
        let journal = try db.journalEntries(runId)
        #expect(journal.contains { $0.step == "server laser stopped emitting" })
        #expect(!journal.contains { $0.kind == .decision && $0.step == "abort" })
        let resumed = try await ProtocolRun.resume(runId: runId, model: f.model, testSet: f.testSet, env: try await Harness.make(db: db, clientDb: clientDb).env)
        #expect(resumed.images == 40 && !resumed.aborted, "\(resumed.images) images, \(resumed.abortReason ?? "not aborted")")
    }

    /// The client's own interlock (a two-site client has one) trips between blocks and clears
    /// 0.3 s later: the client pauses the session before its next burst, goes safe, warms up and
    /// resumes; the server waits, journaling both, and the run completes.
    /// (Tripped once the client journaled block 0: tripped at the server's first progress report,
    /// the client had sometimes armed its next burst already, saw the trip after that burst's light
    /// and stopped; a race between the stations, seen under load.)
    @Test func clientInterlockTripPausesAndResumes() async throws {
        let h = try await Harness.make(onStep: { engine, text in
            guard text.hasPrefix("client: block 0:") else { return }
            engine.setInterlock(clear: false, role: .clientInterlock)
            engine.setInterlock(clear: true, role: .clientInterlock, after: .milliseconds(300))
        })
        let f = TwinFixture.shared
        let r = try await ProtocolRun.start(configuration(images: 40, block: 20), model: f.model, testSet: f.testSet, env: h.env)
        #expect(r.images == 40 && !r.aborted, "\(r.images) images, \(r.abortReason ?? "not aborted")")
        let clientSteps = try h.clientDb.journalEntries(r.runId).map(\.step)
        #expect(clientSteps.contains("interlock tripped") && clientSteps.contains("interlock cleared"), "\(clientSteps)")
        let serverSteps = try h.db.journalEntries(r.runId).map(\.step)
        #expect(serverSteps.contains("client paused") && serverSteps.contains("client resumed"), "\(serverSteps)")
        #expect(!serverSteps.contains("interlock tripped"), "the server's own interlock never tripped")
    }

    @Test func interlockNotClearRefusesToStart() async throws {
        let h = try await Harness.make()
        h.engine.setInterlock(clear: false)
        let f = TwinFixture.shared
        await #expect(throws: RunFailure.self) {
            try await ProtocolRun.start(configuration(images: 20, block: 20), model: f.model, testSet: f.testSet, env: h.env)
        }
        #expect(h.engine.shotsFired == 0)
    }
}
