import BenchKit
import Foundation
import Plots
import SecureInference

/// The server's trusted reference (PROTOCOL.md §5b): its transmitter straight into its own receiver
/// through the calibration switch. Gaussian-modulated frames at the operating μ, random X/P per
/// slot and interleaved vacuum slots; a 2×2 fit of the detected quadratures on the intended ones
/// gives the LO phase offset (applied, then checked) and whether Q comes out conjugated; the final
/// pooled fit gives the response R_b2b = detected SNU per intended SNU that turns a run's slope
/// into T̂. With the reference meter moved to the receiver input at high power, the receiver's
/// efficiency follows: η = R²·L_client/L_rx.
public struct BackToBackCalibration: Sendable {
    public struct Raw: Codable, Sendable {
        let responseMatrixFirst: [Double]; let responseMatrixCorrected: [Double]
        let loPhaseApplied: Double; let conjugate: Bool
        let signalSlots: Int; let vacuumSlots: Int; let shotNoiseV2: Double
        let clientInputW: Double; let receiverInputW: Double
    }

    public static func run(_ ctx: CalibrationContext) async throws -> CalibrationRecord {
        let bench = ctx.bench
        let laserRecord = try await ctx.prerequisite(.laser, role: .serverLaser, for: .backToBack)
        let modRecord = try await ctx.prerequisite(.modulator, role: .serverModulator, for: .backToBack)
        let attRecord = try await ctx.prerequisite(.attenuation, role: .serverAttenuator, for: .backToBack)
        let rxRecord = try await ctx.prerequisite(.homodyne, role: .serverReceiver, for: .backToBack)
        let modulator = try bench.modulator(), voa = try bench.attenuator(), receiver = try bench.receiver(.serverReceiver)
        let meter = try bench.powerMeter()
        try await ModulatorCalibration.prepareLight(bench, current: laserRecord["operating-current"]?.value ?? 0.05)
        for (ch, name) in [(ModulatorChannel.i, "bias.i"), (.q, "bias.q"), (.phase, "bias.phase")] {
            try await modulator.setBias(ch, .volts((try modRecord.required(name)).value))
        }
        try await bench.opticalSwitch().route(.backToBack)
        let shutter = bench.has(.shutter) ? try bench.shutter() : nil
        try await voa.setAttenuation(Decibels(max(try await voa.attenuation().dB, bench.attenuationFloor(shutterOpen: true))))
        try await shutter?.setOpen(true)
        try await receiver.setLocalOscillatorPower(.watts((try rxRecord.required("lo-power")).value))
        try await receiver.setInputBlocked(false)
        try await receiver.setLocalOscillatorPhase(.zero)
        let trusted = try TrustedReceiver(homodyne: rxRecord, backToBack: nil)

        let s = ctx.settings
        let layout = FrameLayout(rows: s.referenceRows, modesPerRow: s.referenceModesPerRow, vacuumSlotsPerRow: s.referenceVacuumPerRow)
        let frame = MeasurementFrame.gaussian(layout: layout, photons: s.photonsPerMode, patternShots: 1, seed: 0xB2B)

        func measure(qSign: Double, shots: Int) async throws -> (matrix: [Double], stats: ReturnedLightStatistics) {
            var model = try TransmitterModel(modulator: modRecord, attenuation: attRecord, backToBack: nil, bench: bench.description, maximumField: s.maximumField)
            model.qSign = qSign
            let encoded = try model.encode(re: frame.re, im: frame.im)
            try await voa.setAttenuation(encoded.attenuation)
            try await modulator.loadDrive(i: encoded.i, q: encoded.q)
            try await receiver.loadSlotPattern(frame.pattern)
            var stats = ReturnedLightStatistics()
            var fit = ResponseMatrixFit()
            var done = 0
            while done < shots {
                let n = min(16, shots - done)
                let samples = try await ctx.shots(n, layout: layout, receivers: [receiver])[0]
                try frame.accumulate(checked: samples, shots: n, into: &stats)
                fit.add(samples: samples, frame: frame, shots: n)
                done += n
            }
            let n0 = stats.vacuum.variance - trusted.electronicNoiseVariance.value
            return (fit.matrix(shotNoise: n0), stats)
        }

        // 1. As found: LO phase offset and handedness.
        let probe = max(8, s.referenceShots / 8)
        let first = try await measure(qSign: 1, shots: probe)
        let m = first.matrix
        let conjugate = m[0] * m[3] - m[1] * m[2] < 0
        let psi = atan2(conjugate ? -m[1] : m[1], m[0])
        try await receiver.setLocalOscillatorPhase(.radians(-psi))
        var check = try await measure(qSign: conjugate ? -1 : 1, shots: probe)
        var applied = -psi
        if abs(atan2(check.matrix[1], check.matrix[0])) > abs(psi) && abs(psi) > 1e-3 {
            // The receiver's phase runs the other way: go the other direction.
            applied = psi
            try await receiver.setLocalOscillatorPhase(.radians(applied))
            check = try await measure(qSign: conjugate ? -1 : 1, shots: probe)
        }
        // 2. The reference itself, with everything aligned.
        let final = try await measure(qSign: conjugate ? -1 : 1, shots: s.referenceShots)
        let est = try ChannelEstimate(statistics: final.stats, receiver: trusted)
        let response = est.transmittance.squareRoot()
        let responseUncertainty = est.transmittanceStandardError / (2 * response)

        // 3. Efficiency: the reference meter at the client input and at the receiver input, same
        //    setting (unit field, the lowest attenuation allowed with the shutter open): η = R²·P_client/P_rx.
        try await modulator.zeroDrive()
        let vpiI = (try modRecord.required("vpi.i")).value, nullI = (try modRecord.required("bias.i")).value
        try await modulator.setBias(.i, .volts(nullI - vpiI))
        try await voa.setAttenuation(Decibels(bench.attenuationFloor(shutterOpen: true)))
        try await bench.opticalSwitch().route(.client)
        try await bench.patchPanel.connect(.serverTap, to: .clientInput)
        let clientPower = try await ctx.readPower(meter, averagingFactor: 10).watts
        try await bench.opticalSwitch().route(.backToBack)
        try await bench.patchPanel.connect(.serverTap, to: .serverReceiverInput)
        let rxPower = try await ctx.readPower(meter, averagingFactor: 10).watts
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await modulator.setBias(.i, .volts(nullI))
        try await shutter?.setOpen(false)
        let eta = response * response * clientPower / rxPower
        // R is relative to the intended μ, so η carries μ's uncertainty (the meter's certificate
        // and the attenuation chain); the two readings' ratio adds 0.1 % for reconnection.
        let muRel = (attRecord["photons.unit-field.0dB"]?.uncertainty ?? 0) / (try attRecord.required("photons.unit-field.0dB")).value
        let etaRel = (4 * pow(responseUncertainty / response, 2) + muRel * muRel + 1e-6).squareRoot()
        try await bench.opticalSwitch().route(.client)

        var plot = LinePlot(title: "Back-to-back response (detected vs intended, SNU)", xLabel: "intended quadrature (SNU)", yLabel: "detected mean (SNU)")
        let xs = stride(from: -6.0, through: 6.0, by: 0.5).map { $0 }
        plot.series = [.init(label: String(format: "R_b2b = %.5f", response), points: xs.map { (x: $0, y: response * $0) }, color: LinePlot.palette[0]),
                       .init(label: "ideal", points: xs.map { (x: $0, y: $0) }, color: LinePlot.palette[2], style: .dashed)]
        return try await ctx.save(
            kind: .backToBack, role: .serverReceiver,
            values: [
                "response": .init(response, uncertainty: responseUncertainty, unit: "SNU/SNU"),
                "lo-phase": .init(applied, uncertainty: 0, unit: "rad"),
                "conjugate": .init(conjugate ? 1 : 0, uncertainty: 0, unit: "1"),
                "efficiency": .init(eta, uncertainty: eta * etaRel, unit: "1"),
                "excess-noise": .init(est.excessNoise, uncertainty: est.excessNoiseStandardError, unit: "SNU"),
                "shot-noise": .init(est.shotNoiseVariance, uncertainty: 0, unit: "V²"),
                "photons": .init(s.photonsPerMode, uncertainty: 0, unit: "photons/mode"),
            ],
            method: "Gaussian frames (μ = \(s.photonsPerMode)), random X/P, \(layout.vacuumSlotsPerRow) vacuum slots per \(layout.modesPerRow) modes, \(s.referenceShots) shots of \(layout.rows) rows; 2×2 response fit → LO phase and handedness; pooled slope with X/P intercepts over the in-band SNU; η = R²·P_client/P_rx with the reference meter at the client input and at the receiver input, same setting",
            fit: ["signalSlots": Double(est.signalSlots), "vacuumSlots": Double(est.vacuumSlots)],
            raw: Raw(responseMatrixFirst: first.matrix, responseMatrixCorrected: final.matrix, loPhaseApplied: applied, conjugate: conjugate,
                     signalSlots: est.signalSlots, vacuumSlots: est.vacuumSlots, shotNoiseV2: est.shotNoiseVariance,
                     clientInputW: clientPower, receiverInputW: rxPower),
            plot: plot.render().rendered, inputs: [laserRecord.id, modRecord.id, attRecord.id, rxRecord.id])
    }
}

/// Least squares of the detected X (and P) slots on both intended quadratures: the 2×2 response
/// [[X←2Reα, X←2Imα], [P←2Reα, P←2Imα]] with an intercept per quadrature.
struct ResponseMatrixFit {
    // Per row (X slots, P slots): sums for y = o + a·u + b·v with u = 2Re α, v = 2Im α.
    var n = [0.0, 0.0], su = [0.0, 0.0], sv = [0.0, 0.0], sy = [0.0, 0.0]
    var suu = [0.0, 0.0], svv = [0.0, 0.0], suv = [0.0, 0.0], suy = [0.0, 0.0], svy = [0.0, 0.0]

    mutating func add(samples: [Float], frame: MeasurementFrame, shots: Int) {
        let slots = frame.layout.slotsPerShot
        for s in 0..<shots {
            let base = (s % frame.patternShots) * slots
            for k in 0..<slots {
                let r: Int
                switch frame.pattern[base + k] { case .x: r = 0; case .p: r = 1; case .vacuum: continue }
                let u = 2 * Double(frame.re[k]), v = 2 * Double(frame.im[k]), y = Double(samples[s * slots + k])
                n[r] += 1; su[r] += u; sv[r] += v; sy[r] += y
                suu[r] += u * u; svv[r] += v * v; suv[r] += u * v; suy[r] += u * y; svy[r] += v * y
            }
        }
    }

    /// The matrix in SNU per SNU (divided by √N0), row-major [a_X, b_X, a_P, b_P].
    func matrix(shotNoise n0: Double) -> [Double] {
        var out: [Double] = []
        for r in 0..<2 {
            let N = max(n[r], 1)
            let cuu = suu[r] - su[r] * su[r] / N, cvv = svv[r] - sv[r] * sv[r] / N, cuv = suv[r] - su[r] * sv[r] / N
            let cuy = suy[r] - su[r] * sy[r] / N, cvy = svy[r] - sv[r] * sy[r] / N
            let det = cuu * cvv - cuv * cuv
            let a = (cvv * cuy - cuv * cvy) / det, b = (cuu * cvy - cuv * cuy) / det
            out += [a / n0.squareRoot(), b / n0.squareRoot()]
        }
        return out
    }
}
