import BenchKit
import Foundation
import NumericsKit
import Plots

/// The attenuation chain and μ (docs/hardware.md §6.5): with the I arm at its peak (unit field) and Q
/// dark, the VOA curve is measured on the tap at high power, and the tap-to-client-input ratio with
/// the reference meter moved to the client input. Result: photons per slot at the client input
/// per unit arm field, as a function of the VOA setting: μ = n(A)·⟨|t|²⟩ with
/// n(A) = P_tap(0 dB)·L·10^(−sA/10)·τ/(hν).
public struct AttenuationCalibration: Sendable {
    public struct Raw: Codable, Sendable {
        let setDB: [Double]; let tapPowerW: [Double]
        let clientSetDB: [Double]; let clientPowerW: [Double]; let tapAtClientSettingsW: [Double]
        let symbolRateHz: Double; let photonEnergyJ: Double
    }

    public static func run(_ ctx: CalibrationContext) async throws -> CalibrationRecord {
        let bench = ctx.bench
        let laserRecord = try await ctx.prerequisite(.laser, role: .serverLaser, for: .attenuation)
        let modRecord = try await ctx.prerequisite(.modulator, role: .serverModulator, for: .attenuation)
        let laser = try bench.laser(), meter = try bench.powerMeter(), modulator = try bench.modulator(), voa = try bench.attenuator()
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await ModulatorCalibration.prepareLight(bench, current: laserRecord["operating-current"]?.value ?? 0.05)
        // Unit field: I arm at its peak through the bias (null ± Vπ, whichever is inside the range), Q at null.
        let vpiI = (try modRecord.required("vpi.i")).value, nullI = (try modRecord.required("bias.i")).value
        let range = bench.description.bindings[.serverModulator]?.limits["bias"]
        let peakI = [nullI - vpiI, nullI + vpiI].first { (range?.min ?? -.infinity) <= $0 && $0 <= (range?.max ?? .infinity) } ?? nullI - vpiI
        try await modulator.setStaticDrive(i: .zero, q: .zero)
        try await modulator.setBias(.q, .volts((try modRecord.required("bias.q")).value))
        try await modulator.setBias(.phase, .volts((try modRecord.required("bias.phase")).value))
        try await modulator.setBias(.i, .volts(peakI))

        let limits = bench.description.bindings[.serverAttenuator]?.limits["attenuation"]
        let aMin = limits?.min ?? 0, aMax = limits?.max ?? 80
        let openFloor = bench.attenuationFloor(shutterOpen: true)
        // The meter's noise with (practically) no light: VOA at its maximum, eight readings.
        try await voa.setAttenuation(Decibels(aMax))
        var dark = RunningMoments()
        for _ in 0..<8 { dark.add(try await ctx.readPower(meter).watts) }
        let floorSigma = max(dark.standardDeviation, 1e-18)
        // Tap sweep in 5 dB steps while the light stands 200× above the meter's noise.
        var settings: [Double] = [], tap: [Double] = []
        var a = aMin
        while a <= aMax {
            try await voa.setAttenuation(Decibels(a))
            let p = try await ctx.readPower(meter).watts
            guard p > 200 * floorSigma else { break }
            settings.append(a); tap.append(p)
            a += 5
        }
        guard settings.count >= 3 else {
            throw CalibrationError.corrupt(path: bench.description.file, reason: "the tap meter sees too little light to fit the VOA curve (\(settings.count) usable points): check the laser and the modulator bias")
        }
        // Log-linear fit weighted by each reading's relative noise.
        let sigmasDB = tap.map { 10 / log(10) * floorSigma / $0 }
        let fit = try linearFit(x: settings, y: tap.map { 10 * log10($0 / 1e-3) }, sigmas: sigmasDB, basis: [{ _ in 1 }, { $0 }])
        let slope = -fit.parameters[1]            // dB of actual attenuation per dB set
        let intercept = fit.parameters[0]         // tap dBm at 0 dB set
        func fittedTap(_ a: Double) -> (watts: Double, relative: Double) {
            let db = intercept - slope * a
            let varDB = fit.covariance[0][0] + a * a * fit.covariance[1][1] - 2 * a * fit.covariance[0][1]
            return (1e-3 * pow(10, db / 10), log(10) / 10 * max(0, varDB).squareRoot())
        }

        // Reference meter at the client input (shutter open, so only at settings the bench allows
        // with the shutter open), three settings, ten times the averaging; each against the fitted tap.
        let shutter = bench.has(.shutter) ? try bench.shutter() : nil
        let clientSettings = [openFloor, openFloor + 2, openFloor + 4].filter { $0 <= aMax }
        try await voa.setAttenuation(Decibels(clientSettings[0]))
        try await bench.opticalSwitch().route(.client)
        try await shutter?.setOpen(true)
        try await bench.patchPanel.connect(.serverTap, to: .clientInput)
        var client: [Double] = []
        for a in clientSettings {
            try await voa.setAttenuation(Decibels(a))
            client.append(try await ctx.readPower(meter, averagingFactor: 10).watts)
        }
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await shutter?.setOpen(false)
        let tapAtClient = clientSettings.map { fittedTap($0) }
        let ratios = zip(client, tapAtClient).map { $0 / $1.watts }
        let ratio = ratios.reduce(0, +) / Double(ratios.count)
        let readingRel = zip(client, tapAtClient).map { (floorSigma / 10.0.squareRoot() / $0) * (floorSigma / 10.0.squareRoot() / $0) + $1.relative * $1.relative }
        let ratioRel = (readingRel.reduce(0, +) / Double(readingRel.count * readingRel.count)).squareRoot()
        let ratioSpread = ratio * ratioRel

        let hnu = PhysicalConstants.photonEnergy(wavelength: try await laser.wavelength())
        let tau = 1 / ctx.symbolRate.hertz
        // The unit field's tap power comes from the modulator's fit of the I arm (its cos² scale at
        // the modulator sweep's VOA setting): a single "I at peak" reading would include the Q arm's
        // residual field at null, which interferes at the level of 2/√ER (6 % at 30 dB).
        let armPower = (try modRecord.required("power.i")), sweepAttenuation = modRecord["attenuation"]?.value ?? aMin
        let unitTapAtZero = armPower.value * pow(10, slope * sweepAttenuation / 10)
        let n0 = unitTapAtZero * ratio * tau / hnu
        // Relative uncertainty: the arm's power scale, the ratio, and the meter's certificate.
        let rel = (pow(armPower.uncertainty / armPower.value, 2) + pow(ratioSpread / ratio, 2) + pow(ctx.settings.meterCertificateUncertainty, 2)).squareRoot()
        try await modulator.setBias(.i, .volts(nullI))

        var plot = LinePlot(title: "VOA curve on the tap (unit field) and at the client input", xLabel: "VOA setting (dB)", yLabel: "power (dBm)")
        plot.series = [
            .init(label: "tap", points: zip(settings, tap).map { (x: $0, y: 10 * log10($1 / 1e-3)) }, color: LinePlot.palette[0], style: .markers),
            .init(label: "fit", points: settings.map { (x: $0, y: intercept - slope * $0) }, color: LinePlot.palette[0]),
            .init(label: "client input", points: zip(clientSettings, client).map { (x: $0, y: 10 * log10($1 / 1e-3)) }, color: LinePlot.palette[1], style: .markers),
        ]
        return try await ctx.save(
            kind: .attenuation, role: .serverAttenuator,
            values: [
                "voa.slope": .init(slope, uncertainty: fit.standardError(1), unit: "dB/dB"),
                "tap.unit-field.0dB": .init(intercept, uncertainty: fit.standardError(0), unit: "dBm"),
                "tap-to-client": .init(ratio, uncertainty: ratioSpread, unit: "1"),
                "photons.unit-field.0dB": .init(n0, uncertainty: rel * n0, unit: "photons/slot"),
                "symbol-rate": .init(ctx.symbolRate.hertz, uncertainty: 0, unit: "Hz"),
            ],
            method: "unit-field tap power from the modulator record's I-arm cos² scale; I arm at peak, Q at null for the sweeps; VOA \(settings.first!)…\(settings.last!) dB on the tap (while 200× above the meter's noise), weighted log-linear fit; reference meter at the client input at \(clientSettings.count) settings (≥ \(openFloor) dB, shutter open, 10× averaging) against the fitted tap curve; n(A) = P_tap(0)·L·10^(−sA/10)·τ/hν; meter certificate ±\(ctx.settings.meterCertificateUncertainty * 100) %",
            fit: ["reducedChiSquare": fit.reducedChiSquare],
            raw: Raw(setDB: settings, tapPowerW: tap, clientSetDB: clientSettings, clientPowerW: client, tapAtClientSettingsW: tapAtClient.map(\.watts),
                     symbolRateHz: ctx.symbolRate.hertz, photonEnergyJ: hnu),
            plot: plot.render().rendered, inputs: [laserRecord.id, modRecord.id])
    }
}
