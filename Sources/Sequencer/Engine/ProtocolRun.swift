import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference

/// What a run needs around it: the open bench, the calibration store, the run database, and the
/// knobs of execution that do not change the result.
public struct RunEnvironment: Sendable {
    public let bench: Bench
    public let store: CalibrationStore
    public let database: RunDatabase
    public let codeVersion: String
    public let arguments: [String]
    public let stop: StopRequest
    public let observer: any RunObserver
    /// Shots per trigger burst (memory per burst ∝ this × slots per shot).
    public var chunkShots = 8
    /// Back-to-back reference shots per client shot, interleaved in every block and layer.
    public var referenceFraction = 0.3
    /// How long to wait for a tripped interlock to clear before giving up.
    public var interlockTimeout: Duration = .seconds(60)
    /// The secret basis: always `.secret` outside tests.
    public var basis: BasisPolicy = .secret
    /// Sees every burst of returned light the server measured through the client (its own data):
    /// how a curious server's analysis is measured on the twin (`TwinValidation.CuriousServer`).
    public var returnedLightTap: (any ReturnedLightTap)?

    public init(bench: Bench, store: CalibrationStore, database: RunDatabase, codeVersion: String, arguments: [String],
                stop: StopRequest = StopRequest(), observer: any RunObserver = SilentObserver()) {
        self.bench = bench; self.store = store; self.database = database; self.codeVersion = codeVersion
        self.arguments = arguments; self.stop = stop; self.observer = observer
    }
}

public enum RunError: Error, CustomStringConvertible {
    case operatingPoint(String)
    case stopped(String)
    case interlock(String)
    case notResumable(String)
    case invalidOption(name: String, value: String, expected: String)
    case saturated(String)
    case check(String)

    public var description: String {
        switch self {
        case let .operatingPoint(s): s
        case let .stopped(why): "stopped: \(why); the bench is in its safe state; continue with `qbench run --resume <run id>`"
        case let .interlock(s): s
        case let .notResumable(s): s
        case let .invalidOption(name, value, expected):
            value.isEmpty ? "\(name) is refused before any light: \(expected)" : "\(name) \(value) is refused before any light: expected \(expected)"
        case let .saturated(s): "the server's receiver is saturated: \(s); the session stops (a clipped receiver hides excess noise). Lower the LO power or the digitiser gain, recalibrate `homodyne`, and start a new session"
        case let .check(s): s
        }
    }
}

/// The secure-inference protocol on a bench, block by block (issue 5): every completed step is
/// journaled before the next starts, every exit path leaves the bench in its safe state, and a
/// run killed at any point resumes from its last block boundary with the same final result.
public final class ProtocolRun: @unchecked Sendable {
    let configuration: RunConfiguration
    let model: ModelFile
    let images: MNISTSet
    let env: RunEnvironment
    let runId: String
    var checkpoint: RunCheckpoint
    var calibration: ActiveCalibration!
    var frames: [LayerFrame] = []
    let plan: [PlanStep]
    let started = Date()
    var lastAssessment: LeakageCheck.Assessment?
    /// The session's secret X/P basis (drawn at warm-up, or opened from the checkpoint on resume).
    var basis: SecretBasis?

    init(runId: String, configuration: RunConfiguration, model: ModelFile, images: MNISTSet, env: RunEnvironment, checkpoint: RunCheckpoint) {
        self.runId = runId; self.configuration = configuration; self.model = model; self.images = images; self.env = env
        self.checkpoint = checkpoint
        plan = PlanStep.plan(images: configuration.images, blockImages: configuration.blockImages)
    }

    /// Starts a new run and executes it to the end (or to an abort, a stop or an error).
    public static func start(_ configuration: RunConfiguration, model: ModelFile, testSet: MNISTSet, env: RunEnvironment) async throws -> RunResult {
        try configuration.validate(model: model, testImages: testSet.count)
        let id = RunDatabase.newRunID()
        let snapshot = await env.bench.snapshot()
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try env.database.createRun(id: id, configuration: configuration, bench: env.bench.description.name,
                                   benchSnapshot: try encoder.encode(snapshot), calibrationIds: [], modelId: model.modelID,
                                   codeVersion: env.codeVersion, arguments: env.arguments)
        let run = ProtocolRun(runId: id, configuration: configuration, model: model, images: try testSet.subset(checked: 0..<configuration.images),
                              env: env, checkpoint: .initial())
        return try await run.execute(resuming: false)
    }

    /// Continues an interrupted, failed or killed run from its last journaled block.
    public static func resume(runId: String, model: ModelFile, testSet: MNISTSet, env: RunEnvironment) async throws -> RunResult {
        let summary = try env.database.run(runId)
        guard [.running, .interrupted, .failed].contains(summary.status) else {
            throw RunError.notResumable("run \(runId) is \(summary.status.rawValue): only interrupted, failed or killed runs resume")
        }
        // An abort is final: if the process died between the decision and the status, the journal
        // still holds the decision, and the session never serves again.
        if let reason = try env.database.abortDecision(runId) {
            try env.database.setStatus(runId, .aborted)
            throw RunError.notResumable("run \(runId) was aborted by the server's check (\(reason)): an aborted session never serves again; start a new session")
        }
        try summary.configuration.validate(model: model, testImages: testSet.count)
        guard summary.modelId == model.modelID else {
            throw RunError.notResumable("run \(runId) used model \(summary.modelId), not \(model.modelID): pass --model with that file")
        }
        guard summary.bench == env.bench.description.name else {
            throw RunError.notResumable("run \(runId) ran on bench '\(summary.bench)', not '\(env.bench.description.name)': pass --bench with that file")
        }
        var checkpoint = RunCheckpoint.initial()
        if let saved = try env.database.latestCheckpoint(runId) {
            checkpoint = try RunDatabase.decoder.decode(RunCheckpoint.self, from: saved.data)
        }
        try env.database.setStatus(runId, .running)
        let c = summary.configuration
        let run = ProtocolRun(runId: runId, configuration: c, model: model, images: try testSet.subset(checked: 0..<c.images), env: env, checkpoint: checkpoint)
        return try await run.execute(resuming: true)
    }

    /// Draws the session's secret basis at the first start (sealed into the checkpoint, which the
    /// warm-up journals), or opens the one the checkpoint holds on resume.
    func openOrDrawBasis() throws {
        if let sealed = checkpoint.basis {
            do { basis = try SecretBasis.open(sealed, with: env.store.key, runId: runId) } catch {
                throw RunError.notResumable("run \(runId)'s secret basis cannot be opened with this station's key (\(error)): resume it on the station that started it")
            }
            if case .secret = env.basis, basis?.isTestBasis == true {
                throw RunError.notResumable("run \(runId) was started with a deterministic test basis: it cannot be resumed as a secure session")
            }
            return
        }
        let fresh = SecretBasis.fresh(env.basis)
        checkpoint.basis = try fresh.sealed(with: env.store.key, runId: runId)
        basis = fresh
    }

    /// The Cramér–Rao data-leakage bound of this run's gain and row length (PROTOCOL.md §5).
    var dataLeakageBits: Double {
        (try? ClientAmplifier(gain: configuration.gain))
            .flatMap { try? DataLeakage.cramerRaoBits(amplifier: $0, modesPerRow: (model.network.inputSize + 1) / 2) } ?? .nan
    }

    // MARK: lifecycle

    func journal(_ kind: JournalEntry.Kind, _ step: String, detail: String? = nil, block: BlockRecord? = nil, checkpoint: Bool = false) throws {
        let data = checkpoint ? try RunDatabase.encoder.encode(self.checkpoint) : nil
        try env.database.journal(runId, kind: kind, step: step, detail: detail, block: block, checkpoint: data)
        env.observer.step(detail.map { "\(step): \($0)" } ?? step)
    }

    func checkStop() throws {
        if let why = env.stop.requested { throw RunError.stopped(why) }
    }

    func execute(resuming: Bool) async throws -> RunResult {
        // The run spreads shots over the cores itself; OpenBLAS's own threads only spin after each
        // small product, and their reduction order would make ε̂ depend on the core count.
        setLinearAlgebraThreads(1)
        env.observer.started(runId: runId, plan: plan)
        var status = RunStatus.completed
        var failure: Error?
        let wallAtStart = checkpoint.wallSeconds
        do {
            if resuming {
                try journal(.event, "resume", detail: "continuing at block \(checkpoint.nextBlock) with \(checkpoint.imagesDone) images done")
                await safeState()
            }
            try await preflight()
            try journal(.step, "preflight", detail: "calibration records: \(calibration.recordIDs.joined(separator: ", "))")
            try openOrDrawBasis()
            if resuming, checkpoint.client.signalSlots > 0 { lastAssessment = try evaluate() }
            try await warmUp()
            if resuming, !checkpoint.drivers.isEmpty {
                try await env.bench.restore(checkpoint.drivers)
                try journal(.event, "drivers restored", detail: "hidden state of \(checkpoint.drivers.keys.sorted().joined(separator: ", ")) as at block \(checkpoint.nextBlock)")
            } else {
                checkpoint.drivers = try await env.bench.checkpoint()
            }
            try journal(.step, "warm-up", checkpoint: !resuming)
            for step in plan {
                guard case let .block(index, first, count) = step, index >= checkpoint.nextBlock else { continue }
                try checkStop()
                var attempt: BlockRecord?
                while attempt == nil {
                    do { attempt = try await runBlock(index: index, firstImage: first, images: count) } catch is InterlockResumed {
                        try await warmUp()
                    }
                }
                guard let record = attempt else { continue }
                checkpoint.nextBlock = index + 1
                checkpoint.drivers = try await env.bench.checkpoint()
                checkpoint.wallSeconds = wallAtStart + Date().timeIntervalSince(started)
                if record.decision == LeakageCheck.Decision.abort.rawValue {
                    // The block, the decision and the status in one transaction: no resume can
                    // serve an aborted client again.
                    try env.database.journalAbort(runId, step: step.description, block: record,
                                                  checkpoint: try RunDatabase.encoder.encode(checkpoint), reason: record.reason)
                    env.observer.step("\(step.description): abort: \(record.reason)")
                    env.observer.block(record)
                    status = .aborted
                    break
                }
                try journal(.step, step.description, detail: "\(record.decision): \(record.reason)", block: record, checkpoint: true)
                env.observer.block(record)
            }
        } catch let e as RunError {
            if case .stopped = e { status = .interrupted } else { status = .failed }
            failure = e
        } catch {
            status = .failed
            failure = error
        }
        await safeState()
        checkpoint.wallSeconds = wallAtStart + Date().timeIntervalSince(started)
        let result = makeResult(status: status)
        try env.database.setStatus(runId, status, result: result)
        try? journal(.event, "finish", detail: "\(status.rawValue)\(failure.map { ": \($0)" } ?? "")")
        if let failure { throw RunFailure(runId: runId, status: status, underlying: failure, result: result) }
        return result
    }

    /// Safe state in the bench's order, every action journaled; never throws.
    func safeState() async {
        await env.bench.enterSafeState { record in
            _ = try? self.env.database.journal(self.runId, kind: .safeState, step: record.step,
                                           detail: record.succeeded ? "ok" : "failed: \(record.error ?? "")")
        }
    }

    func makeResult(status: RunStatus) -> RunResult {
        let a = lastAssessment
        return RunResult(
            runId: runId, bench: env.bench.description.name, images: checkpoint.imagesDone,
            accuracy: checkpoint.imagesDone > 0 ? Double(checkpoint.correct) / Double(checkpoint.imagesDone) : 0,
            aborted: status == .aborted, abortReason: status == .aborted ? a?.reason : nil,
            certified: a?.decision == .certified, blocks: checkpoint.nextBlock, modes: checkpoint.client.signalSlots,
            transmittanceEstimate: a?.estimate.transmittance ?? .nan, excessNoiseEstimate: a?.estimate.excessNoise ?? .nan,
            excessNoiseUpperBound: a?.excessNoiseUpperBound ?? .nan, weightLeakageBitsPerMode: a?.leakageBitsPerMode ?? .nan,
            weightLeakageUpperBoundBitsPerMode: a?.leakageUpperBound ?? .nan, dataLeakageBits: dataLeakageBits, seconds: checkpoint.wallSeconds)
    }
}

/// A run that ended early: the run id, how it ended, why, and what it had measured.
public struct RunFailure: Error, CustomStringConvertible {
    public let runId: String
    public let status: RunStatus
    public let underlying: Error
    public let result: RunResult
    public var description: String { "run \(runId) \(status.rawValue): \(underlying)" }
}
