import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import SessionProtocol

extension ClientStation {
    /// One block on the client's side: per layer announced by the server, every burst programmed
    /// with the images' ξ, armed, measured and decoded into inner products; then the predictions,
    /// the server's verdict, and the commit that is the resume point.
    func runBlock(_ endpoint: SessionEndpoint, parameters p: SessionParameters, index: Int, wallAtStart: Double) async throws -> SessionVerdict {
        let bench = env.bench
        guard let cal = calibration else { throw RunError.check("the client's calibration was not loaded") }
        let processor = try bench.clientProcessor(), crx = try bench.receiver(.clientReceiver)
        let decoder = ClientDecoder(readingGain: cal.clientReadingGain, readingOffset: cal.clientReadingOffset)
        let count = p.imagesInBlock(index)
        let firstImage = index * Int(p.blockImages)
        var inputs = testSet.subset(firstImage..<(firstImage + count)).images  // rows: images
        for (l, layer) in p.layers.enumerated() {
            let ready = try await receiveFlow(endpoint)
            guard case let .layerReady(r) = ready, Int(r.block) == index, Int(r.layer) == l else {
                throw RunError.peer("expected layerReady(block \(index), layer \(l)), got \(ready.kind)")
            }
            let layout = FrameLayout(rows: Int(layer.rows), modesPerRow: Int(layer.modesPerRow), vacuumSlotsPerRow: Int(p.vacuumSlotsPerRow))
            var outputs = Matrix(rows: count, cols: layout.rows)
            for burst in 0..<p.burstCount(block: index) {
                if let why = env.stop.requested { throw RunError.stopped(why) }
                let (shots, firstShot) = p.burst(block: index, burst: burst)
                let n = Int(shots), start = Int(firstShot) - firstImage
                let symbols = (0..<n).map { ClientDecoder.symbols(inputs.row(start + $0)) }
                try await beforeLight(endpoint, restart: { try await warmUp(gain: p.gain) }) {
                    try await checkInterlock(endpoint, gain: p.gain)
                    try await processor.program(symbols, layout: layout)
                    try await crx.arm(shots: n)
                }
                try await endpoint.send(.clientArmed(block: UInt32(index), layer: UInt32(l), burst: UInt32(burst), shots: shots, firstShotIndex: firstShot))
                let fired = try await receiveFlow(endpoint)
                guard case .fired = fired else { throw RunError.peer("expected fired, got \(fired.kind)") }
                let readings: [Float]
                do {
                    readings = try await crx.fetch(timeout: .seconds(60)).volts
                } catch let error as DeviceError where error.kind == .disconnected {
                    throw RunError.stopped("\(error.role?.rawValue ?? error.device) was disconnected after the light of burst \(burst) of layer \(l) of block \(index) was fired (\(error.message)), so that burst is lost; reconnect it before resuming: the block is measured again when the session resumes")
                }
                guard try await env.bench.interlockIsClear(.clientInterlock) else {
                    // Its amplifier lost its pump during the burst: these readings are not the
                    // images' inner products, and the burst cannot be fired again in this block.
                    throw RunError.stopped("the client's interlock tripped during burst \(burst) of layer \(l) of block \(index); the block is measured again when the session resumes")
                }
                guard readings.count == n * layout.rows else {
                    throw RunError.check("the client's receiver returned \(readings.count) readings for \(n) shots of \(layout.rows) rows")
                }
                for s in 0..<n {
                    let est = decoder.innerProducts(readings[(s * layout.rows)..<((s + 1) * layout.rows)])
                    for row in 0..<layout.rows { outputs[start + s, row] = est[row] }
                }
                try await endpoint.send(.clientMeasured(block: UInt32(index), layer: UInt32(l), burst: UInt32(burst)))
                let acquired = try await receiveFlow(endpoint)
                guard case .returnedLightAcquired = acquired else { throw RunError.peer("expected returnedLightAcquired, got \(acquired.kind)") }
            }
            if l < p.layers.count - 1 { relu(&outputs) }
            inputs = outputs
        }
        let predictions = MNISTNetwork.predictions(inputs)
        var correct = 0
        if hasLabels {
            for (k, guess) in predictions.enumerated() where guess == Int(testSet.labels[firstImage + k]) { correct += 1 }
        }
        let v = try await receiveFlow(endpoint)
        guard case let .verdict(verdict) = v else { throw RunError.peer("expected the verdict of block \(index), got \(v.kind)") }
        let c = try await receiveFlow(endpoint)
        guard case .commit = c else { throw RunError.peer("expected the server's commit of block \(index), got \(c.kind)") }
        lastVerdict = verdict
        checkpoint.nextBlock = index + 1
        checkpoint.imagesDone += count
        checkpoint.correct += correct
        checkpoint.predictions = (checkpoint.predictions ?? []) + predictions.map { UInt8(clamping: $0) }
        checkpoint.drivers = try await bench.checkpoint(of: .client)
        checkpoint.wallSeconds = wallAtStart + Date().timeIntervalSince(started)
        checkpoint.verdict = try? verdict.serializedData()
        // Journaled before the echo: a client that dies in between holds this block and the one
        // before, so it can continue from whichever the server committed.
        let record = BlockRecord(
            blockIndex: index, imagesDone: checkpoint.imagesDone, correct: checkpoint.correct,
            accuracy: hasLabels ? Double(checkpoint.correct) / Double(max(1, checkpoint.imagesDone)) : nil, modes: Int(clamping: verdict.modesSoFar), vacuumSlots: 0,
            transmittance: verdict.transmittance, transmittanceStandardError: .nan, transmittanceLowerBound: verdict.transmittanceLowerBound,
            excessNoise: verdict.excessNoise, excessNoiseStandardError: .nan, excessNoiseUpperBound: verdict.excessNoiseUpperBound,
            weightLeakageBitsPerMode: verdict.weightLeakageBitsPerMode, weightLeakageLowerBound: .nan,
            weightLeakageUpperBound: verdict.weightLeakageBoundBitsPerMode, dataLeakageBits: dataLeakageBits(p),
            decision: Self.decisionName(verdict.decision), reason: verdict.reason, wallSeconds: checkpoint.wallSeconds, clippedSamples: nil)
        try journal(.step, "block \(index)", detail: "\(record.decision): \(verdict.reason)", block: record, checkpoint: true)
        env.observer.block(record)   // the client's own page (its accuracy); `qbench run` passes steps only
        try await endpoint.commit()
        await env.observer.afterBlock(index, bench: bench)
        return verdict
    }

    static func decisionName(_ d: SessionDecision) -> String {
        switch d {
        case .abort: LeakageCheck.Decision.abort.rawValue
        case .certified: LeakageCheck.Decision.certified.rawValue
        default: LeakageCheck.Decision.collecting.rawValue
        }
    }

    func dataLeakageBits(_ p: SessionParameters) -> Double {
        guard let first = p.layers.first, let amplifier = try? ClientAmplifier(gain: p.gain) else { return .nan }
        return (try? DataLeakage.cramerRaoBits(amplifier: amplifier, modesPerRow: Int(first.modesPerRow))) ?? .nan
    }
}
