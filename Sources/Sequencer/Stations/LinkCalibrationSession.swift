import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import SessionProtocol

/// The link calibration of two sites, measured jointly over the session channel (docs/two-sites.md):
/// what `LinkCalibration` does on one table, where one routine drives both stations' instruments
/// and carries the server's reference meter to the client's input, split so that each station
/// drives only its own instruments and records its own part.
///
/// A session of purpose `linkCalibration`: the server plays a public calibration frame (Gaussian
/// amplitudes from `Plan.frameSeed`, one mode per row, μ at its own output port; no weights) and the
/// client's data is the identity (no images). Four blocks, one per `Stage` of the client's optics:
/// transparent, amplifier at G with nothing kept, the honest split, the honest split with the
/// client's LO phase aligned. After each block the server sends its T̂ and ε̂ of the stage as the
/// verdict and both commit.
/// - The server records (`.link` in its store) what it sees of the link and the client's optics
///   relative to its back-to-back reference: the round trip, the client's gain, kept fraction and
///   excess noise at its receiver. It cannot separate the forward from the return loss (that took
///   a meter at the client's input).
/// - The client records (`.link` in its store) how its readings map to the intended amplitudes of
///   the public frame — reading gain, offset and LO phase at the session's G — which is what its
///   decoder needs (`ClientCalibration`).
public enum LinkCalibrationSession {
    /// The client's optics in each block of the session.
    public enum Stage: Int, CaseIterable, Sendable {
        case transparent, amplified, honest, aligned

        public var name: String {
            switch self {
            case .transparent: "transparent (G = 1, nothing kept)"
            case .amplified: "amplifier at G, nothing kept"
            case .honest: "honest split (kept 1 − 1/G)"
            case .aligned: "honest split, client LO aligned"
            }
        }

        /// (gain, kept fraction) the client sets.
        public func optics(gain: Double) -> (gain: Double, kept: Double) {
            switch self {
            case .transparent: (1, 0)
            case .amplified: (gain, 0)
            case .honest, .aligned: (gain, 1 - 1 / gain)
            }
        }

        /// Whether the client fits its readings in this block.
        var fitsClient: Bool { self == .honest || self == .aligned }
    }

    /// The session's public plan.
    public struct Plan: Sendable {
        public var gain = 2.0
        public var photonsPerMode = 4.0
        public var rows = 4 * 64 * 392 / 8
        public var shotsPerStage = 256
        public var shotsPerBurst = 16
        public var frameSeed: UInt64 = 0x11E
        /// The most rows a client accepts (the default plan has 12,544).
        public static let maximumRows = 1 << 16

        public init() {}

        public init(_ s: CalibrationSettings) {
            gain = s.gain; photonsPerMode = s.photonsPerMode
            rows = 4 * s.referenceRows * s.referenceModesPerRow / 8
            shotsPerStage = max(8, s.referenceShots)
        }

        public var layout: FrameLayout { FrameLayout(rows: rows, modesPerRow: 1, vacuumSlotsPerRow: 1) }
        public var frame: MeasurementFrame { .gaussian(layout: layout, photons: photonsPerMode, patternShots: 1, seed: frameSeed) }

        public var parameters: SessionParameters {
            var p = SessionParameters.make(
                gain: gain, photonsPerMode: photonsPerMode, modesPerRow: 1, vacuumSlotsPerRow: 1, layers: [(rows: UInt32(rows), modesPerRow: 1)],
                images: UInt32(Stage.allCases.count * shotsPerStage), blockImages: UInt32(shotsPerStage), shotsPerBurst: UInt32(shotsPerBurst),
                weightLeakageBudgetBitsPerMode: 0.1, delta: 1e-6)
            p.purpose = .linkCalibration
            p.frameSeed = frameSeed
            return p
        }

        /// The plan a client reads from the server's request, refused unless it is a link calibration
        /// of one mode per row of a size this code would ask for itself.
        public init(checking p: SessionParameters) throws {
            guard p.purpose == .linkCalibration else { throw RunError.operatingPoint("the server offers an inference session, not a link calibration: join it with `qbench client` without --calibrate-link") }
            guard p.layers.count == 1, p.layers[0].modesPerRow == 1, p.modesPerRow == 1, p.vacuumSlotsPerRow == 1,
                  // What the client records per burst is rows × shots readings: bounded, whatever a server asks.
                  (1...Self.maximumRows).contains(Int(p.layers[0].rows)), (8...4096).contains(Int(p.blockImages)),
                  Int(p.images) == Stage.allCases.count * Int(p.blockImages), (1...64).contains(Int(p.shotsPerBurst)),
                  p.gain.isFinite, (1...100).contains(p.gain), p.photonsPerMode.isFinite, p.photonsPerMode > 0, p.photonsPerMode <= 1e4 else {
                throw RunError.operatingPoint("the link calibration's plan is not one this client runs (\(p.layers.count) layers, G = \(p.gain), μ = \(p.photonsPerMode), \(p.images) shots)")
            }
            gain = p.gain; photonsPerMode = p.photonsPerMode; rows = Int(p.layers[0].rows)
            shotsPerStage = Int(p.blockImages); shotsPerBurst = Int(p.shotsPerBurst); frameSeed = p.frameSeed
        }
    }

    /// What each stage showed the server.
    public struct StageEstimate: Codable, Sendable {
        public let stage: String
        public let gainSet: Double, keptSet: Double
        public let transmittance: Double, transmittanceSE: Double
        public let excessNoise: Double, excessNoiseSE: Double
        public let signalSlots: Int
    }

    struct ServerRaw: Codable { let client: String; let sessionID: String; let stages: [StageEstimate] }
    struct ClientRaw: Codable { let sessionID: String; let matrix: [Double]; let loPhase: Double; let verdicts: [[Double]] }

    static func timeout(_ env: StationEnvironment) -> Duration { env.peerTimeout }

    // MARK: server

    /// The server's side: plays the calibration frame through the client for each stage, estimates
    /// T̂ and ε̂ from its own receiver against its back-to-back reference, and records its part.
    /// The server's instruments end in their safe state whatever happens.
    public static func serve(_ plan: Plan, env: StationEnvironment, client: String, channel: any SessionChannel) async throws -> CalibrationRecord {
        let endpoint = SessionEndpoint(side: .server, softwareVersion: env.codeVersion, channel: channel)
        let sessionID = "link-" + RunDatabase.newRunID()
        let ctx = CalibrationContext(bench: env.bench, store: env.store, settings: CalibrationSettings(), codeVersion: env.codeVersion, log: { _ in })
        var stages: [StageEstimate] = []
        var inputs: [String] = []
        do {
            let bench = env.bench
            let cal = try await ServerCalibration.load(bench: bench, store: env.store)
            inputs = cal.recordIDs
            let flow = { () async throws -> SessionMessage in try await receiveFlow(endpoint, timeout: timeout(env)) { _, _ in } }
            let hello = try await flow()
            guard case .hello = hello else { throw RunError.peer("the client opened with \(hello.kind), not hello") }
            try await endpoint.send(endpoint.hello)
            let p = plan.parameters
            try await endpoint.send(.request(sessionID: sessionID, parameters: p, firstBlock: 0))
            switch try await flow() {
            case .accept: break
            case let .deny(d): throw RunError.denied(d.reason)
            case let other: throw RunError.peer("the client answered the request with \(other.kind)")
            }
            // The operating point: the server's own calibration, the public frame at μ.
            let laser = try bench.laser(), modulator = try bench.modulator(), rx = try bench.receiver(.serverReceiver)
            let trigger = try bench.trigger(), sw = try bench.opticalSwitch()
            if !(try await laser.isEmitting()) { try await laser.setCurrent(.zero); try await laser.setEmission(true) }
            try await laser.ramp(to: cal.laserCurrent)
            for (channel, v) in cal.biases.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { try await modulator.setBias(channel, v) }
            try await rx.setLocalOscillatorPower(cal.serverLO.power)
            try await rx.setLocalOscillatorPhase(cal.serverLO.phase)
            try await rx.setInputBlocked(false)
            let frame = plan.frame
            let encoded = try cal.transmitter.encode(re: frame.re, im: frame.im)
            try await bench.attenuator().setAttenuation(encoded.attenuation)
            try await modulator.loadDrive(i: encoded.i, q: encoded.q)
            try await rx.loadSlotPattern(frame.pattern)
            try await sw.route(.client)
            if bench.has(.shutter) { try await bench.shutter().setOpen(true) }
            var modes: UInt64 = 0
            for stage in Stage.allCases {
                let block = stage.rawValue
                try await endpoint.send(.layerReady(block: UInt32(block), layer: 0))
                var stats = ReturnedLightStatistics()
                for burst in 0..<p.burstCount(block: block) {
                    guard case let .clientArmed(a) = try await flow() else { throw RunError.peer("expected clientArmed in stage \(stage.name)") }
                    let n = Int(a.shots)
                    if let why = env.stop.requested { throw RunError.stopped(why) }
                    if !(try await bench.interlockIsClear()) {
                        throw RunError.interlock("the interlock is open: the link calibration stops (run it again once it is clear)")
                    }
                    try await rx.arm(shots: n)
                    try await trigger.fire(shots: n)
                    if !(try await bench.interlockIsClear()) {
                        throw RunError.interlock("the interlock tripped during a burst: the link calibration stops (run it again once it is clear)")
                    }
                    try await endpoint.send(.fired(block: UInt32(block), layer: 0, burst: UInt32(burst)))
                    guard case .clientMeasured = try await flow() else { throw RunError.peer("expected clientMeasured in stage \(stage.name)") }
                    let samples = try await rx.fetch(timeout: .seconds(60))
                    guard samples.clippedSamples == 0 else {
                        throw RunError.saturated("\(samples.clippedSamples) samples of the link calibration's stage \(stage.name) clipped")
                    }
                    try frame.accumulate(checked: samples.volts, shots: n, into: &stats)
                    try await endpoint.send(.returnedLightAcquired(block: UInt32(block), layer: 0, burst: UInt32(burst)))
                }
                let est = try ChannelEstimate(statistics: stats, receiver: cal.serverReceiver)
                let optics = stage.optics(gain: plan.gain)
                stages.append(StageEstimate(stage: stage.name, gainSet: optics.gain, keptSet: optics.kept, transmittance: est.transmittance,
                                            transmittanceSE: est.transmittanceStandardError, excessNoise: est.excessNoise,
                                            excessNoiseSE: est.excessNoiseStandardError, signalSlots: est.signalSlots))
                modes += UInt64(est.signalSlots)
                guard est.transmittance.isFinite, est.excessNoise.isFinite else { throw RunError.check("stage \(stage.name): T̂ = \(est.transmittance), ε̂ = \(est.excessNoise)") }
                try await endpoint.send(.verdict(.with {
                    $0.block = UInt32(block)
                    $0.transmittance = est.transmittance
                    $0.excessNoise = est.excessNoise
                    $0.transmittanceLowerBound = est.transmittance - 4 * est.transmittanceStandardError
                    $0.excessNoiseUpperBound = est.excessNoise + 4 * est.excessNoiseStandardError
                    $0.modesSoFar = modes
                    $0.decision = .collecting
                    $0.reason = "link calibration: \(stage.name)"
                }))
                _ = try await endpoint.commit()
                guard case .commit = try await flow() else { throw RunError.peer("the client did not echo the commit of stage \(stage.name)") }
            }
            try await endpoint.send(.end(summary: "link calibrated"))
            guard case .end = try await flow() else { throw RunError.peer("the client did not end the link calibration") }
        } catch {
            if await endpoint.outcome == nil { try? await endpoint.send(.abort(reason: "server: \(error)")) }
            await endpoint.close()
            await env.bench.enterSafeState(of: .server) { _ in }
            throw error
        }
        await endpoint.close()
        await env.bench.enterSafeState(of: .server) { _ in }
        // The server's part: round trip, the client's gain and kept fraction as the returned light shows them.
        let t0 = stages[0], a = stages[1], h = stages[2]
        let tRound = t0.transmittance, gain = a.transmittance / tRound
        let rel = { (x: StageEstimate) in x.transmittanceSE / x.transmittance }
        let gainRel = (rel(a) * rel(a) + rel(t0) * rel(t0)).squareRoot()
        let kept = 1 - h.transmittance / tRound / gain
        return try await ctx.save(
            kind: .link, role: .link,
            values: [
                "transmittance.round-trip": .init(tRound, uncertainty: t0.transmittanceSE, unit: "1"),
                "client.gain": .init(gain, uncertainty: gain * gainRel, unit: "1"),
                "client.excess-at-receiver": .init(a.excessNoise, uncertainty: a.excessNoiseSE, unit: "SNU"),
                "client.kept-fraction": .init(kept, uncertainty: h.transmittanceSE / tRound / gain, unit: "1"),
                "gain.set": .init(plan.gain, uncertainty: 0, unit: "1"),
            ],
            method: "joint link calibration over the session channel with \(client): the public frame (seed \(plan.frameSeed), μ = \(plan.photonsPerMode) at the server's output) through the client's optics in four stages (transparent, amplifier at G = \(plan.gain) with nothing kept, honest split, honest split with the client's LO aligned); T̂ and ε̂ from the server's receiver against its back-to-back reference",
            fit: ["amplifiedExcessNoise": a.excessNoise],
            raw: ServerRaw(client: client, sessionID: sessionID, stages: stages), plot: nil, inputs: inputs)
    }

    // MARK: client

    /// The client's side: sets its optics for each stage, measures the public frame with ξ = the
    /// identity, fits its readings against the frame's intended amplitudes (aligning its LO between
    /// the two honest stages) and records its part. Its instruments end in their safe state.
    public static func join(env: StationEnvironment, channel: any SessionChannel) async throws -> CalibrationRecord {
        let endpoint = SessionEndpoint(side: .client, softwareVersion: env.codeVersion, channel: channel)
        let bench = env.bench
        let ctx = CalibrationContext(bench: bench, store: env.store, settings: CalibrationSettings(), codeVersion: env.codeVersion, log: { _ in })
        var fit = ClientReadingFit(), firstFit: (a: Double, b: Double, offset: Double, aSE: Double)?
        var verdicts: [[Double]] = []
        var loPhase = 0.0
        let plan: Plan, sessionID: String, homodyne: CalibrationRecord
        do {
            let crx = try bench.receiver(.clientReceiver), amplifier = try bench.amplifier(), splitter = try bench.splitter()
            let processor = try bench.clientProcessor()
            homodyne = try await ctx.prerequisite(.homodyne, role: .clientReceiver, for: .link)
            let flow = { () async throws -> SessionMessage in try await receiveFlow(endpoint, timeout: timeout(env)) { _, _ in } }
            try await endpoint.send(endpoint.hello)
            guard case .hello = try await flow() else { throw RunError.peer("the server did not answer the hello") }
            guard case let .request(r) = try await flow() else { throw RunError.peer("the server sent no session request") }
            do { plan = try Plan(checking: r.parameters) } catch {
                try? await endpoint.send(.deny(reason: String("\(error)".utf8.prefix(SessionStateMachine.maximumTextBytes)) ?? "refused"))
                throw RunError.denied("\(error)")
            }
            sessionID = r.sessionID
            try await endpoint.send(.accept(parameters: r.parameters))
            guard let lo = homodyne["lo-power"] else { throw CalibrationError.corrupt(path: homodyne.id, reason: "it has no value 'lo-power'") }
            try await crx.setLocalOscillatorPower(.watts(lo.value))
            try await crx.setLocalOscillatorPhase(.zero)
            try await crx.setInputBlocked(false)
            let frame = plan.frame, layout = plan.layout, p = r.parameters
            for stage in Stage.allCases {
                let block = stage.rawValue
                let optics = stage.optics(gain: plan.gain)
                try await amplifier.setGain(optics.gain)
                try await splitter.setKeptFraction(optics.kept)
                if stage == .aligned, let m = firstFit {
                    loPhase = -atan2(m.b, m.a)
                    try await crx.setLocalOscillatorPhase(.radians(loPhase))
                }
                guard case let .layerReady(ready) = try await flow(), Int(ready.block) == block else { throw RunError.peer("expected the calibration frame of stage \(stage.name)") }
                for burst in 0..<p.burstCount(block: block) {
                    if let why = env.stop.requested { throw RunError.stopped(why) }
                    let (shots, first) = p.burst(block: block, burst: burst)
                    let n = Int(shots)
                    try await processor.program(Array(repeating: [ComplexSymbol(1, 0)], count: n), layout: layout)
                    try await crx.arm(shots: n)
                    try await endpoint.send(.clientArmed(block: UInt32(block), layer: 0, burst: UInt32(burst), shots: shots, firstShotIndex: first))
                    guard case .fired = try await flow() else { throw RunError.peer("expected fired in stage \(stage.name)") }
                    let readings = try await crx.fetch(timeout: .seconds(60)).volts
                    guard readings.count == n * layout.rows else { throw RunError.check("\(readings.count) readings for \(n) shots of \(layout.rows) rows") }
                    if stage.fitsClient { fit.add(readings: readings, frame: frame, shots: n) }
                    try await endpoint.send(.clientMeasured(block: UInt32(block), layer: 0, burst: UInt32(burst)))
                    guard case .returnedLightAcquired = try await flow() else { throw RunError.peer("expected returnedLightAcquired in stage \(stage.name)") }
                }
                if stage == .honest { firstFit = fit.matrix(); fit = ClientReadingFit() }
                guard case let .verdict(v) = try await flow() else { throw RunError.peer("expected the server's estimate of stage \(stage.name)") }
                verdicts.append([v.transmittance, v.excessNoise])
                guard case .commit = try await flow() else { throw RunError.peer("expected the server's commit of stage \(stage.name)") }
                _ = try await endpoint.commit()
            }
            guard case .end = try await flow() else { throw RunError.peer("expected the server's end") }
            try await endpoint.send(.end(summary: "client: link calibrated"))
        } catch {
            if await endpoint.outcome == nil { try? await endpoint.send(.abort(reason: "client: \(error)")) }
            await endpoint.close()
            await bench.enterSafeState(of: .client) { _ in }
            throw error
        }
        await endpoint.close()
        await bench.enterSafeState(of: .client) { _ in }
        let aligned = fit.matrix()
        guard aligned.a.isFinite, aligned.offset.isFinite, aligned.a != 0 else { throw RunError.check("the client's readings did not fit the calibration frame (gain \(aligned.a))") }
        let m = firstFit ?? aligned
        return try await ctx.save(
            kind: .link, role: .link,
            values: [
                "client.reading-gain": .init(aligned.a, uncertainty: aligned.aSE, unit: "V/√photon"),
                "client.reading-offset": .init(aligned.offset, uncertainty: 0, unit: "V"),
                "client.lo-phase": .init(loPhase, uncertainty: 0, unit: "rad"),
                "gain.set": .init(plan.gain, uncertainty: 0, unit: "1"),
            ],
            method: "joint link calibration over the session channel: the server's public frame (seed \(plan.frameSeed), μ = \(plan.photonsPerMode) at its output) measured with ξ = identity; readings fitted against the frame's intended amplitudes in the honest split, the LO phase aligned from that fit, the gain and offset from the aligned stage",
            fit: ["a": m.a, "b": m.b],
            raw: ClientRaw(sessionID: sessionID, matrix: [m.a, m.b, aligned.a, aligned.b], loPhase: loPhase, verdicts: verdicts),
            plot: nil, inputs: [homodyne.id])
    }
}
