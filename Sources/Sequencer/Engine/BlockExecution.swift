import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference

extension ProtocolRun {
    /// One block of images through every layer, then the server's check on everything so far.
    func runBlock(index: Int, firstImage: Int, images count: Int) async throws -> BlockRecord {
        let blockStart = Date()
        let bench = env.bench, cal = calibration!
        let modulator = try bench.modulator(), rx = try bench.receiver(.serverReceiver), crx = try bench.receiver(.clientReceiver)
        let processor = try bench.clientProcessor(), trigger = try bench.trigger(), sw = try bench.opticalSwitch()
        let decoder = ClientDecoder(readingGain: cal.clientReadingGain, readingOffset: cal.clientReadingOffset)
        var inputs = images.subset(firstImage..<(firstImage + count)).images  // rows: images
        let chunk = max(1, env.chunkShots)
        // Work on copies: a block that is repeated (interlock) or never finished (kill) leaves no trace.
        var client = checkpoint.client, reference = checkpoint.reference
        guard let basis else { throw RunError.check("no secret basis was drawn before the first block") }
        var clipped = 0, samples = 0
        for (l, frame) in frames.enumerated() {
            guard let drives = frame.drives else { throw RunError.check("layer \(l) has no drive waveforms: preflight did not encode it") }
            try await modulator.loadDrive(i: drives.i, q: drives.q)
            var outputs = Matrix(rows: count, cols: frame.layout.rows)
            var rng = basis.generator(stream: UInt64(index) << 8 | UInt64(l))
            // Client-path shots, one image per shot.
            try await sw.route(.client)
            var done = 0
            while done < count {
                try checkStop()
                try await checkInterlock()
                let n = min(chunk, count - done)
                let m = frame.measurement(shots: 1, rng: &rng)
                let symbols = (0..<n).map { ClientDecoder.symbols(inputs.row(done + $0)) }
                try await processor.program(symbols, layout: frame.layout)
                try await rx.loadSlotPattern(m.pattern)
                try await rx.arm(shots: n)
                try await crx.arm(shots: n)
                try await trigger.fire(shots: n)
                let acquired = try await rx.fetch(timeout: .seconds(60))
                let returned = acquired.volts
                clipped += acquired.clippedSamples; samples += returned.count
                let readings = try await crx.fetch(timeout: .seconds(60)).volts
                try m.accumulate(checked: returned, shots: n, into: &client)
                env.returnedLightTap?.returned(block: index, layer: l, firstImage: firstImage + done, frame: m, samples: returned, shots: n)
                try keepRawSamples(returned, block: index, kind: "returned layer \(l)")
                for s in 0..<n {
                    let est = decoder.innerProducts(readings[(s * frame.layout.rows)..<((s + 1) * frame.layout.rows)])
                    for r in 0..<frame.layout.rows { outputs[done + s, r] = est[r] }
                }
                done += n
                reportProgress(imagesInBlock: done, layer: l, modes: client.signalSlots)
            }
            // The interleaved back-to-back reference with the same frame.
            try await sw.route(.backToBack)
            let refShots = max(1, Int((Double(count) * env.referenceFraction).rounded(.up)))
            var refDone = 0
            while refDone < refShots {
                let n = min(chunk, refShots - refDone)
                let m = frame.measurement(shots: 1, rng: &rng)
                try await rx.loadSlotPattern(m.pattern)
                try await rx.arm(shots: n)
                try await trigger.fire(shots: n)
                let acquired = try await rx.fetch(timeout: .seconds(60))
                clipped += acquired.clippedSamples; samples += acquired.volts.count
                try m.accumulate(checked: acquired.volts, shots: n, into: &reference)
                refDone += n
            }
            try await sw.route(.client)
            try journal(.step, "block \(index) layer \(l)", detail: "\(count) shots through the client, \(refShots) back-to-back")
            if l < frames.count - 1 { relu(&outputs) }
            inputs = outputs
        }
        let predictions = MNISTNetwork.predictions(inputs)
        for (k, p) in predictions.enumerated() where p == Int(images.labels[firstImage + k]) { checkpoint.correct += 1 }
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

    /// Above this fraction of clipped samples in one block the session stops at once.
    static let clippingStopFraction = 1e-4

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
            blockIndex: index, imagesDone: checkpoint.imagesDone, correct: checkpoint.correct,
            accuracy: Double(checkpoint.correct) / Double(checkpoint.imagesDone), modes: estimate.signalSlots, vacuumSlots: estimate.vacuumSlots,
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

    /// A tripped interlock pauses the run (Bluesky's suspenders): safe state, wait for it to clear,
    /// bring the bench back up, and repeat the block from its start; give up after the timeout.
    func checkInterlock() async throws {
        let bench = env.bench
        guard bench.has(.interlock) else { return }
        let line = try bench.interlock()
        guard !(try await line.isClear()) else { return }
        try journal(.event, "interlock tripped", detail: "pausing: safe state until it clears (timeout \(env.interlockTimeout))")
        await safeState()
        let deadline = ContinuousClock.now + env.interlockTimeout
        while !(try await line.isClear()) {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw RunError.stopped("the interlock did not clear within \(env.interlockTimeout)")
            }
            _ = try await line.waitForChange(timeout: min(left, .seconds(1)))
        }
        try journal(.event, "interlock cleared", detail: "warming up and repeating the block")
        throw InterlockResumed()
    }
}

/// Thrown inside a block after the interlock cleared: the engine warms up and repeats the block.
struct InterlockResumed: Error {}
