import BenchKit
import Foundation
import NumericsKit
import Plots

/// Shot-noise unit of a balanced homodyne receiver (docs/hardware.md §6.3): signal input blocked, the
/// output variance at several LO powers and with the LO off, fitted with σ²(P) = c + aP + bP².
/// 1 SNU = a·P_LO at the operating LO power; the electronic noise (LO off, many samples because
/// its error is charged to the client one for one) is recorded in V² and in SNU with the clearance.
public struct HomodyneCalibration: Sendable {
    public struct Raw: Codable, Sendable {
        let loPowerW: [Double]; let variance: [Double]; let mean: [Double]; let samplesPerPoint: Int
        let electronicSamples: Int; let electronicVariance: Double; let electronicMean: Double
    }

    public static func run(_ ctx: CalibrationContext, role: Role) async throws -> CalibrationRecord {
        let bench = ctx.bench
        // The LO is split from the server's laser when the bench has it (one table, the server's
        // site); at the client's site of two the receiver's LO is its own laser.
        var inputs: [String] = []
        if bench.has(.serverLaser) {
            let laserRecord = try await ctx.prerequisite(.laser, role: .serverLaser, for: .homodyne)
            try await ModulatorCalibration.prepareLight(bench, current: laserRecord["operating-current"]?.value ?? 0.05)
            inputs = [laserRecord.id]
        }
        let receiver = try bench.receiver(role)
        // Half the bench's LO limit: near the top of what the laser can deliver the variance stops
        // following the setting (the fit's quadratic term would show it).
        let limit = bench.description.bindings[role]?.limits["lo-power"]?.max
        let operating = 0.5 * (limit ?? 2e-3)
        try await receiver.setInputBlocked(true)

        try await receiver.setLocalOscillatorPower(.zero)
        let electronicSamples = 10 * ctx.settings.homodyneSamples
        let el = moments(try await ctx.acquire(receiver, count: electronicSamples))

        let fractions = [0.25, 0.4, 0.55, 0.7, 0.85, 1.0]
        var powers: [Double] = [0], variances: [Double] = [el.variance], means: [Double] = [el.mean]
        for f in fractions {
            try await receiver.setLocalOscillatorPower(.watts(f * operating))
            let m = moments(try await ctx.acquire(receiver, count: ctx.settings.homodyneSamples))
            powers.append(f * operating); variances.append(m.variance); means.append(m.mean)
        }
        try await receiver.setLocalOscillatorPower(.watts(operating))
        try await receiver.setInputBlocked(false)
        let fit = try ShotNoiseFit.fit(loPower: powers, variance: variances, samplesPerPoint: ctx.settings.homodyneSamples)
        let n0 = fit.slope * operating
        let n0Uncertainty = fit.slopeUncertainty * operating
        let elVar = el.variance, elVarUncertainty = el.variance * (2 / Double(electronicSamples - 1)).squareRoot()
        let clearance = 10 * log10((n0 + elVar) / elVar)
        let quadraticSigmas = fit.quadraticUncertainty > 0 ? abs(fit.quadratic) / fit.quadraticUncertainty : 0

        var plot = LinePlot(title: "Shot-noise calibration of \(role.rawValue)", xLabel: "LO power (mW)", yLabel: "output variance (mV²)")
        plot.series = [
            .init(label: "measured", points: zip(powers, variances).map { (x: $0 * 1e3, y: $1 * 1e6) }, color: LinePlot.palette[0], style: .markers),
            .init(label: "c + aP + bP²", points: stride(from: 0, through: operating * 1.05, by: operating / 100).map {
                (x: $0 * 1e3, y: (fit.electronic + fit.slope * $0 + fit.quadratic * $0 * $0) * 1e6) }, color: LinePlot.palette[1]),
        ]
        plot.referenceLines = [(elVar * 1e6, "electronic (LO off)")]
        return try await ctx.save(
            kind: .homodyne, role: role,
            values: [
                "snu.slope": .init(fit.slope, uncertainty: fit.slopeUncertainty, unit: "V²/W"),
                "lo-power": .init(operating, uncertainty: 0, unit: "W"),
                "snu": .init(n0, uncertainty: n0Uncertainty, unit: "V²"),
                "electronic": .init(elVar, uncertainty: elVarUncertainty, unit: "V²"),
                "electronic.snu": .init(elVar / n0, uncertainty: elVar / n0 * ((elVarUncertainty / elVar) * (elVarUncertainty / elVar) + (n0Uncertainty / n0) * (n0Uncertainty / n0)).squareRoot(), unit: "SNU"),
                "offset": .init(el.mean, uncertainty: (elVar / Double(electronicSamples)).squareRoot(), unit: "V"),
                "clearance": .init(clearance, uncertainty: 0, unit: "dB"),
                "quadratic": .init(fit.quadratic, uncertainty: fit.quadraticUncertainty, unit: "V²/W²"),
            ],
            method: "input blocked; \(electronicSamples) samples with the LO off, \(ctx.settings.homodyneSamples) at each of \(fractions.count) LO powers up to \(String(format: "%.3g", operating * 1e3)) mW; weighted fit σ² = c + aP + bP² (b is \(String(format: "%.1f", quadraticSigmas)) σ from 0)",
            fit: ["quadraticSigmas": quadraticSigmas, "electronicFromFit": fit.electronic],
            raw: Raw(loPowerW: powers, variance: variances, mean: means, samplesPerPoint: ctx.settings.homodyneSamples,
                     electronicSamples: electronicSamples, electronicVariance: elVar, electronicMean: el.mean),
            plot: plot.render().rendered, inputs: inputs)
    }

    static func moments(_ v: [Float]) -> (mean: Double, variance: Double) {
        var m = RunningMoments()
        var block = RunningMoments()
        for (k, x) in v.enumerated() {
            block.add(Double(x))
            if k % 65_536 == 65_535 { m.merge(block); block = RunningMoments() }
        }
        m.merge(block)
        return (m.mean, m.variance)
    }
}
