import BenchKit
import Foundation
import Plots

/// L-I of the server's laser on the monitor tap (docs/hardware.md §6.6): emission on, current stepped
/// from zero to 90 % of the bench's current limit, tap power averaged at each step, a straight
/// line fitted above threshold. Leaves the laser emitting at the operating current (80 % of the
/// limit, or the constraint's ceiling while the shutter is open if lower).
public struct LaserCalibration: Sendable {
    public struct Raw: Codable, Sendable { let currentA: [Double]; let tapPowerW: [Double]; let darkW: Double; let modulatorState: String }

    public static func run(_ ctx: CalibrationContext) async throws -> CalibrationRecord {
        let bench = ctx.bench
        if bench.has(.shutter) { try await bench.shutter().setOpen(false) }
        let laser = try bench.laser(), meter = try bench.powerMeter()
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await meter.setWavelength(try await laser.wavelength())
        try await laser.rampDown()
        try await meter.zero()
        let dark = try await ctx.readPower(meter).watts
        let limit = operatingCeiling(bench)
        let top = 0.9 * limit
        // Most light on the tap: VOA at its minimum, and each modulator arm's bias at the brightest
        // point of a coarse scan (the modulator is not calibrated yet).
        try await bench.attenuator().setAttenuation(Decibels(bench.attenuationFloor(shutterOpen: false)))
        try await laser.setEmission(true)
        try await laser.ramp(to: .amperes(0.5 * top))
        let modulator = try bench.modulator()
        try await modulator.setStaticDrive(i: .zero, q: .zero)
        let biasLimit = bench.description.bindings[.serverModulator]?.limits["bias"]
        let (lo, hi) = (biasLimit?.min ?? -8, biasLimit?.max ?? 8)
        var brightest: [ModulatorChannel: Double] = [:]
        for channel in [ModulatorChannel.i, .q] {
            var best = (v: 0.0, p: -Double.infinity)
            for k in 0...24 {
                let v = lo + (hi - lo) * Double(k) / 24
                try await modulator.setBias(channel, .volts(v))
                let p = try await ctx.readPower(meter).watts
                if p > best.p { best = (v, p) }
            }
            try await modulator.setBias(channel, .volts(best.v))
            brightest[channel] = best.v
        }
        var currents: [Double] = [], powers: [Double] = []
        for k in 0...ctx.settings.laserPoints {
            let i = top * Double(k) / Double(ctx.settings.laserPoints)
            try await laser.ramp(to: .amperes(i))
            currents.append(i)
            powers.append(try await ctx.readPower(meter).watts)
        }
        let fit = try LaserLIFit.fit(current: currents, power: powers)
        let operating = 0.8 * limit
        try await laser.ramp(to: .amperes(operating))
        var plot = LinePlot(title: "Laser L-I on the monitor tap", xLabel: "current (mA)", yLabel: "tap power (µW)")
        plot.series = [
            .init(label: "measured", points: zip(currents, powers).map { (x: $0 * 1e3, y: $1 * 1e6) }, color: LinePlot.palette[0], style: .markers),
            .init(label: "fit above threshold", points: currents.filter { $0 >= fit.threshold }.map { (x: $0 * 1e3, y: fit.slope * ($0 - fit.threshold) * 1e6) },
                  color: LinePlot.palette[1]),
        ]
        return try await ctx.save(
            kind: .laser, role: .serverLaser,
            values: [
                "threshold": .init(fit.threshold, uncertainty: fit.thresholdUncertainty, unit: "A"),
                "slope.tap": .init(fit.slope, uncertainty: fit.slopeUncertainty, unit: "W/A"),
                "operating-current": .init(operating, uncertainty: 0, unit: "A"),
            ],
            method: "L-I sweep 0…\(String(format: "%.1f", top * 1e3)) mA in \(ctx.settings.laserPoints) steps on the tap meter (dark-corrected); P = s (I − I_th) fitted above 10 % of the top power",
            fit: ["maximumRelativeResidual": fit.maximumRelativeResidual],
            raw: Raw(currentA: currents, tapPowerW: powers, darkW: dark,
                     modulatorState: String(format: "static drive 0, bias I %.2f V, Q %.2f V (brightest of a coarse scan)", brightest[.i]!, brightest[.q]!)),
            plot: plot.render().rendered, inputs: [])
    }

    /// The highest current the bench allows with the shutter open (soft limit and constraints).
    static func operatingCeiling(_ bench: Bench) -> Double {
        var ceiling = bench.description.bindings[.serverLaser]?.limits["current"]?.max ?? 0.1
        for c in bench.description.constraints where c.requirement.role == .serverLaser && c.requirement.parameter.name == "current"
            && [.le, .lt].contains(c.requirement.op) {
            ceiling = min(ceiling, c.requirement.value)
        }
        return ceiling
    }
}
