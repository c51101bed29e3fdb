import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import SessionProtocol

/// The server's side of the protocol (PROTOCOL.md §3): owns the model, its bench roles (laser,
/// modulator, VOA, tap, switch, receiver, trigger, shutter, interlock), its calibration, its run
/// database and the secret X/P basis. It estimates T̂ and ε̂ from its own measurements and decides
/// itself; nothing the client says enters the check. It never holds an image, a label, a reading,
/// a prediction or an accuracy: its records cannot leak them.
///
/// Block by block: every completed step is journaled before the next starts, every exit path
/// leaves its instruments in their safe state, and a session killed at any point resumes from its
/// last commit with the same final result.
final class ServerStation: PausingStation, @unchecked Sendable {
    static let localClient = ServerSettings.localClient

    let configuration: RunConfiguration
    let model: ModelFile
    let env: StationEnvironment
    let settings: ServerSettings
    let runId: String
    var checkpoint: ServerCheckpoint
    var calibration: ServerCalibration?
    var frames: [LayerFrame] = []
    let plan: [PlanStep]
    let started = Date()
    var lastAssessment: LeakageCheck.Assessment?
    /// The session's secret X/P basis (drawn at the first start, or opened from the checkpoint).
    var basis: SecretBasis?
    var sessionPaused = false
    var side: Station { .server }

    init(runId: String, configuration: RunConfiguration, model: ModelFile, env: StationEnvironment, settings: ServerSettings, checkpoint: ServerCheckpoint) {
        self.runId = runId; self.configuration = configuration; self.model = model; self.env = env; self.settings = settings
        self.checkpoint = checkpoint
        plan = PlanStep.plan(images: configuration.images, blockImages: configuration.blockImages)
    }

    /// A new session's record in the server's database. The configuration keeps no client data:
    /// the data directory is the client's business.
    static func create(_ configuration: RunConfiguration, model: ModelFile, env: StationEnvironment, settings: ServerSettings) async throws -> ServerStation {
        try configuration.validate(model: model)
        var stored = configuration
        stored.dataDirectory = ""
        stored.shotsPerBurst = configuration.shotsPerBurst ?? env.chunkShots
        try stored.validate(model: model)
        let id = RunDatabase.newRunID()
        let snapshot = await env.bench.snapshot(of: .server)
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try env.database.createRun(id: id, configuration: stored, bench: env.bench.description.name,
                                   benchSnapshot: try encoder.encode(snapshot), calibrationIds: [], modelId: model.modelID,
                                   codeVersion: env.codeVersion, arguments: env.arguments)
        return ServerStation(runId: id, configuration: stored, model: model, env: env, settings: settings, checkpoint: .initial())
    }

    /// An interrupted, failed or killed session of the server's database, ready to continue from
    /// its last commit.
    static func reopen(runId: String, model: ModelFile, env: StationEnvironment, settings: ServerSettings) throws -> ServerStation {
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
        try summary.configuration.validate(model: model)
        guard summary.modelId == model.modelID else {
            throw RunError.notResumable("run \(runId) used model \(summary.modelId), not \(model.modelID): pass --model with that file")
        }
        guard summary.bench == env.bench.description.name else {
            throw RunError.notResumable("run \(runId) ran on bench '\(summary.bench)', not '\(env.bench.description.name)': pass --bench with that file")
        }
        var checkpoint = ServerCheckpoint.initial()
        if let saved = try env.database.latestCheckpoint(runId) {
            checkpoint = try RunDatabase.decoder.decode(ServerCheckpoint.self, from: saved.data)
        }
        try env.database.setStatus(runId, .running)
        return ServerStation(runId: runId, configuration: summary.configuration, model: model, env: env, settings: settings, checkpoint: checkpoint)
    }

    /// Shots per trigger burst of this session (its recorded value; older records: the station's).
    var burstShots: Int {
        min(RunConfiguration.burstShotsRange.upperBound, max(RunConfiguration.burstShotsRange.lowerBound, configuration.shotsPerBurst ?? env.chunkShots))
    }

    /// The public operating point the server proposes (nothing in it is derived from the weights
    /// beyond the layer shapes).
    var parameters: SessionParameters {
        let n = model.network.layers.map { ($0.cols + 1) / 2 }.max() ?? 1
        return SessionParameters.make(
            gain: configuration.gain, photonsPerMode: configuration.photonsPerMode, modesPerRow: UInt32(n),
            vacuumSlotsPerRow: UInt32(configuration.vacuumSlotsPerRow),
            layers: model.network.layers.map { (rows: UInt32($0.rows), modesPerRow: UInt32(($0.cols + 1) / 2)) },
            images: UInt32(configuration.images), blockImages: UInt32(min(configuration.blockImages, configuration.images)),
            shotsPerBurst: UInt32(burstShots),
            weightLeakageBudgetBitsPerMode: configuration.budgetBitsPerMode, delta: configuration.delta)
    }

    /// Draws the session's secret basis at the first start (sealed into the checkpoint, which the
    /// warm-up journals), or opens the one the checkpoint holds on resume.
    func openOrDrawBasis() throws {
        if let sealed = checkpoint.basis {
            do { basis = try SecretBasis.open(sealed, with: env.store.key, runId: runId) } catch let error as SecretBasisError {
                throw RunError.notResumable("run \(runId)'s secret basis cannot be continued: \(error)")
            } catch {
                throw RunError.notResumable("run \(runId)'s secret basis cannot be opened with this station's key (\(error)): resume it on the station that started it")
            }
            if case .secret = settings.basis, basis?.isTestBasis == true {
                throw RunError.notResumable("run \(runId) was started with a deterministic test basis: it cannot be resumed as a secure session")
            }
            return
        }
        let fresh = SecretBasis.fresh(settings.basis)
        checkpoint.basis = try fresh.sealed(with: env.store.key, runId: runId)
        basis = fresh
    }

    // MARK: lifecycle

    func journal(_ kind: JournalEntry.Kind, _ step: String, detail: String? = nil, block: BlockRecord? = nil, checkpoint: Bool = false) throws {
        let data = checkpoint ? try RunDatabase.encoder.encode(self.checkpoint) : nil
        try env.database.journal(runId, kind: kind, step: step, detail: detail, block: block, checkpoint: data)
        env.observer.step(detail.map { "server: \(step): \($0)" } ?? "server: \(step)")
    }

    func checkStop() throws {
        if let why = env.stop.requested { throw RunError.stopped(why) }
        // The database gave back its reserve to a full disk: what is left is for the safe state
        // and the run's status, so the run stops here and can be resumed once there is space.
        if env.database.usedReserve {
            throw RunError.stopped("the file system holding \(env.database.url.path) is full; free space, then resume the run")
        }
    }

    /// Runs the session with the client at the other end of `endpoint`, to the end (or to an
    /// abort, a stop, a refusal or an error); the server's instruments end in their safe state.
    func serve(_ endpoint: SessionEndpoint, resuming: Bool) async -> ServerOutcome {
        // The run spreads shots over the cores itself; OpenBLAS's own threads only spin after each
        // small product, and their reduction order would make ε̂ depend on the core count.
        setLinearAlgebraThreads(1)
        env.observer.started(runId: runId, plan: plan)
        var status = RunStatus.completed
        var failure: Error?
        let wallAtStart = checkpoint.wallSeconds
        do {
            if resuming {
                try journal(.event, "resume", detail: "continuing at block \(checkpoint.nextBlock)")
                await safeState()
            }
            try openOrDrawBasis()
            try await preflight()
            try journal(.step, "preflight", detail: "calibration records: \(calibration?.recordIDs.joined(separator: ", ") ?? ""); hidden units relabelled by the session's secret permutation")
            try checkLedger()
            if resuming, checkpoint.client.signalSlots > 0 { lastAssessment = try evaluate() }
            try await openSession(endpoint)
            try await warmUp()
            if resuming, !checkpoint.drivers.isEmpty {
                try await env.bench.restore(checkpoint.drivers)
                try journal(.event, "drivers restored", detail: "hidden state of \(checkpoint.drivers.keys.sorted().joined(separator: ", ")) as at block \(checkpoint.nextBlock)")
            } else {
                checkpoint.drivers = try await env.bench.checkpoint(of: .server)
            }
            try journal(.step, "warm-up", checkpoint: !resuming)
            for step in plan {
                guard case let .block(index, first, count) = step, index >= checkpoint.nextBlock else { continue }
                try checkStop()
                let record = try await runBlock(endpoint, index: index, firstImage: first, images: count)
                checkpoint.nextBlock = index + 1
                checkpoint.drivers = try await env.bench.checkpoint(of: .server)
                checkpoint.wallSeconds = wallAtStart + Date().timeIntervalSince(started)
                try await sendVerdict(endpoint, record)
                if record.decision == LeakageCheck.Decision.abort.rawValue {
                    // The block, the decision and the status in one transaction: no resume can
                    // serve an aborted client again.
                    try env.database.journalAbort(runId, step: step.description, block: record,
                                                  checkpoint: try RunDatabase.encoder.encode(checkpoint), reason: record.reason)
                    env.observer.step("server: \(step.description): abort: \(record.reason)")
                    env.observer.block(record)
                    status = .aborted
                    try env.database.charge(runId, client: settings.clientIdentity, images: checkpoint.imagesDone, boundBitsPerMode: record.weightLeakageUpperBound)
                    try await commit(endpoint, block: index)
                    await env.observer.afterBlock(index, bench: env.bench)
                    break
                }
                // The commit is the resume point on both sides: journaled once the client echoed it.
                try await commit(endpoint, block: index)
                try env.database.charge(runId, client: settings.clientIdentity, images: checkpoint.imagesDone, boundBitsPerMode: record.weightLeakageUpperBound)
                try journal(.step, step.description, detail: "\(record.decision): \(record.reason)", block: record, checkpoint: true)
                env.observer.block(record)
                await env.observer.afterBlock(index, bench: env.bench)
            }
            try await endpoint.send(.end(summary: status == .aborted ? "aborted by the server's check" : "all blocks served"))
            let reply = try await receiveFlow(endpoint)
            guard case .end = reply else { throw RunError.peer("the client answered the end with \(reply.kind)") }
        } catch {
            (status, failure) = RunStatus.ending(error)
        }
        // Abort is allowed at any point of a session: the client learns why, not only that the peer went away.
        if let failure, await endpoint.outcome == nil {
            try? await endpoint.send(.abort(reason: "server: \(failure)"))
        }
        await endpoint.close()
        await safeState()
        checkpoint.wallSeconds = wallAtStart + Date().timeIntervalSince(started)
        let result = makeResult(status: status)
        do { try env.database.setStatus(runId, status, result: result) } catch { failure = failure ?? error }
        try? journal(.event, "finish", detail: "\(status.rawValue)\(failure.map { ": \($0)" } ?? "")")
        return ServerOutcome(runId: runId, status: status, result: result, failure: failure)
    }

    /// Leakage is per use: a client's sessions add up. Before light, the session's most (its
    /// budget per mode over every image it asks for) on top of what the client already holds must
    /// stay within the lifetime budget.
    func checkLedger() throws {
        let held = try env.database.account(settings.clientIdentity, excluding: runId)
        let planned = configuration.budgetBitsPerMode * Double(configuration.images)
        try journal(.event, "ledger", detail: "client \(settings.clientIdentity): \(String(format: "%.4g", held.chargeBitsPerSymbol)) bit per weight symbol over \(held.sessions) earlier sessions; this one up to \(String(format: "%.4g", planned))")
        if let lifetime = settings.lifetimeBudgetBitsPerSymbol, held.chargeBitsPerSymbol + planned > lifetime {
            throw RunError.ledger("client \(settings.clientIdentity) holds \(String(format: "%.4g", held.chargeBitsPerSymbol)) bit per weight symbol from \(held.sessions) sessions; this session (\(configuration.images) images at ≤ \(configuration.budgetBitsPerMode) bit/mode) could add \(String(format: "%.4g", planned)), beyond the lifetime budget of \(lifetime): serve fewer images, lower the budget, or retrain and serve new weights")
        }
    }

    /// Hello both ways, the request (from the next uncommitted block), the client's answer.
    func openSession(_ endpoint: SessionEndpoint) async throws {
        let hello = try await receiveFlow(endpoint)
        guard case .hello = hello else { throw RunError.peer("the client opened with \(hello.kind), not hello") }
        try await endpoint.send(endpoint.hello)
        try await endpoint.send(.request(sessionID: runId, parameters: parameters, firstBlock: UInt32(checkpoint.nextBlock)))
        let answer = try await receiveFlow(endpoint)
        switch answer {
        case .accept: try journal(.event, "session accepted", detail: "client accepted the operating point from block \(checkpoint.nextBlock)")
        case let .deny(d): throw RunError.denied(d.reason)
        default: throw RunError.peer("the client answered the request with \(answer.kind)")
        }
    }

    /// The next message of the flow (`receiveFlow`), the peer's pause and resume journaled here.
    func receiveFlow(_ endpoint: SessionEndpoint) async throws -> SessionMessage {
        try await Sequencer.receiveFlow(endpoint, timeout: env.peerTimeout) { step, detail in try journal(.event, step, detail: detail) }
    }

    func sendVerdict(_ endpoint: SessionEndpoint, _ r: BlockRecord) async throws {
        let decision: SessionDecision = switch r.decision {
        case LeakageCheck.Decision.abort.rawValue: .abort
        case LeakageCheck.Decision.certified.rawValue: .certified
        default: .collecting
        }
        // The check never certifies from NaN (it stops first); an unbounded bound goes as the
        // largest finite number, which reads as what it is.
        let finite = { (x: Double) in x.isNaN ? Double.greatestFiniteMagnitude : min(max(x, -.greatestFiniteMagnitude), .greatestFiniteMagnitude) }
        try await endpoint.send(.verdict(.with {
            $0.block = UInt32(r.blockIndex)
            $0.transmittance = finite(r.transmittance)
            $0.excessNoise = finite(r.excessNoise)
            $0.transmittanceLowerBound = finite(r.transmittanceLowerBound)
            $0.excessNoiseUpperBound = finite(r.excessNoiseUpperBound)
            $0.weightLeakageBitsPerMode = finite(r.weightLeakageBitsPerMode)
            $0.weightLeakageBoundBitsPerMode = finite(r.weightLeakageUpperBound)
            $0.modesSoFar = UInt64(max(0, r.modes))
            $0.decision = decision
            $0.reason = String(r.reason.utf8.prefix(SessionStateMachine.maximumTextBytes)) ?? ""
        }))
    }

    func commit(_ endpoint: SessionEndpoint, block: Int) async throws {
        try await endpoint.commit()
        let echo = try await receiveFlow(endpoint)
        guard case .commit = echo else { throw RunError.peer("the client answered the commit of block \(block) with \(echo.kind)") }
    }

    /// Safe state of the server's instruments in the bench's order, every action journaled; never throws.
    func safeState() async {
        await env.bench.enterSafeState(of: .server) { record in
            _ = try? self.env.database.journal(self.runId, kind: .safeState, step: record.step,
                                               detail: record.succeeded ? "ok" : "failed: \(record.error ?? "")")
        }
    }

    func makeResult(status: RunStatus) -> RunResult {
        let a = lastAssessment
        return RunResult(
            runId: runId, bench: env.bench.description.name, images: checkpoint.imagesDone, accuracy: nil,
            aborted: status == .aborted, abortReason: status == .aborted ? a?.reason : nil,
            certified: a?.decision == .certified, blocks: checkpoint.nextBlock, modes: checkpoint.client.signalSlots,
            transmittanceEstimate: a?.estimate.transmittance ?? .nan, excessNoiseEstimate: a?.estimate.excessNoise ?? .nan,
            excessNoiseUpperBound: a?.excessNoiseUpperBound ?? .nan, weightLeakageBitsPerMode: a?.leakageBitsPerMode ?? .nan,
            weightLeakageUpperBoundBitsPerMode: a?.leakageUpperBound ?? .nan, dataLeakageBits: dataLeakageBits, seconds: checkpoint.wallSeconds)
    }

    /// The Cramér–Rao data-leakage bound of this session's gain and row length (PROTOCOL.md §5).
    var dataLeakageBits: Double {
        (try? ClientAmplifier(gain: configuration.gain))
            .flatMap { try? DataLeakage.cramerRaoBits(amplifier: $0, modesPerRow: (model.network.inputSize + 1) / 2) } ?? .nan
    }
}

/// How the server's side of a session ended.
struct ServerOutcome: Sendable {
    let runId: String
    let status: RunStatus
    let result: RunResult
    let failure: Error?
}
