import BenchKit
import BenchSim
import Calibrate
import Foundation
import SecureInference
import Testing
@testable import Sequencer

/// The twin for the runner: the sim driver, the client set through the engine.
struct TwinBenches: ExperimentBenches {
    func open(_ description: BenchDescription) async throws -> Bench { try await Bench.open(description, registry: SimulatedBench.registry()) }
    func setClient(_ behaviour: ClientBehaviour, on bench: Bench) async throws { try await SimulatedBench.engine(of: bench).setClientBehaviour(behaviour) }
}

/// The twin of a process whose saved time was lost: stored records do not describe it.
struct TwinBenchesAtTimeZero: ExperimentBenches {
    func open(_ description: BenchDescription) async throws -> Bench { try await TwinBenches().open(description) }
    func setClient(_ behaviour: ClientBehaviour, on bench: Bench) async throws { try await TwinBenches().setClient(behaviour, on: bench) }
    func storedRecordsMayDescribe(_ bench: Bench) async -> Bool { false }
}

/// Requests a stop when the n-th session of the experiment starts.
final class StopAtSession: RunObserver, @unchecked Sendable {
    let stop: StopRequest
    let session: Int
    private let lock = NSLock()
    private(set) var started: [String] = []
    init(stop: StopRequest, session: Int) { self.stop = stop; self.session = session }
    func started(runId: String, plan: [PlanStep]) {
        lock.lock(); started.append(runId); let n = started.count; lock.unlock()
        if n == session { stop.request("test stop at session \(n)") }
    }
}

/// Lines the runner logged.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

func experimentEnvironment(folder: URL, store: CalibrationStore, database: RunDatabase, clientDatabase: RunDatabase,
                           stop: StopRequest = StopRequest(), observer: any RunObserver = SilentObserver(), log: LogLines = LogLines()) -> ExperimentEnvironment {
    var env = ExperimentEnvironment(folder: folder, benches: TwinBenches(), stationStore: store, database: database, clientDatabase: clientDatabase,
                                    defaultBenchFile: simBench.path, modelFile: "Models/mnist-784-784-10.qbm", dataDirectory: "Data/mnist",
                                    codeVersion: "test", arguments: ["test"], stop: stop, observer: observer, log: { log.add($0) })
    env.configureSession = { run in
        run.basis = .deterministicForTests(seed: 3)
        run.interlockTimeout = .seconds(5)
    }
    return env
}

@Suite("Experiments on the twin", .serialized)
struct ExperimentRunTests {
    /// Stopped when its second session starts, the experiment resumes that session (the first
    /// point is not run again) and finishes with a complete table.
    @Test func aStoppedExperimentResumesAtItsFirstUnfinishedPoint() async throws {
        let f = TwinFixture.shared
        let store = try await f.calibratedStore()
        let folder = scratchDirectory()
        let db = try RunDatabase(directory: scratchDirectory())
        let clientDb = try RunDatabase(directory: scratchDirectory())
        let plan = try ExperimentPlan.parse("""
            experiment: resume-test
            defaults: {images: 20, block-images: 10}
            points:
              - {client: honest}
              - {client: intercept-resend}
              - {client: honest}
            calibration: {store: station, operating-point: refuse}
            """, file: repositoryRoot.appendingPathComponent("Experiments/resume-test.yaml").path)

        let stop = StopRequest()
        let first = try ExperimentRunner.create(plan, env: experimentEnvironment(folder: folder, store: store, database: db, clientDatabase: clientDb,
                                                                                stop: stop, observer: StopAtSession(stop: stop, session: 2)))
        do {
            _ = try await first.run(model: f.model, testSet: f.testSet)
            Issue.record("the stop was not honoured")
        } catch let error as ExperimentError {
            guard case let .pointFailed(_, point, _, runId, _) = error else { Issue.record("\(error)"); return }
            #expect(point == 2 && runId != nil)
        }
        #expect(first.rows.count == 1)
        let firstRun = try #require(first.rows.first?.runId)
        let interrupted = try #require(first.journal.startedRun(point: 1))
        #expect(try db.run(interrupted).status == .interrupted)
        #expect(ExperimentRunner.unfinished(of: plan, env: experimentEnvironment(folder: folder, store: store, database: db, clientDatabase: clientDb)) == first.id)

        // A new process: the journal read back from disk, a fresh twin.
        let log = LogLines()
        let second = try ExperimentRunner.reopen(first.id, env: experimentEnvironment(folder: folder, store: store, database: db, clientDatabase: clientDb, log: log),
                                                 planText: plan.text)
        let outcome = try await second.run(model: f.model, testSet: f.testSet)
        #expect(outcome.rows.map(\.point) == [0, 1, 2])
        #expect(outcome.rows[0].runId == firstRun)
        #expect(outcome.rows[1].runId == interrupted, "the interrupted session is resumed, not replaced")
        #expect(outcome.rows[1].outcome == .aborted && outcome.rows[1].abortImages != nil)
        #expect(outcome.rows[0].outcome == .completed && outcome.rows[2].outcome == .completed)
        #expect(outcome.rows.allSatisfy { $0.modes > 0 && $0.calibrationIds.count == 5 })
        #expect(log.all.contains { $0.contains("resuming session \(interrupted)") })
        #expect(!log.all.contains { $0.contains("point 1/3") && $0.contains("session starts") })
        // Three sessions in the station's records, no more: nothing was run twice.
        #expect(try db.runs().count == 3)
        let csv = try String(contentsOf: outcome.tableURL, encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 4 && csv[2].contains(",\(interrupted),aborted,"))
        let html = try String(contentsOf: outcome.reportURL, encoding: .utf8)
        #expect(html.contains(interrupted) && html.contains("<svg") && html.contains("finished"))
        // The report can be written again from the journal alone, as it was.
        try FileManager.default.removeItem(at: outcome.reportURL)
        #expect(try ExperimentRunner.rewriteOutputs(first.id, folder: folder) == outcome.reportURL)
        #expect(try String(contentsOf: outcome.reportURL, encoding: .utf8) == html)
        #expect(second.journal.isFinished && second.journal.snapshot.contains { $0.kind == .resumed })
        await #expect(throws: ExperimentError.self) { try await second.run(model: f.model, testSet: f.testSet) }
        #expect(throws: ExperimentError.self) {
            try ExperimentRunner.reopen(first.id, env: experimentEnvironment(folder: folder, store: store, database: db, clientDatabase: clientDb),
                                        planText: plan.text + "\n# edited\n")
        }
    }

    /// A new μ is calibrated by the experiment itself (back-to-back and link, journaled), and the
    /// drift check re-measures and compares after each point.
    @Test func aNewOperatingPointIsCalibratedAndRechecked() async throws {
        let f = TwinFixture.shared
        let folder = scratchDirectory()
        let db = try RunDatabase(directory: scratchDirectory())
        let clientDb = try RunDatabase(directory: scratchDirectory())
        let plan = try ExperimentPlan.parse("""
            experiment: recal-test
            defaults: {images: 10, block-images: 10, budget: 0.5}
            points:
              - {photons: 4}
              - {photons: 2}
            calibration:
              store: experiment
              reference-shots: 64
              drift-check: {kinds: [back-to-back], tolerance: 1000000, on-failure: stop}
            """, file: repositoryRoot.appendingPathComponent("Experiments/recal-test.yaml").path)
        let station = CalibrationStore(root: scratchDirectory(), key: .generate())
        let runner = try ExperimentRunner.create(plan, env: experimentEnvironment(folder: folder, store: station, database: db, clientDatabase: clientDb))
        let outcome = try await runner.run(model: f.model, testSet: f.testSet)
        #expect(outcome.rows.count == 2 && outcome.rows.allSatisfy { $0.outcome == .completed })
        let calibrated = runner.journal.snapshot.filter { $0.kind == .calibrated }.compactMap(\.detail)
        #expect(calibrated.count == 2)
        #expect(calibrated[0].hasPrefix("initial: laser, modulator, attenuation, homodyne, back-to-back, link"))
        #expect(calibrated[1].hasPrefix("operating point μ = 2, G = 2: back-to-back, link"))
        let checks = runner.journal.snapshot.compactMap(\.drift)
        #expect(checks.count == 2 && checks.allSatisfy { $0.passed && $0.kinds == ["back-to-back"] && $0.maximumSigmas > 0 })
        // Each session ran on the records of its own μ, kept in the experiment's folder; the station's store was not touched.
        let b2b = outcome.rows.map { $0.calibrationIds.filter { $0.hasSuffix("back-to-back") } }
        #expect(b2b[0].count == 1 && b2b[1].count == 1 && b2b[0] != b2b[1])
        #expect(try station.list().isEmpty)
        #expect(try CalibrationStore(root: runner.directory.appendingPathComponent("calibration/bench-file"), key: station.key).list().count == 7 + 1 + 2 + 1)
    }

    /// With the station's store, a bench whose stored records may describe it uses them; a twin
    /// starting at time zero (its saved time lost) is calibrated first whatever the store holds.
    @Test func aTwinStartingAtTimeZeroIsCalibratedWhateverTheStoreHolds() async throws {
        let f = TwinFixture.shared
        let station = CalibrationStore(root: scratchDirectory(), key: .generate())
        func run(_ benches: any ExperimentBenches) async throws -> [String] {
            let plan = try ExperimentPlan.parse("""
                experiment: zero-time-test
                defaults: {images: 10, block-images: 10, budget: 0.5}
                points:
                  - {photons: 4}
                calibration:
                  store: station
                  reference-shots: 64
                """, file: repositoryRoot.appendingPathComponent("Experiments/zero-time-test.yaml").path)
            var env = experimentEnvironment(folder: scratchDirectory(), store: station, database: try RunDatabase(directory: scratchDirectory()),
                                            clientDatabase: try RunDatabase(directory: scratchDirectory()))
            env.benches = benches
            let runner = try ExperimentRunner.create(plan, env: env)
            let outcome = try await runner.run(model: f.model, testSet: f.testSet)
            #expect(outcome.rows.count == 1 && outcome.rows[0].outcome == .completed)
            return runner.journal.snapshot.filter { $0.kind == .calibrated }.compactMap(\.detail)
        }
        let first = try await run(TwinBenches())
        #expect(first.count == 1 && first[0].hasPrefix("initial: laser"), "\(first)")
        let again = try await run(TwinBenches())
        #expect(again.count == 1 && again[0].hasPrefix("initial: none needed"), "\(again)")
        let zero = try await run(TwinBenchesAtTimeZero())
        #expect(zero.count == 1 && zero[0].hasPrefix("initial, the twin starting at time zero (no stored record describes it): laser"), "\(zero)")
    }
}
