import BenchKit
import Calibrate
import Foundation
import SecureInference

/// How the runner reaches benches: the CLI opens bench files with every driver it knows and sets
/// the twin's client behaviour (the Sequencer target knows neither drivers nor the twin).
public protocol ExperimentBenches: Sendable {
    /// Opens a bench from its description (a twin's may have been reseeded).
    func open(_ description: BenchDescription) async throws -> Bench
    /// Makes the twin's client behave so (`honest` too: a point's attack must not outlive it).
    /// A real bench refuses anything but honest.
    func setClient(_ behaviour: ClientBehaviour, on bench: Bench) async throws
    /// Whether calibration records stored before this process may describe `bench`: false for a
    /// twin that starts at time zero because the time its records were made at is lost (the CLI's
    /// `TwinTime`); such a bench is calibrated on first use whatever the store holds.
    func storedRecordsMayDescribe(_ bench: Bench) async -> Bool
}

extension ExperimentBenches {
    public func storedRecordsMayDescribe(_ bench: Bench) async -> Bool { true }
}

/// Everything an experiment runs with.
public struct ExperimentEnvironment: Sendable {
    /// Where experiments live: `$QBENCH_HOME/experiments`.
    public var folder: URL
    public var benches: any ExperimentBenches
    /// The station's calibration store (`store: station`) and key (every store's seal).
    public var stationStore: CalibrationStore
    /// The stations' run databases: every point is a recorded session there.
    public var database: RunDatabase
    public var clientDatabase: RunDatabase
    /// The bench file, model file and MNIST folder when the plan names none.
    public var defaultBenchFile: String
    public var modelFile: String
    public var dataDirectory: String
    public var codeVersion: String
    public var arguments: [String]
    public var stop: StopRequest
    /// Sessions' progress (the terminal's bar).
    public var observer: any RunObserver
    /// One line per event for people.
    public var log: @Sendable (String) -> Void
    /// Adjusts each session's environment (tests: a deterministic basis, short timeouts).
    public var configureSession: @Sendable (inout RunEnvironment) -> Void = { _ in }

    public init(folder: URL, benches: any ExperimentBenches, stationStore: CalibrationStore, database: RunDatabase, clientDatabase: RunDatabase,
                defaultBenchFile: String, modelFile: String, dataDirectory: String, codeVersion: String, arguments: [String],
                stop: StopRequest = StopRequest(), observer: any RunObserver = SilentObserver(), log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.folder = folder; self.benches = benches; self.stationStore = stationStore; self.database = database
        self.clientDatabase = clientDatabase; self.defaultBenchFile = defaultBenchFile; self.modelFile = modelFile
        self.dataDirectory = dataDirectory; self.codeVersion = codeVersion; self.arguments = arguments; self.stop = stop
        self.observer = observer; self.log = log
    }
}

/// What a finished (or stopped) experiment left behind.
public struct ExperimentOutcome: Sendable {
    public let id: String
    public let folder: URL
    public let rows: [ExperimentRow]
    public let seconds: Double
    public var tableURL: URL { folder.appendingPathComponent("results.csv") }
    public var reportURL: URL { folder.appendingPathComponent("report.html") }
}

/// Runs an experiment's points in order, each as a recorded session, journaling every step in the
/// experiment's folder; a stopped, failed or killed experiment continues at its first unfinished
/// point (a session it had started is resumed, not repeated).
public final class ExperimentRunner: @unchecked Sendable {
    public let id: String
    public let plan: ExperimentPlan
    public let directory: URL
    public let journal: ExperimentJournal
    let env: ExperimentEnvironment
    private var benches: [String: Bench] = [:]

    /// The plan file's copy inside an experiment's folder.
    public static let planFileName = "plan.yaml"

    init(id: String, plan: ExperimentPlan, directory: URL, journal: ExperimentJournal, env: ExperimentEnvironment) {
        self.id = id; self.plan = plan; self.directory = directory; self.journal = journal; self.env = env
    }

    /// A new experiment of `plan`: its folder, the plan's copy, the journal's first entry.
    public static func create(_ plan: ExperimentPlan, env: ExperimentEnvironment, at date: Date = Date()) throws -> ExperimentRunner {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyyMMdd-HHmmss"
        var id = "\(plan.name)-\(f.string(from: date))"
        var n = 1
        while FileManager.default.fileExists(atPath: env.folder.appendingPathComponent(id).path) { n += 1; id = "\(plan.name)-\(f.string(from: date))-\(n)" }
        let dir = env.folder.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(plan.text.utf8).write(to: dir.appendingPathComponent(planFileName), options: .withoutOverwriting)
        let journal = try ExperimentJournal(url: dir.appendingPathComponent("journal.jsonl"))
        try journal.append(.init(kind: .created, detail: plan.file))
        return ExperimentRunner(id: id, plan: plan, directory: dir, journal: journal, env: env)
    }

    /// An existing experiment, with the plan it started with. With `planText`, refuses a plan that changed.
    public static func reopen(_ id: String, env: ExperimentEnvironment, planText: String? = nil) throws -> ExperimentRunner {
        let dir = env.folder.appendingPathComponent(id)
        let planURL = dir.appendingPathComponent(planFileName)
        guard !id.contains("/"), let data = FileManager.default.contents(atPath: planURL.path) else {
            throw ExperimentError.unknown(id: id, folder: env.folder.path)
        }
        let journal = try ExperimentJournal(url: dir.appendingPathComponent("journal.jsonl"))
        let text = String(decoding: data, as: UTF8.self)
        let file = journal.snapshot.first { $0.kind == .created }?.detail ?? planURL.path
        if let planText, planText != text { throw ExperimentError.planChanged(id: id, file: file) }
        // Parsed under the original path, so relative paths resolve as they did.
        let plan = try ExperimentPlan.parse(text, file: file)
        return ExperimentRunner(id: id, plan: plan, directory: dir, journal: journal, env: env)
    }

    /// The newest unfinished experiment started from exactly this plan text, if any.
    public static func unfinished(of plan: ExperimentPlan, env: ExperimentEnvironment) -> String? {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: env.folder.path) else { return nil }
        for name in names.filter({ $0.hasPrefix(plan.name + "-") }).sorted(by: >) {
            let dir = env.folder.appendingPathComponent(name)
            guard let text = fm.contents(atPath: dir.appendingPathComponent(planFileName).path), String(decoding: text, as: UTF8.self) == plan.text,
                  let journal = try? ExperimentJournal(url: dir.appendingPathComponent("journal.jsonl")), !journal.isFinished else { continue }
            return name
        }
        return nil
    }

    // MARK: running

    public func run(model: ModelFile, testSet: MNISTSet) async throws -> ExperimentOutcome {
        guard !journal.isFinished else { throw ExperimentError.finished(id: id) }
        let started = Date()
        let done = journal.finishedRows
        if journal.snapshot.contains(where: { $0.kind != .created }) {
            try journal.append(.init(kind: .resumed, detail: "\(done.count) of \(plan.points.count) points finished"))
            env.log("experiment \(id): continuing, \(done.count) of \(plan.points.count) points finished")
        } else {
            env.log("experiment \(id): \(plan.points.count) points, folder \(directory.path)")
        }
        do {
            for (index, point) in plan.points.enumerated() where done[index] == nil {
                if let why = env.stop.requested {
                    try journal.append(.init(kind: .stopped, point: index, detail: why))
                    throw ExperimentError.pointFailed(id: id, point: index, label: point.label, runId: nil, underlying: "stopped before it started (\(why))")
                }
                try await runPoint(index, point, model: model, testSet: testSet)
            }
        } catch {
            for bench in benches.values { _ = await bench.enterSafeState() }
            try? writeOutputs()
            throw error
        }
        try journal.append(.init(kind: .finished, detail: String(format: "%.1f s", Date().timeIntervalSince(started))))
        try writeOutputs()
        return ExperimentOutcome(id: id, folder: directory, rows: rows, seconds: Date().timeIntervalSince(started))
    }

    public var rows: [ExperimentRow] { Self.rows(journal) }
    static func rows(_ journal: ExperimentJournal) -> [ExperimentRow] { journal.finishedRows.sorted { $0.key < $1.key }.map(\.value) }

    /// Writes the table (results.csv) and the report (report.html with its SVG plots beside it).
    public func writeOutputs() throws { try Self.writeOutputs(id: id, plan: plan, journal: journal, directory: directory) }

    static func writeOutputs(id: String, plan: ExperimentPlan, journal: ExperimentJournal, directory: URL) throws {
        let rows = Self.rows(journal)
        try Data(ExperimentTable.csv(rows).utf8).write(to: directory.appendingPathComponent("results.csv"), options: .atomic)
        let report = ExperimentReport(id: id, plan: plan, rows: rows, journal: journal.snapshot)
        for (name, svg) in report.plots { try Data(svg.utf8).write(to: directory.appendingPathComponent(name + ".svg"), options: .atomic) }
        try Data(report.html.utf8).write(to: directory.appendingPathComponent("report.html"), options: .atomic)
    }

    /// Writes an experiment's table and report again from its journal and plan, without a bench
    /// (`qbench experiment show ID --rewrite`: after an update of the report, or a damaged report).
    /// Returns the report's address.
    public static func rewriteOutputs(_ id: String, folder: URL) throws -> URL {
        let dir = folder.appendingPathComponent(id)
        guard !id.contains("/"), let data = FileManager.default.contents(atPath: dir.appendingPathComponent(planFileName).path) else {
            throw ExperimentError.unknown(id: id, folder: folder.path)
        }
        let journal = try ExperimentJournal(url: dir.appendingPathComponent("journal.jsonl"))
        let file = journal.snapshot.first { $0.kind == .created }?.detail ?? dir.appendingPathComponent(planFileName).path
        let plan = try ExperimentPlan.parse(String(decoding: data, as: UTF8.self), file: file)
        try writeOutputs(id: id, plan: plan, journal: journal, directory: dir)
        return dir.appendingPathComponent("report.html")
    }

    func benchKey(_ seed: UInt64?) -> String { seed.map { "seed-\($0)" } ?? "bench-file" }
    var benchFile: String { plan.benchFile ?? env.defaultBenchFile }

    func bench(for seed: UInt64?) async throws -> Bench {
        let key = benchKey(seed)
        if let b = benches[key] { return b }
        let url = URL(fileURLWithPath: benchFile)
        var text = try YAMLTree.text(of: try Data(contentsOf: url), file: url.path)
        if let seed { text = try Self.reseeded(text, seed: seed, file: url.path) }
        let description = try BenchDescription.parse(text, file: url.path)
        if seed != nil, description.simulation == nil || !description.bindings.values.allSatisfy({ $0.driver == "sim" }) {
            throw ExperimentError.twinOnly(what: "seed", bench: description.name)
        }
        let bench = try await env.benches.open(description)
        benches[key] = bench
        return bench
    }

    func store(for seed: UInt64?) -> CalibrationStore {
        switch plan.calibration.store {
        case .station: env.stationStore
        case .experiment: CalibrationStore(root: directory.appendingPathComponent("calibration/\(benchKey(seed))"), key: env.stationStore.key)
        }
    }

    /// The bench file's text with the value of `simulation: seed:` replaced (found by the YAML
    /// reader, so the line is the real one whatever the file's layout).
    public static func reseeded(_ text: String, seed: UInt64, file: String) throws -> String {
        let root = YAMLReader(file: file, tree: try YAMLTree.parse(text, file: file))
        guard let simulation = try root.optional("simulation"), let value = try simulation.optional("seed"),
              let key = try simulation.entries.first(where: { $0.key == "seed" }) else {
            throw ExperimentError.noSeed(bench: file)
        }
        var lines = text.components(separatedBy: "\n")
        let k = key.keyLine - 1
        guard lines.indices.contains(k), value.tree.line == key.keyLine, let colon = lines[k].range(of: "seed:"),
              lines[k][colon.upperBound...].trimmingCharacters(in: .whitespaces).hasPrefix(try value.string) else {
            throw ExperimentError.noSeed(bench: file)
        }
        let comment = lines[k][colon.upperBound...].range(of: " #").map { String(lines[k][colon.upperBound...][$0.lowerBound...]) } ?? ""
        lines[k] = String(lines[k][..<colon.upperBound]) + " \(seed)" + comment
        return lines.joined(separator: "\n")
    }

    func runPoint(_ index: Int, _ point: ExperimentPoint, model: ModelFile, testSet: MNISTSet) async throws {
        let started = Date()
        let tag = "point \(index + 1)/\(plan.points.count) (\(point.label))"
        let key = benchKey(point.seed)
        let bench = try await bench(for: point.seed)
        let store = store(for: point.seed)
        let calibrator = ExperimentCalibrator(bench: bench, store: store, policy: plan.calibration, codeVersion: env.codeVersion)

        // Calibrations before the point: first use of the bench, the operating point, the plan's list.
        var kinds: [CalibrationKind] = []
        var reasons: [String] = []
        do {
            if !journal.calibratedBenches.contains(key) {
                let describes = await env.benches.storedRecordsMayDescribe(bench)
                let valid = plan.calibration.initial == .always || !describes ? false : try await calibrator.hasValidRecords()
                if !valid {
                    kinds = CalibrationKind.allCases
                    reasons.append(describes ? "initial" : "initial, the twin starting at time zero (no stored record describes it)")
                } else {
                    try journal.append(.init(kind: .calibrated, point: index, bench: key, detail: "initial: none needed, the store's records are valid (\(store.root.path))"))
                }
            }
            if kinds.isEmpty, plan.calibration.operatingPoint == .recalibrate {
                let need = try await calibrator.operatingPointNeeds(photons: point.photons, gain: point.gain)
                if !need.isEmpty { kinds = need; reasons.append("operating point μ = \(ExperimentPoint.number(point.photons)), G = \(ExperimentPoint.number(point.gain))") }
            }
            let extra = plan.calibration.beforeEachPoint.filter { !kinds.contains($0) }
            if !extra.isEmpty { kinds += extra; reasons.append("before each point") }
            kinds.sort()
            if !kinds.isEmpty {
                env.log("\(tag): calibrating \(kinds.map(\.rawValue).joined(separator: ", ")) (\(reasons.joined(separator: "; ")))")
                let t0 = Date()
                let records = try await calibrator.calibrate(kinds, photons: point.photons, gain: point.gain)
                try journal.append(.init(kind: .calibrated, point: index, bench: key,
                                         detail: "\(reasons.joined(separator: "; ")): \(kinds.map(\.rawValue).joined(separator: ", ")) in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s → \(records.map(\.id).joined(separator: " "))"))
            }
        } catch {
            try? journal.append(.init(kind: .pointFailed, point: index, bench: key, detail: "calibration: \(error)"))
            throw ExperimentError.calibration(id: id, point: index + 1, kinds: kinds.map(\.rawValue).joined(separator: ", "), underlying: "\(error)")
        }

        guard let behaviour = ClientBehaviour(argument: point.client) else {
            throw ExperimentError.pointFailed(id: id, point: index + 1, label: point.label, runId: nil, underlying: "client '\(point.client)' is not a behaviour")
        }
        try await env.benches.setClient(behaviour, on: bench)

        let sessionObserver = PointObserver(base: env.observer, journal: journal, point: index)
        var runEnv = RunEnvironment(bench: bench, store: store, database: env.database, clientDatabase: env.clientDatabase,
                                    codeVersion: env.codeVersion, arguments: env.arguments, stop: env.stop, observer: sessionObserver)
        runEnv.dataLeakageBudgetBits = point.privacyBudget
        env.configureSession(&runEnv)
        let config = point.configuration(benchFile: benchFile, modelFile: plan.modelFile ?? env.modelFile, dataDirectory: plan.dataDirectory ?? env.dataDirectory)

        var result: RunResult
        var outcome = ExperimentRow.Outcome.completed
        var reason: String?
        do {
            if let previous = journal.startedRun(point: index), let summary = try? env.database.run(previous) {
                if [.completed, .aborted].contains(summary.status), var r = summary.result {
                    env.log("\(tag): session \(previous) had finished; taking its result")
                    r.accuracy = (try? env.clientDatabase.run(previous))?.result?.accuracy
                    result = r
                } else {
                    env.log("\(tag): resuming session \(previous)")
                    result = try await ProtocolRun.resume(runId: previous, model: model, testSet: testSet, env: runEnv)
                }
            } else {
                env.log("\(tag): session starts")
                result = try await ProtocolRun.start(config, model: model, testSet: testSet, env: runEnv)
            }
            if result.aborted { outcome = .aborted; reason = result.abortReason }
        } catch let failure as RunFailure {
            if let e = failure.underlying as? RunError, Self.isRefusal(e) {
                result = failure.result
                outcome = .refused
                reason = "\(e)"
            } else {
                // A stop's own advice names `qbench run --resume`; the experiment's resume covers it.
                var why = "\(failure.underlying)"
                if case let .stopped(reason)? = failure.underlying as? RunError { why = "stopped (\(reason)); the session is resumable" }
                try? journal.append(.init(kind: .pointFailed, point: index, runId: failure.runId, bench: key, detail: why))
                throw ExperimentError.pointFailed(id: id, point: index + 1, label: point.label, runId: failure.runId, underlying: why)
            }
        } catch {
            try? journal.append(.init(kind: .pointFailed, point: index, bench: key, detail: "\(error)"))
            throw ExperimentError.pointFailed(id: id, point: index + 1, label: point.label, runId: nil, underlying: "\(error)")
        }

        let row = makeRow(index, point, result: result, outcome: outcome, reason: reason, pointSeconds: Date().timeIntervalSince(started))
        try journal.append(.init(kind: .pointFinished, point: index, runId: row.runId, bench: key, row: row))
        try writeOutputs()
        env.log("\(tag): \(Self.describe(row))")

        if let check = plan.calibration.driftCheck {
            let drift: DriftOutcome
            do {
                drift = try await calibrator.driftCheck(check, photons: point.photons, gain: point.gain)
            } catch {
                try? journal.append(.init(kind: .pointFailed, point: index, bench: key, detail: "drift check: \(error)"))
                throw ExperimentError.calibration(id: id, point: index + 1, kinds: check.kinds.map(\.rawValue).joined(separator: ", "), underlying: "\(error)")
            }
            try journal.append(.init(kind: .driftCheck, point: index, bench: key, detail: drift.passed ? "passed" : "failed", drift: drift))
            env.log("\(tag): drift check \(drift.passed ? "passed" : "FAILED"): \(drift.summary)")
            if !drift.passed {
                if check.onFailure.isEmpty {
                    try journal.append(.init(kind: .stopped, point: index, detail: "drift check failed: \(drift.summary)"))
                    try writeOutputs()
                    throw ExperimentError.drift(id: id, point: index + 1, summary: drift.summary)
                }
                let records = try await calibrator.calibrate(check.onFailure, photons: point.photons, gain: point.gain)
                try journal.append(.init(kind: .calibrated, point: index, bench: key,
                                         detail: "drift check failed: \(check.onFailure.map(\.rawValue).joined(separator: ", ")) → \(records.map(\.id).joined(separator: " "))"))
                env.log("\(tag): recalibrated \(check.onFailure.map(\.rawValue).joined(separator: ", "))")
            }
            try writeOutputs()
        }
    }

    /// A refusal before any light is the operating point's property, not a failure of the experiment.
    static func isRefusal(_ e: RunError) -> Bool {
        switch e {
        case .privacy, .denied, .ledger: true
        default: false
        }
    }

    func makeRow(_ index: Int, _ point: ExperimentPoint, result r: RunResult, outcome: ExperimentRow.Outcome, reason: String?, pointSeconds: Double) -> ExperimentRow {
        let blocks = (try? env.database.blocks(r.runId)) ?? []
        let abort = blocks.first { $0.decision == LeakageCheck.Decision.abort.rawValue }
        let certified = blocks.first { $0.decision == LeakageCheck.Decision.certified.rawValue }
        let calibrationIds = (try? env.database.run(r.runId))?.calibrationIds ?? []
        let measured = outcome != .refused && r.modes > 0
        return ExperimentRow(
            point: index, parameters: point, runId: r.runId, outcome: outcome, reason: reason, accuracy: r.accuracy, certified: r.certified,
            certifiedImages: certified?.imagesDone, aborted: r.aborted, abortBlock: abort?.blockIndex, abortImages: abort?.imagesDone,
            imagesServed: blocks.last?.imagesDone ?? 0, modes: r.modes,
            transmittance: measured ? r.transmittanceEstimate : nil, excessNoise: measured ? r.excessNoiseEstimate : nil,
            excessNoiseUpperBound: measured ? r.excessNoiseUpperBound : nil, weightLeakage: measured ? r.weightLeakageBitsPerMode : nil,
            weightLeakageUpperBound: measured ? r.weightLeakageUpperBoundBitsPerMode : nil, dataLeakage: measured ? r.dataLeakageBits : nil,
            seconds: r.seconds, pointSeconds: pointSeconds, calibrationIds: calibrationIds)
    }

    static func describe(_ r: ExperimentRow) -> String {
        let acc = r.accuracy.map { String(format: "accuracy %.2f %%", 100 * $0) } ?? "accuracy —"
        let leak = r.weightLeakageUpperBound.map { String(format: "I_w ≤ %.4g bit/mode", $0) } ?? "I_w —"
        let verdict: String = switch r.outcome {
        case .aborted: "ABORTED at \(r.abortImages.map { "\($0) images" } ?? "?")"
        case .refused: "refused: \(r.reason ?? "")"
        case .completed: r.certified ? "certified" : "not certified"
        }
        return "session \(r.runId): \(verdict), \(acc), \(leak) (\(String(format: "%.1f", r.seconds)) s)"
    }
}

/// Journals the session's id the moment it exists (so a killed experiment resumes that session),
/// and passes everything on to the terminal's observer.
final class PointObserver: RunObserver, @unchecked Sendable {
    let base: any RunObserver
    let journal: ExperimentJournal
    let point: Int
    init(base: any RunObserver, journal: ExperimentJournal, point: Int) { self.base = base; self.journal = journal; self.point = point }

    func started(runId: String, plan: [PlanStep]) {
        if journal.startedRun(point: point) != runId { try? journal.append(.init(kind: .pointStarted, point: point, runId: runId)) }
        base.started(runId: runId, plan: plan)
    }
    func step(_ text: String) { base.step(text) }
    func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?) {
        base.progress(imagesDone: imagesDone, images: images, modes: modes, modesPerSecond: modesPerSecond, excessNoise: excessNoise)
    }
    func block(_ record: BlockRecord) { base.block(record) }
}
