import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import SessionProtocol

extension ServerStation {
    /// One block on the server's side: per layer, the weight frames loaded and announced, every
    /// burst the client armed fired and its returned light measured in the secret basis, then the
    /// interleaved back-to-back reference; finally the check on everything so far.
    func runBlock(_ endpoint: SessionEndpoint, index: Int, firstImage: Int, images count: Int) async throws -> BlockRecord {
        let blockStart = Date()
        let bench = env.bench
        let modulator = try bench.modulator(), rx = try bench.receiver(.serverReceiver)
        let trigger = try bench.trigger(), sw = try bench.opticalSwitch()
        let parameters = self.parameters
        // Work on copies: a block that never finished (kill, lost peer) leaves no trace.
        var client = checkpoint.client, reference = checkpoint.reference
        guard let basis else { throw RunError.check("no secret basis was drawn before the first block") }
        var clipped = 0, samples = 0
        for (l, frame) in frames.enumerated() {
            guard let drives = frame.drives else { throw RunError.check("layer \(l) has no drive waveforms: preflight did not encode it") }
            let toClient = { try await self.comeBack(drives: drives, route: .client) }
            try await beforeLight(endpoint, restart: toClient) {
                try await modulator.loadDrive(i: drives.i, q: drives.q)
                try await sw.route(.client)
            }
            var rng = basis.generator(stream: UInt64(index) << 8 | UInt64(l))
            try await endpoint.send(.layerReady(block: UInt32(index), layer: UInt32(l)))
            var done = 0
            for burst in 0..<parameters.burstCount(block: index) {
                let armed = try await receiveFlow(endpoint)
                guard case let .clientArmed(a) = armed else { throw RunError.peer("expected clientArmed, got \(armed.kind)") }
                let n = Int(a.shots)
                try checkStop()
                let m = frame.measurement(shots: 1, rng: &rng)
                try await beforeLight(endpoint, restart: toClient) {
                    try await checkInterlock(endpoint, drives: drives, route: .client)
                    try await rx.loadSlotPattern(m.pattern)
                    try await rx.arm(shots: n)
                }
                try await trigger.fire(shots: n)
                guard try await env.bench.interlockIsClear() else {
                    // The light through the client was cut during the burst: neither side's
                    // samples of it can be trusted, and it cannot be fired again within the block.
                    throw RunError.stopped("the interlock tripped during burst \(burst) of layer \(l) of block \(index), so that light was cut; the block is measured again when the session resumes")
                }
                try await requireLaserEmitting(after: "burst \(burst) of layer \(l) of block \(index)")
                try await endpoint.send(.fired(block: UInt32(index), layer: UInt32(l), burst: UInt32(burst)))
                let measured = try await receiveFlow(endpoint)
                guard case .clientMeasured = measured else { throw RunError.peer("expected clientMeasured, got \(measured.kind)") }
                let tap = settings.returnedLightTap, first = firstImage + done
                let acquired = try await afterLight("burst \(burst) of layer \(l) of block \(index)") {
                    try await measure(rx, frame: m, shots: n, keepingSamples: tap != nil || configuration.keepRawSamples) { returned in
                        tap?.returned(block: index, layer: l, firstImage: first, frame: m, samples: returned, shots: n)
                        try keepRawSamples(returned, block: index, kind: "returned layer \(l)")
                    }
                }
                clipped += acquired.record.clippedSamples; samples += acquired.record.samples
                try acquired.sums.finish(into: &client)
                try await endpoint.send(.returnedLightAcquired(block: UInt32(index), layer: UInt32(l), burst: UInt32(burst)))
                done += n
                reportProgress(imagesInBlock: done, layer: l, modes: client.signalSlots)
            }
            // The interleaved back-to-back reference with the same frame, the server alone.
            let toBackToBack = { try await self.comeBack(drives: drives, route: .backToBack) }
            try await beforeLight(endpoint, restart: toBackToBack) { try await sw.route(.backToBack) }
            let refShots = max(1, Int((Double(count) * settings.referenceFraction).rounded(.up)))
            var refDone = 0
            while refDone < refShots {
                let n = min(burstShots, refShots - refDone)
                let m = frame.measurement(shots: 1, rng: &rng)
                try checkStop()
                // A pause's safe state puts the switch on its own path: its restart routes back-to-back again.
                try await beforeLight(endpoint, restart: toBackToBack) {
                    try await checkInterlock(endpoint, drives: drives, route: .backToBack)
                    try await rx.loadSlotPattern(m.pattern)
                    try await rx.arm(shots: n)
                }
                try await trigger.fire(shots: n)
                let acquired = try await afterLight("a reference burst of layer \(l) of block \(index)") {
                    try await measure(rx, frame: m, shots: n, keepingSamples: false) { _ in }
                }
                guard try await env.bench.interlockIsClear() else {
                    // Cut during the burst: the reference would be wrong. Measured again once the
                    // interlock clears (the server's own light: no need to ask the client).
                    try journal(.event, "interlock tripped during a reference burst", detail: "block \(index) layer \(l): its samples are discarded and the burst fired again")
                    continue
                }
                try await requireLaserEmitting(after: "a back-to-back reference burst of layer \(l) of block \(index)")
                clipped += acquired.record.clippedSamples; samples += acquired.record.samples
                try acquired.sums.finish(into: &reference)
                refDone += n
            }
            try await beforeLight(endpoint, restart: toClient) { try await sw.route(.client) }
            try journal(.step, "block \(index) layer \(l)", detail: "\(count) shots through the client, \(refShots) back-to-back")
        }
        checkpoint.imagesDone += count
        checkpoint.client = client
        checkpoint.reference = reference
        let previouslyClipped = checkpoint.clippedBlocks.last == index - 1
        if clipped > 0 {
            checkpoint.clippedSamples += clipped
            checkpoint.clippedBlocks.append(index)
            try journal(.event, "clipping", detail: "\(clipped) of \(samples) samples of block \(index) at the digitiser's rails: this session can no longer certify")
            if previouslyClipped || Double(clipped) > Self.clippingStopFraction * Double(samples) {
                throw RunError.saturated("\(clipped) of \(samples) samples of block \(index) clipped\(previouslyClipped ? ", after clipping in block \(index - 1) too" : "")")
            }
        }
        return try assess(index: index, wall: Date().timeIntervalSince(blockStart))
    }

    /// Fetches a burst's record into the server's sums (`MeasurementFrame.sink`): handed over tile
    /// by tile, so the twin never keeps the record, unless something needs the samples themselves
    /// (the returned-light tap, `--raw-samples`): then the whole record is fetched, given to `keep`
    /// and to the sums as one tile. Either way the sums are the same to the bit; a record of the
    /// wrong size is refused before any of it is summed. The caller adds the sums (`finish`) once
    /// it knows the burst counts.
    func measure(_ rx: any HomodyneReceiver, frame m: MeasurementFrame, shots n: Int, keepingSamples: Bool,
                 keep: ([Float]) throws -> Void) async throws -> (record: StreamedRecord, sums: MeasurementFrame.BurstSink) {
        // The client's shot count was checked against the block plan on arrival; this keeps a burst
        // of no shots from the sums whatever a receiver accepted.
        guard n > 0 else { throw RunError.peer("a burst of \(n) shots cannot be measured") }
        let sink = m.sink(shots: n), timeout = fetchTimeout(shots: n, layout: m.layout), slots = m.layout.slotsPerShot
        guard keepingSamples else {
            return (try await rx.fetch(timeout: timeout, shots: n, slotsPerShot: slots, into: sink), sink)
        }
        let block = try await rx.fetch(timeout: timeout)
        let record = try StreamedRecord.handOver(block, shots: n, slotsPerShot: slots, to: sink)
        try keep(block.volts)
        return (record, sink)
    }

    /// Above this fraction of clipped samples in one block the session stops at once.
    static let clippingStopFraction = 1e-4

    /// A burst's acquisition takes shots × slots at the symbol rate; the timeout allows that a
    /// thousand times over, and never less than 10 s (a twin computes the physics on the CPU).
    func fetchTimeout(shots: Int, layout: FrameLayout) -> Duration {
        let seconds = Double(shots * layout.slotsPerShot) / max(env.bench.description.symbolRate.si, 1)
        return .seconds(max(10, 1000 * seconds))
    }

    /// The server's check on everything accumulated so far (PROTOCOL.md §5b). Any failure to
    /// estimate (too few samples aside) stops the session: nothing certifies from NaN.
    func evaluate() throws -> LeakageCheck.Assessment {
        guard let cal = calibration else { throw RunError.check("the server's check ran before the calibration was loaded") }
        let estimate: ChannelEstimate
        let check: LeakageCheck
        do {
            estimate = try ChannelEstimate(statistics: checkpoint.client, reference: checkpoint.reference, receiver: cal.serverReceiver)
            check = try LeakageCheck(budgetBitsPerMode: configuration.budgetBitsPerMode, delta: configuration.delta,
                                     photonsPerMode: Measured(configuration.photonsPerMode, uncertainty: configuration.photonsPerMode * cal.photonsRelativeUncertainty))
        } catch {
            throw RunError.check("the server's check cannot estimate the returned light: \(error)")
        }
        do { return try check.assess(estimate) } catch { throw RunError.check("\(error)") }
    }

    func assess(index: Int, wall: Double) throws -> BlockRecord {
        var a = try evaluate()
        if a.decision == .certified, checkpoint.clippedSamples > 0 {
            a = a.withoutCertification(because: "\(checkpoint.clippedSamples) clipped samples in blocks \(checkpoint.clippedBlocks.map(String.init).joined(separator: ", ")): a saturated receiver cannot certify")
        }
        lastAssessment = a
        let estimate = a.estimate
        if a.decision == .certified, checkpoint.firstCertifiedAtModes == nil { checkpoint.firstCertifiedAtModes = estimate.signalSlots }
        return BlockRecord(
            blockIndex: index, imagesDone: checkpoint.imagesDone, correct: nil, accuracy: nil,
            modes: estimate.signalSlots, vacuumSlots: estimate.vacuumSlots,
            transmittance: estimate.transmittance, transmittanceStandardError: estimate.transmittanceStandardError,
            transmittanceLowerBound: a.transmittanceLowerBound, excessNoise: estimate.excessNoise,
            excessNoiseStandardError: estimate.excessNoiseStandardError, excessNoiseUpperBound: a.excessNoiseUpperBound,
            weightLeakageBitsPerMode: a.leakageBitsPerMode, weightLeakageLowerBound: a.leakageLowerBound, weightLeakageUpperBound: a.leakageUpperBound,
            dataLeakageBits: dataLeakageBits, decision: a.decision.rawValue, reason: a.reason, wallSeconds: wall,
            clippedSamples: checkpoint.clippedSamples)
    }

    /// With `--raw-samples`, the returned samples go to the run database until the configured
    /// number of floats is reached (the first blocks of a run); off by default.
    func keepRawSamples(_ samples: [Float], block: Int, kind: String) throws {
        guard configuration.keepRawSamples else { return }
        let stored = try env.database.rawSampleCount(runId)
        let room = configuration.rawSampleLimit - stored
        guard room > 0 else { return }
        try env.database.saveRawSamples(runId, blockIndex: block, kind: kind, samples: Array(samples.prefix(room)))
    }

    func reportProgress(imagesInBlock: Int, layer: Int, modes: Int) {
        let elapsed = checkpoint.wallSeconds + Date().timeIntervalSince(started)
        env.observer.progress(imagesDone: checkpoint.imagesDone + (layer == frames.count - 1 ? imagesInBlock : 0), images: configuration.images,
                              modes: modes, modesPerSecond: elapsed > 0 ? Double(modes) / elapsed : 0,
                              excessNoise: lastAssessment?.estimate.excessNoise)
    }

    /// A burst fired dark must not reach the check: through the client its missing light would look
    /// taken, as a reference it would make the client's light look amplified. The laser's controller
    /// can switch its output off by itself with the bench's interlock clear (keylock, its own
    /// interlock input, a TEC or current-limit fault: docs/driver-audit.md, L3), so after every
    /// burst the server asks the laser whether it still emits; if not, the session stops, resumable,
    /// and the block is measured again.
    func requireLaserEmitting(after burst: String) async throws {
        let emitting = try await afterLight(burst) { try await env.bench.laser().isEmitting() }
        guard !emitting else { return }
        try journal(.event, "server laser stopped emitting", detail: "after \(burst), with the interlock clear")
        throw RunError.stopped("the server laser stopped emitting during \(burst) with the interlock clear: its controller switched the output off (keylock, its interlock input, a TEC or current-limit fault). `qbench devices` shows its state; clear the cause, then resume the session: the block is measured again")
    }

    /// Before a burst: the server's interlock chain (`pauseWhileInterlockOpen`); after a pause the
    /// server comes back with the layer's drive and the switch on `route`, and continues with the
    /// burst the client armed (no light left the server in between).
    func checkInterlock(_ endpoint: SessionEndpoint, drives: TransmitterModel.Encoded, route: SwitchPath) async throws {
        try await pauseWhileInterlockOpen(endpoint, .interlock) { try await comeBack(drives: drives, route: route) }
    }

    /// After a pause: the warm-up, the layer's frame back on the modulator (the safe state zeroed
    /// its drive) and the switch on the path of the burst that was next.
    func comeBack(drives: TransmitterModel.Encoded, route: SwitchPath) async throws {
        try await warmUp()
        try await env.bench.modulator().loadDrive(i: drives.i, q: drives.q)
        if route != .client { try await env.bench.opticalSwitch().route(route) }
    }

    /// A step after a burst's light was fired (its fetch): an instrument found gone there has lost
    /// that burst, which cannot be fired again within the block, so the session stops (resumable;
    /// the block is measured again when it resumes).
    func afterLight<T>(_ burst: String, _ step: () async throws -> T) async throws -> T {
        do {
            return try await step()
        } catch let error as DeviceError where error.kind == .disconnected {
            throw RunError.stopped("\(error.role?.rawValue ?? error.device) was disconnected after the light of \(burst) was fired (\(error.message)), so that burst is lost; reconnect it before resuming: the block is measured again when the session resumes")
        }
    }
}
