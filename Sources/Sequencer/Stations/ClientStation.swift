import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import SessionProtocol

/// The client's side of the protocol (PROTOCOL.md §3.2–3.3): owns its images (and labels, when it
/// has them), its bench roles (interferometer, amplifier, splitter, receiver), its calibration and
/// its run database. Before any light it checks the operating point the server offers against its
/// own data-leakage budget and refuses otherwise. It alone computes predictions and accuracy. It
/// never holds a weight, a returned sample or the server's basis: its records cannot leak them.
final class ClientStation: PausingStation, @unchecked Sendable {
    let env: StationEnvironment
    let testSet: MNISTSet
    let settings: ClientSettings
    var calibration: ClientCalibration?
    var runId = ""
    var checkpoint = ClientCheckpoint.initial()
    var lastVerdict: SessionVerdict?
    /// The operating point the client accepted.
    var parameters: SessionParameters?
    let started = Date()
    var sessionPaused = false
    var side: Station { .client }

    init(env: StationEnvironment, testSet: MNISTSet, settings: ClientSettings) {
        self.env = env; self.testSet = testSet; self.settings = settings
    }

    func journal(_ kind: JournalEntry.Kind, _ step: String, detail: String? = nil, block: BlockRecord? = nil, checkpoint: Bool = false) throws {
        guard !runId.isEmpty else { return }
        let data = checkpoint ? try RunDatabase.encoder.encode(self.checkpoint) : nil
        try env.database.journal(runId, kind: kind, step: step, detail: detail, block: block, checkpoint: data)
        env.observer.step(detail.map { "client: \(step): \($0)" } ?? "client: \(step)")
    }

    /// Takes part in the session the server at the other end of `endpoint` runs, to its end; the
    /// client's instruments end in their safe state.
    func join(_ endpoint: SessionEndpoint) async -> ClientOutcome {
        setLinearAlgebraThreads(1)
        var status = RunStatus.completed
        var failure: Error?
        var wallAtStart = 0.0
        do {
            try await preflight()
            try await endpoint.send(endpoint.hello)
            let hello = try await receiveFlow(endpoint)
            guard case .hello = hello else { throw RunError.peer("the server answered the hello with \(hello.kind)") }
            let request = try await receiveFlow(endpoint)
            guard case let .request(r) = request else { throw RunError.peer("the server sent \(request.kind), not a session request") }
            do {
                try admit(r.parameters)
                try openRecord(sessionID: r.sessionID, parameters: r.parameters, firstBlock: Int(r.firstBlock))
                wallAtStart = checkpoint.wallSeconds
                try await warmUp(gain: r.parameters.gain)
                if !checkpoint.drivers.isEmpty {
                    try await env.bench.restore(checkpoint.drivers)
                } else {
                    checkpoint.drivers = try await env.bench.checkpoint(of: .client)
                }
            } catch {
                try? await endpoint.send(.deny(reason: String("\(error)".utf8.prefix(SessionStateMachine.maximumTextBytes)) ?? "refused"))
                throw RunError.denied("\(error)")
            }
            parameters = r.parameters
            try journal(.step, "preflight", detail: "calibration records: \(calibration?.recordIDs.joined(separator: ", ") ?? ""); I_x = \(String(format: "%.4g", dataLeakageBits(r.parameters))) bit/symbol within the budget \(settings.dataLeakageBudgetBits)")
            try journal(.step, "warm-up")
            try await endpoint.send(.accept(parameters: r.parameters))
            try journal(.step, "accepted", detail: "session \(r.sessionID) from block \(r.firstBlock): G = \(r.parameters.gain), μ = \(r.parameters.photonsPerMode)")
            let p = r.parameters
            for block in Int(r.firstBlock)..<p.blockCount {
                let verdict = try await runBlock(endpoint, parameters: p, index: block, wallAtStart: wallAtStart)
                if verdict.decision == .abort { status = .aborted; break }
            }
            let end = try await receiveFlow(endpoint)
            guard case .end = end else { throw RunError.peer("expected the server's end, got \(end.kind)") }
            try await endpoint.send(.end(summary: "client: \(checkpoint.imagesDone) images, \(checkpoint.correct) correct"))
        } catch {
            (status, failure) = RunStatus.ending(error)
        }
        if let failure, await endpoint.outcome == nil {
            try? await endpoint.send(.abort(reason: "client: \(failure)"))
        }
        await endpoint.close()
        await safeState()
        checkpoint.wallSeconds = wallAtStart + Date().timeIntervalSince(started)
        if !runId.isEmpty {
            do { try env.database.setStatus(runId, status, result: result(status: status)) } catch { failure = failure ?? error }
            try? journal(.event, "finish", detail: "\(status.rawValue)\(failure.map { ": \($0)" } ?? "")")
        }
        return ClientOutcome(runId: runId, status: status, imagesDone: checkpoint.imagesDone, correct: checkpoint.correct,
                             verdict: lastVerdict, failure: failure)
    }

    /// Whether the client has labels for its images (its own pictures may have none: then it
    /// predicts and reports no accuracy).
    var hasLabels: Bool { !testSet.labels.isEmpty }

    /// The client's record of the outcome: its accuracy beside the server's last verdict as received.
    func result(status: RunStatus) -> RunResult {
        let v = lastVerdict
        let number = { (x: Double?) in x ?? .nan }
        return RunResult(
            runId: runId, bench: env.bench.description.name, images: checkpoint.imagesDone,
            accuracy: checkpoint.imagesDone > 0 && hasLabels ? Double(checkpoint.correct) / Double(checkpoint.imagesDone) : nil,
            aborted: v?.decision == .abort, abortReason: v?.decision == .abort ? v?.reason : nil, certified: v?.decision == .certified,
            blocks: checkpoint.nextBlock, modes: Int(clamping: v?.modesSoFar ?? 0),
            transmittanceEstimate: number(v?.transmittance), excessNoiseEstimate: number(v?.excessNoise),
            excessNoiseUpperBound: number(v?.excessNoiseUpperBound), weightLeakageBitsPerMode: number(v?.weightLeakageBitsPerMode),
            weightLeakageUpperBoundBitsPerMode: number(v?.weightLeakageBoundBitsPerMode), dataLeakageBits: parameters.map(dataLeakageBits) ?? .nan,
            seconds: checkpoint.wallSeconds)
    }

    /// The client's instruments present and its calibration valid for them.
    func preflight() async throws {
        let bench = env.bench
        for role in [Role.clientProcessor, .clientAmplifier, .clientSplitter, .clientReceiver] where !bench.has(role) {
            throw Bench.AccessError.missingRole(role, bench: bench.description.name)
        }
        calibration = try await ClientCalibration.load(bench: bench, store: env.store)
        if !(try await bench.interlockIsClear(.clientInterlock)) {
            throw RunError.interlock("the client's interlock is not clear: close its enclosure / reset its safety chain, then join again")
        }
    }

    /// Whether the client takes part at this operating point: its data-leakage budget, its
    /// calibration's gain, its data's shape against the layers, the images it holds.
    func admit(_ p: SessionParameters) throws {
        guard p.purpose == .inference else {
            throw RunError.operatingPoint("the server offers a link calibration session, not an inference: join it with `qbench client --calibrate-link`")
        }
        guard let cal = calibration else { throw RunError.check("the client's calibration was not loaded") }
        let amplifier = try ClientAmplifier(gain: p.gain)
        guard let first = p.layers.first else { throw RunError.operatingPoint("the session has no layers") }
        let bits = try DataLeakage.cramerRaoBits(amplifier: amplifier, modesPerRow: Int(first.modesPerRow))
        guard bits <= settings.dataLeakageBudgetBits else {
            throw RunError.privacy("the offered operating point (G = \(p.gain), n = \(first.modesPerRow)) leaks I_x = \(String(format: "%.4g", bits)) bit/symbol of the client's data, above its budget of \(settings.dataLeakageBudgetBits): ask the server for a lower gain, or raise --privacy-budget if that is acceptable")
        }
        if abs(cal.gain - p.gain) > 1e-9 {
            throw RunError.operatingPoint("the client's active link calibration was made at G = \(cal.gain), the session asks for G = \(p.gain): run `qbench calibrate link --gain \(p.gain)` first")
        }
        guard Int(p.images) <= testSet.count else {
            throw RunError.operatingPoint("the session asks for \(p.images) images, the client holds \(testSet.count)")
        }
        var width = testSet.pixelsPerImage
        for (k, layer) in p.layers.enumerated() {
            guard Int(layer.modesPerRow) == (width + 1) / 2 else {
                throw RunError.operatingPoint("layer \(k) takes \(layer.modesPerRow) modes per row; the client's data at that layer is \(width) values wide (\((width + 1) / 2) modes)")
            }
            width = Int(layer.rows)
        }
        let c = configuration(p)
        do { try c.validate() } catch { throw RunError.invalidOption(name: error.option, value: "", expected: error.problem) }
    }

    /// The client's record of the session: what it agreed to, nothing of the server's.
    func configuration(_ p: SessionParameters) -> RunConfiguration {
        RunConfiguration(benchFile: env.bench.description.file, modelFile: "", dataDirectory: settings.dataDirectory,
                         images: Int(p.images), gain: p.gain, photonsPerMode: p.photonsPerMode, blockImages: Int(p.blockImages),
                         client: settings.behaviour, budgetBitsPerMode: p.weightLeakageBudgetBitsPerMode, delta: p.delta,
                         vacuumSlotsPerRow: Int(p.vacuumSlotsPerRow))
    }

    /// A new session gets a record; a resumed one continues from its checkpoint at `firstBlock`.
    func openRecord(sessionID: String, parameters p: SessionParameters, firstBlock: Int) throws {
        let db = env.database
        let known = (try? db.run(sessionID)) != nil
        runId = sessionID
        guard known else {
            guard firstBlock == 0 else {
                runId = ""
                throw RunError.notResumable("this client station has no record of session \(sessionID): it cannot continue it at block \(firstBlock)")
            }
            let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try db.createRun(id: sessionID, configuration: configuration(p), bench: env.bench.description.name, benchSnapshot: nil,
                             calibrationIds: calibration?.recordIDs ?? [], modelId: "(the server's)", codeVersion: env.codeVersion,
                             arguments: env.arguments)
            return
        }
        let summary = try db.run(sessionID)
        guard summary.configuration == configuration(p) else {
            throw RunError.notResumable("session \(sessionID) resumes with other parameters than the client agreed to")
        }
        checkpoint = .initial()
        if firstBlock > 0 {
            guard let saved = try db.checkpoints(sessionID).lazy.compactMap({ try? RunDatabase.decoder.decode(ClientCheckpoint.self, from: $0) })
                .first(where: { $0.nextBlock == firstBlock }) else {
                throw RunError.notResumable("the client station holds no state of session \(sessionID) at block \(firstBlock)")
            }
            checkpoint = saved
            lastVerdict = saved.verdict.flatMap { try? SessionVerdict(serializedBytes: $0) }
        }
        try db.setStatus(sessionID, .running)
        try journal(.event, "resume", detail: "continuing at block \(firstBlock)")
    }

    /// The client's optics at the session's gain, its receiver's LO.
    func warmUp(gain: Double) async throws {
        guard let cal = calibration else { throw RunError.check("warm-up before the calibration was loaded") }
        let bench = env.bench
        let crx = try bench.receiver(.clientReceiver)
        try await crx.setLocalOscillatorPower(cal.clientLO.power)
        try await crx.setLocalOscillatorPhase(cal.clientLO.phase)
        try await crx.setInputBlocked(false)
        try await bench.amplifier().setGain(gain)
        try await bench.splitter().setKeptFraction(1 - 1 / gain)
    }

    /// Before a burst: the client's interlock chain (`pauseWhileInterlockOpen`), its warm-up after a pause.
    func checkInterlock(_ endpoint: SessionEndpoint, gain: Double) async throws {
        try await pauseWhileInterlockOpen(endpoint, .clientInterlock) { try await warmUp(gain: gain) }
    }

    /// The safe state of the client's instruments, every step journaled; never throws.
    func safeState() async {
        await env.bench.enterSafeState(of: .client) { record in
            _ = try? self.journal(.safeState, record.step, detail: record.succeeded ? "ok" : "failed: \(record.error ?? "")")
        }
    }

    /// The next message of the flow (`receiveFlow`), the peer's pause and resume journaled here.
    func receiveFlow(_ endpoint: SessionEndpoint) async throws -> SessionMessage {
        try await Sequencer.receiveFlow(endpoint, timeout: env.peerTimeout) { step, detail in try journal(.event, step, detail: detail) }
    }
}

/// How the client's side of a session ended.
struct ClientOutcome: Sendable {
    let runId: String
    let status: RunStatus
    let imagesDone: Int
    let correct: Int
    let verdict: SessionVerdict?
    let failure: Error?
    var accuracy: Double? { imagesDone > 0 ? Double(correct) / Double(imagesDone) : nil }
}
