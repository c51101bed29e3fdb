import BenchKit
import Foundation
import NumericsKit
import Plots
import SecureInference

/// The link and the client's optics:
/// 1. forward transmittance T_f = P(client input)/P(server output), and the back-to-back path's
///    T_b2b = P(server receiver input, switch back-to-back)/P(server output), with the reference
///    meter at high power;
/// 2. the round trip with a transparent client (G = 1, nothing kept, U_x = identity on one mode per
///    row): T̂ relative to the back-to-back reference = T_f T_b / T_b2b, hence the return T_b;
/// 3. the amplifier at the operating gain with nothing kept: mode 1 returns with amplitude √G and
///    excess noise V_a − 1 = 2 n_sp (G − 1), hence G and the spontaneous-emission factor n_sp;
/// 4. the honest split (kept 1 − 1/G set): the returned amplitude √((1 − r)G) gives the true kept
///    fraction r; the client's own readings are fitted against the intended amplitude (2×2, then
///    its LO phase aligned) for the gain its decoder uses.
public struct LinkCalibration: Sendable {
    public struct Stage: Codable, Sendable {
        let name: String; let gainSet: Double; let keptSet: Double
        let transmittance: Double; let transmittanceSE: Double; let excessNoise: Double; let excessNoiseSE: Double; let signalSlots: Int
    }
    public struct Raw: Codable, Sendable {
        let serverOutputW: Double; let clientInputW: Double; let receiverInputB2BW: Double
        let stages: [Stage]; let clientMatrix: [Double]; let clientLOPhase: Double
    }

    public static func run(_ ctx: CalibrationContext) async throws -> CalibrationRecord {
        let bench = ctx.bench, s = ctx.settings
        let laserRecord = try await ctx.prerequisite(.laser, role: .serverLaser, for: .link)
        let modRecord = try await ctx.prerequisite(.modulator, role: .serverModulator, for: .link)
        let attRecord = try await ctx.prerequisite(.attenuation, role: .serverAttenuator, for: .link)
        let rxRecord = try await ctx.prerequisite(.homodyne, role: .serverReceiver, for: .link)
        let clientRxRecord = try await ctx.prerequisite(.homodyne, role: .clientReceiver, for: .link)
        let b2bRecord = try await ctx.prerequisite(.backToBack, role: .serverReceiver, for: .link)
        let modulator = try bench.modulator(), voa = try bench.attenuator(), meter = try bench.powerMeter()
        let receiver = try bench.receiver(.serverReceiver), clientReceiver = try bench.receiver(.clientReceiver)
        let amplifier = try bench.amplifier(), splitter = try bench.splitter(), processor = try bench.clientProcessor()
        let sw = try bench.opticalSwitch()
        let shutter = bench.has(.shutter) ? try bench.shutter() : nil
        try await ModulatorCalibration.prepareLight(bench, current: laserRecord["operating-current"]?.value ?? 0.05)
        for (ch, name) in [(ModulatorChannel.i, "bias.i"), (.q, "bias.q"), (.phase, "bias.phase")] {
            try await modulator.setBias(ch, .volts((try modRecord.required(name)).value))
        }

        // 1. Powers at high power, unit field on the I arm.
        let nullI = (try modRecord.required("bias.i")).value, vpiI = (try modRecord.required("vpi.i")).value
        try await modulator.zeroDrive()
        try await modulator.setBias(.i, .volts(nullI - vpiI))
        try await voa.setAttenuation(Decibels(bench.attenuationFloor(shutterOpen: true)))
        try await shutter?.setOpen(true)
        try await sw.route(.client)
        try await bench.patchPanel.connect(.serverTap, to: .serverOutput)
        let pOut = try await ctx.readPower(meter).watts
        try await bench.patchPanel.connect(.serverTap, to: .clientInput)
        let pClient = try await ctx.readPower(meter).watts
        try await sw.route(.backToBack)
        try await bench.patchPanel.connect(.serverTap, to: .serverReceiverInput)
        let pRxB2B = try await ctx.readPower(meter).watts
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await modulator.setBias(.i, .volts(nullI))
        let tForward = pClient / pOut, tB2B = pRxB2B / pOut
        // A ratio of two readings of one meter: its certificate cancels; 0.1 % covers linearity and reconnection.
        let meterRel = 1e-3

        // The round trips, one mode per row (U_x = identity).
        try await sw.route(.client)
        try await receiver.setLocalOscillatorPower(.watts((try rxRecord.required("lo-power")).value))
        try await receiver.setLocalOscillatorPhase(.radians((try b2bRecord.required("lo-phase")).value))
        try await receiver.setInputBlocked(false)
        try await clientReceiver.setLocalOscillatorPower(.watts((try clientRxRecord.required("lo-power")).value))
        try await clientReceiver.setInputBlocked(false)
        let layout = FrameLayout(rows: 4 * s.referenceRows * s.referenceModesPerRow / 8, modesPerRow: 1, vacuumSlotsPerRow: 1)
        let frame = MeasurementFrame.gaussian(layout: layout, photons: s.photonsPerMode, patternShots: 1, seed: 0x11E)
        let model = try TransmitterModel(modulator: modRecord, attenuation: attRecord, backToBack: b2bRecord, bench: bench.description, maximumField: s.maximumField)
        let encoded = try model.encode(re: frame.re, im: frame.im)
        try await voa.setAttenuation(encoded.attenuation)
        try await modulator.loadDrive(i: encoded.i, q: encoded.q)
        try await receiver.loadSlotPattern(frame.pattern)
        let trusted = try TrustedReceiver(homodyne: rxRecord, backToBack: b2bRecord)
        let shots = max(8, s.referenceShots)
        var stages: [Stage] = []
        var clientFit = ClientReadingFit()

        func roundTrip(_ name: String, gain: Double, kept: Double, fitClient: Bool = false) async throws -> ChannelEstimate {
            try await amplifier.setGain(gain)
            try await splitter.setKeptFraction(kept)
            var stats = ReturnedLightStatistics()
            var done = 0
            while done < shots {
                let n = min(16, shots - done)
                try await processor.program(Array(repeating: [ComplexSymbol(1, 0)], count: n), layout: layout)
                let out = try await ctx.shots(n, layout: layout, receivers: fitClient ? [receiver, clientReceiver] : [receiver])
                try frame.accumulate(checked: out[0], shots: n, into: &stats)
                if fitClient { clientFit.add(readings: out[1], frame: frame, shots: n) }
                done += n
            }
            let est = try ChannelEstimate(statistics: stats, receiver: trusted)
            stages.append(Stage(name: name, gainSet: gain, keptSet: kept, transmittance: est.transmittance, transmittanceSE: est.transmittanceStandardError,
                                excessNoise: est.excessNoise, excessNoiseSE: est.excessNoiseStandardError, signalSlots: est.signalSlots))
            return est
        }

        // 2. Transparent client.
        let transparent = try await roundTrip("transparent (G = 1, nothing kept)", gain: 1, kept: 0)
        let tRound = transparent.transmittance
        let tBack = tRound * tB2B / tForward
        let tBackRel = ((transparent.transmittanceStandardError / tRound) * (transparent.transmittanceStandardError / tRound) + 2 * meterRel * meterRel).squareRoot()
        // 3. Amplifier at the operating gain, nothing kept.
        let amplified = try await roundTrip("amplifier at G, nothing kept", gain: s.gain, kept: 0)
        let gain = amplified.transmittance / tRound
        let gainRel = ((amplified.transmittanceStandardError / amplified.transmittance) * (amplified.transmittanceStandardError / amplified.transmittance)
                       + (transparent.transmittanceStandardError / tRound) * (transparent.transmittanceStandardError / tRound)).squareRoot()
        // The excess seen at the receiver is T_b·x1 in output-referred SNU relative to the back-to-back path.
        let added = amplified.excessNoise / (tBack / tB2B)
        let addedSE = amplified.excessNoiseStandardError / (tBack / tB2B)
        let nsp = gain > 1 ? added / (2 * (gain - 1)) : .nan
        // 4. Honest split; the client's readings.
        let honestKept = 1 - 1 / s.gain
        try await clientReceiver.setLocalOscillatorPhase(.zero)
        let honest = try await roundTrip("honest split (kept 1 − 1/G)", gain: s.gain, kept: honestKept, fitClient: true)
        let kept = 1 - honest.transmittance / tRound / gain
        let keptSE = (honest.transmittanceStandardError / tRound / gain)
        let m = clientFit.matrix()
        let clientPhase = -atan2(m.b, m.a)
        try await clientReceiver.setLocalOscillatorPhase(.radians(clientPhase))
        clientFit = ClientReadingFit()
        _ = try await roundTrip("honest split, client LO aligned", gain: s.gain, kept: honestKept, fitClient: true)
        let aligned = clientFit.matrix()
        try await shutter?.setOpen(false)

        var plot = LinePlot(title: "Link and client optics: returned transmittance per stage", xLabel: "stage", yLabel: "T̂ relative to back-to-back")
        plot.series = [.init(label: "T̂", points: stages.enumerated().map { (x: Double($0.offset + 1), y: $0.element.transmittance) }, color: LinePlot.palette[0], style: .markers)]
        return try await ctx.save(
            kind: .link, role: .link,
            values: [
                "transmittance.forward": .init(tForward, uncertainty: tForward * meterRel, unit: "1"),
                "transmittance.back": .init(tBack, uncertainty: tBack * tBackRel, unit: "1"),
                "transmittance.back-to-back": .init(tB2B, uncertainty: tB2B * meterRel, unit: "1"),
                "transmittance.round-trip": .init(tRound, uncertainty: transparent.transmittanceStandardError, unit: "1"),
                "client.gain": .init(gain, uncertainty: gain * gainRel, unit: "1"),
                "client.added-noise": .init(added, uncertainty: addedSE, unit: "SNU"),
                "client.nsp": .init(nsp, uncertainty: gain > 1 ? addedSE / (2 * (gain - 1)) : 0, unit: "1"),
                "client.kept-fraction": .init(kept, uncertainty: keptSE, unit: "1"),
                "client.reading-gain": .init(aligned.a, uncertainty: aligned.aSE, unit: "V/√photon"),
                "client.reading-offset": .init(aligned.offset, uncertainty: 0, unit: "V"),
                "client.lo-phase": .init(clientPhase, uncertainty: 0, unit: "rad"),
                "gain.set": .init(s.gain, uncertainty: 0, unit: "1"),
            ],
            method: "reference meter at server output, client input and (back-to-back) receiver input; round trips with one mode per row and U_x = identity: transparent client, amplifier at G = \(s.gain) with nothing kept, honest split; T̂ and ε̂ from the server's estimator against the back-to-back reference; client readings fitted against the intended amplitude, its LO phase aligned",
            fit: ["roundTripExcessNoise": transparent.excessNoise],
            raw: Raw(serverOutputW: pOut, clientInputW: pClient, receiverInputB2BW: pRxB2B, stages: stages,
                     clientMatrix: [m.a, m.b, aligned.a, aligned.b], clientLOPhase: clientPhase),
            plot: plot.render().rendered, inputs: [laserRecord.id, modRecord.id, attRecord.id, rxRecord.id, clientRxRecord.id, b2bRecord.id])
    }
}

/// The client's readings (one per row) against the intended amplitude of mode 1: reading ≈ o +
/// a·Re α + b·Im α (volts per √photon at the client input).
public struct ClientReadingFit: Sendable {
    public init() {}
    var n = 0.0, su = 0.0, sv = 0.0, sy = 0.0, suu = 0.0, svv = 0.0, suv = 0.0, suy = 0.0, svy = 0.0, syy = 0.0

    public mutating func add(readings: [Float], frame: MeasurementFrame, shots: Int) {
        let rows = frame.layout.rows, slotsPerRow = frame.layout.slotsPerRow
        for s in 0..<shots {
            for r in 0..<rows {
                let u = Double(frame.re[r * slotsPerRow]), v = Double(frame.im[r * slotsPerRow]), y = Double(readings[s * rows + r])
                n += 1; su += u; sv += v; sy += y; suu += u * u; svv += v * v; suv += u * v; suy += u * y; svy += v * y; syy += y * y
            }
        }
    }

    public func matrix() -> (a: Double, b: Double, offset: Double, aSE: Double) {
        let cuu = suu - su * su / n, cvv = svv - sv * sv / n, cuv = suv - su * sv / n
        let cuy = suy - su * sy / n, cvy = svy - sv * sy / n, cyy = syy - sy * sy / n
        let det = cuu * cvv - cuv * cuv
        let a = (cvv * cuy - cuv * cvy) / det, b = (cuu * cvy - cuv * cuy) / det
        let offset = (sy - a * su - b * sv) / n
        let rss = max(0, cyy - a * cuy - b * cvy)
        let s2 = rss / max(1, n - 3)
        return (a, b, offset, (s2 * cvv / det).squareRoot())
    }
}
