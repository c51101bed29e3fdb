import BenchKit
import Foundation
import NumericsKit
import Plots

/// Vπ and bias points of the server's IQ modulator from bias sweeps read on the monitor tap
/// (docs/hardware.md §6.1, "calibrate sequentially"): sweep the I arm, park it at null, sweep the Q arm,
/// park it at null, sweep I again with Q dark; then light both arms with equal static drives and
/// sweep the outer phase section to find quadrature (θ = π/2). Each sweep is fitted with
/// `ArmTransferFit` / `FringeFit`; the record carries every parameter the encoder's pre-distortion
/// needs (drive V for arm field t at null: V = −(2Vπ/π) arcsin t).
public struct ModulatorCalibration: Sendable {
    public struct Sweep: Codable, Sendable { let name: String; let biasV: [Double]; let tapPowerW: [Double] }
    public struct Raw: Codable, Sendable { let sweeps: [Sweep]; let laserCurrentA: Double; let attenuationDB: Double }

    public static func run(_ ctx: CalibrationContext) async throws -> CalibrationRecord {
        let bench = ctx.bench
        let laserRecord = try await ctx.prerequisite(.laser, role: .serverLaser, for: .modulator)
        let laser = try bench.laser(), meter = try bench.powerMeter(), modulator = try bench.modulator(), voa = try bench.attenuator()
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await prepareLight(bench, current: laserRecord["operating-current"]?.value ?? LaserCalibration.operatingCeiling(bench) * 0.8)
        let minimumAttenuation = bench.description.bindings[.serverAttenuator]?.limits["attenuation"]?.min ?? 0
        try await voa.setAttenuation(Decibels(minimumAttenuation))
        try await modulator.setStaticDrive(i: .zero, q: .zero)
        let limits = bench.description.bindings[.serverModulator]?.limits["bias"]
        let lo = limits?.min ?? -8, hi = limits?.max ?? 8
        let volts = (0...ctx.settings.biasPoints).map { lo + (hi - lo) * Double($0) / Double(ctx.settings.biasPoints) }
        var sweeps: [Sweep] = []

        // Points in a shuffled (fixed) order: a slow bias drift during a sweep then scatters the
        // readings (and the fit's residuals say so) instead of tilting the fitted Vπ.
        var order = Array(volts.indices)
        var shuffler = SplitMix64(seed: 0x5EED)
        order.shuffle(using: &shuffler)
        func sweep(_ channel: ModulatorChannel, _ name: String) async throws -> [Double] {
            var p = [Double](repeating: 0, count: volts.count)
            for k in order {
                try await modulator.setBias(channel, .volts(volts[k]))
                p[k] = try await ctx.readPower(meter).watts
            }
            sweeps.append(Sweep(name: name, biasV: volts, tapPowerW: p))
            return p
        }
        // A shorter sweep of an arm at the end (41 points, same model): its null now.
        let shortVolts = (0...40).map { lo + (hi - lo) * Double($0) / 40 }
        func recheckNull(_ channel: ModulatorChannel) async throws -> ArmTransferFit {
            var p = [Double](repeating: 0, count: shortVolts.count)
            var shortOrder = Array(shortVolts.indices)
            shortOrder.shuffle(using: &shuffler)
            for k in shortOrder {
                try await modulator.setBias(channel, .volts(shortVolts[k]))
                p[k] = try await ctx.readPower(meter).watts
            }
            return try ArmTransferFit.fit(volts: shortVolts, power: p)
        }
        let first = try ArmTransferFit.fit(volts: volts, power: try await sweep(.i, "i (q as found)"))
        try await modulator.setBias(.i, .volts(first.null()))
        let q = try ArmTransferFit.fit(volts: volts, power: try await sweep(.q, "q (i at null)"))
        try await modulator.setBias(.q, .volts(q.null()))
        let i = try ArmTransferFit.fit(volts: volts, power: try await sweep(.i, "i (q at null)"))
        try await modulator.setBias(.i, .volts(i.null()))
        // Both arms at |t| = 0.7 through the drive, then the outer phase section.
        let dI = -2 * i.vpi / Double.pi * asin(0.7), dQ = -2 * q.vpi / Double.pi * asin(0.7)
        try await modulator.setStaticDrive(i: .volts(dI), q: .volts(dQ))
        let fringe = try FringeFit.fit(volts: volts, power: try await sweep(.phase, "phase (both arms at |t| = 0.7)"))
        let quadrature = fringe.voltage(forPhase: Double.pi / 2)
        try await modulator.setBias(.phase, .volts(quadrature))
        try await modulator.setStaticDrive(i: .zero, q: .zero)
        // The nulls again at the end: the drift since the sweeps is measured, the latest null kept,
        // and half the shift added to its uncertainty (and, as a phase, to φ's).
        let laterI = try await recheckNull(.i)
        try await modulator.setBias(.i, .volts(i.null()))
        let laterQ = try await recheckNull(.q)
        try await modulator.setBias(.q, .volts(q.null()))
        // φ mod π: the shift is the smallest difference.
        let driftI = remainder(laterI.phase - i.phase, Double.pi), driftQ = remainder(laterQ.phase - q.phase, Double.pi)
        let phaseI = i.phase + driftI, phaseQ = q.phase + driftQ
        // Two determinations of each arm a few seconds apart: their difference (drift, and the
        // fit's real scatter) enters the uncertainty as Δ/√2 beside the fits' formal errors.
        let phaseIUncertainty = (pow(laterI.phaseUncertainty, 2) + driftI * driftI / 2).squareRoot()
        let phaseQUncertainty = (pow(laterQ.phaseUncertainty, 2) + driftQ * driftQ / 2).squareRoot()
        let vpiIUncertainty = (pow(i.vpiUncertainty, 2) + pow(laterI.vpi - i.vpi, 2) / 2).squareRoot()
        let vpiQUncertainty = (pow(q.vpiUncertainty, 2) + pow(laterQ.vpi - q.vpi, 2) / 2).squareRoot()
        let armNullI = i.null() - driftI * 2 * i.vpi / Double.pi, armNullQ = q.null() - driftQ * 2 * q.vpi / Double.pi
        // Carrier null: with zero drive each arm still leaks (finite extinction), in quadrature with
        // its own field, i.e. onto the other arm's axis. Biasing both arms slightly off their own
        // nulls cancels the total carrier; left in place it would add a constant field to every
        // weight, which the client's inner products feel as Σξ_j times the leak. Coordinate
        // descent with parabolas of the tap power, three rounds.
        var nullI = armNullI, nullQ = armNullQ
        var carrierRaw: [Sweep] = []
        for _ in 0..<3 {
            for (channel, vpi) in [(ModulatorChannel.i, i.vpi), (.q, q.vpi)] {
                let centre = channel == .i ? nullI : nullQ
                let half = 0.1 * 2 * vpi / Double.pi   // ±0.1 rad of arm phase
                let xs = (0...10).map { centre - half + 2 * half * Double($0) / 10 }
                var ys: [Double] = []
                for x in xs {
                    try await modulator.setBias(channel, .volts(x))
                    ys.append(try await ctx.readPower(meter).watts)
                }
                carrierRaw.append(Sweep(name: "carrier null, \(channel.rawValue)", biasV: xs, tapPowerW: ys))
                let f = try linearFit(x: xs.map { $0 - centre }, y: ys, basis: [{ _ in 1 }, { $0 }, { $0 * $0 }])
                let minimum = centre - f.parameters[1] / (2 * f.parameters[2])
                let best = f.parameters[2] > 0 ? max(centre - half, min(centre + half, minimum)) : centre
                if channel == .i { nullI = best } else { nullQ = best }
                try await modulator.setBias(channel, .volts(best))
            }
        }
        sweeps += carrierRaw

        var plot = LinePlot(title: "IQ modulator bias sweeps on the monitor tap", xLabel: "bias (V)", yLabel: "tap power (µW)")
        let fine = stride(from: lo, through: hi, by: (hi - lo) / 400).map { $0 }
        plot.series = [
            .init(label: "I arm (Q at null)", points: zip(volts, sweeps[2].tapPowerW).map { (x: $0, y: $1 * 1e6) }, color: LinePlot.palette[0], style: .markers),
            .init(label: "I fit", points: fine.map { (x: $0, y: ArmTransferFit.model($0, i.parameters) * 1e6) }, color: LinePlot.palette[0]),
            .init(label: "Q arm (I at null)", points: zip(volts, sweeps[1].tapPowerW).map { (x: $0, y: $1 * 1e6) }, color: LinePlot.palette[1], style: .markers),
            .init(label: "Q fit", points: fine.map { (x: $0, y: ArmTransferFit.model($0, q.parameters) * 1e6) }, color: LinePlot.palette[1]),
            .init(label: "phase section", points: zip(volts, sweeps[3].tapPowerW).map { (x: $0, y: $1 * 1e6) }, color: LinePlot.palette[2], style: .markers),
            .init(label: "fringe fit", points: fine.map { (x: $0, y: FringeFit.model($0, [fringe.c0, fringe.amplitude, fringe.theta0, fringe.vpi]) * 1e6) }, color: LinePlot.palette[2]),
        ]
        let raw = Raw(sweeps: sweeps, laserCurrentA: try await laser.current().amperes, attenuationDB: minimumAttenuation)
        return try await ctx.save(
            kind: .modulator, role: .serverModulator,
            values: [
                "vpi.i": .init(i.vpi, uncertainty: vpiIUncertainty, unit: "V"),
                "vpi.q": .init(q.vpi, uncertainty: vpiQUncertainty, unit: "V"),
                "phase.i": .init(phaseI, uncertainty: phaseIUncertainty, unit: "rad"),
                "phase.q": .init(phaseQ, uncertainty: phaseQUncertainty, unit: "rad"),
                "bias.i": .init(nullI, uncertainty: phaseIUncertainty * 2 * i.vpi / Double.pi, unit: "V"),
                "bias.q": .init(nullQ, uncertainty: phaseQUncertainty * 2 * q.vpi / Double.pi, unit: "V"),
                "arm-null.i": .init(armNullI, uncertainty: phaseIUncertainty * 2 * i.vpi / Double.pi, unit: "V"),
                "arm-null.q": .init(armNullQ, uncertainty: phaseQUncertainty * 2 * q.vpi / Double.pi, unit: "V"),
                "drift.i": .init(driftI, uncertainty: (pow(laterI.phaseUncertainty, 2) + pow(i.phaseUncertainty, 2)).squareRoot(), unit: "rad"),
                "drift.q": .init(driftQ, uncertainty: (pow(laterQ.phaseUncertainty, 2) + pow(q.phaseUncertainty, 2)).squareRoot(), unit: "rad"),
                "vpi.phase": .init(fringe.vpi, uncertainty: fringe.vpiUncertainty, unit: "V"),
                "bias.phase": .init(quadrature, uncertainty: fringe.theta0Uncertainty * fringe.vpi / Double.pi, unit: "V"),
                "power.i": .init(i.a, uncertainty: i.aUncertainty, unit: "W"),
                "power.q": .init(q.a, uncertainty: q.aUncertainty, unit: "W"),
                "attenuation": .init(minimumAttenuation, uncertainty: 0, unit: "dB"),
                "extinction.i": .init(i.extinctionDB, uncertainty: 0, unit: "dB"),
                "extinction.q": .init(q.extinctionDB, uncertainty: 0, unit: "dB"),
            ],
            method: "bias sweeps \(String(format: "%.1f", lo))…\(String(format: "%.1f", hi)) V in \(ctx.settings.biasPoints) steps on the tap meter: I, Q (I at null), I (Q at null) fitted with c0 + A cos²(πV/2Vπ + φ) + B cos(πV/2Vπ + φ) + C sin(πV/2Vπ + φ); outer phase fitted with c0 + C cos(πV/Vπ + θ0) at |t_I| = |t_Q| = 0.7, parked at θ = π/2; sweep points in a shuffled order; each arm swept again at the end (41 points): the shift of φ is the drift during the calibration, the later φ is kept; then the carrier nulled jointly (parabolas of the tap power around both nulls, 3 rounds): bias.i/bias.q",
            fit: ["i.reducedChiSquare": i.reducedChiSquare, "q.reducedChiSquare": q.reducedChiSquare, "i.residualRMS": i.residualRMS, "q.residualRMS": q.residualRMS],
            raw: raw, plot: plot.render().rendered, inputs: [laserRecord.id])
    }

    /// Laser emitting at `current` (ramped), as the routines after the L-I need it.
    public static func prepareLight(_ bench: Bench, current: Double) async throws {
        let laser = try bench.laser()
        if !(try await laser.isEmitting()) { try await laser.setCurrent(.zero); try await laser.setEmission(true) }
        try await laser.ramp(to: .amperes(current))
    }
}
