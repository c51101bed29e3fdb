import BenchKit
import Foundation
import Plots

/// The attenuation chain and μ (HARDWARE.md §6.5): with the I arm at its peak (unit field) and Q
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
        let vpiI = modRecord["vpi.i"]!.value, nullI = modRecord["bias.i"]!.value
        let range = bench.description.bindings[.serverModulator]?.limits["bias"]
        let peakI = [nullI - vpiI, nullI + vpiI].first { (range?.min ?? -.infinity) <= $0 && $0 <= (range?.max ?? .infinity) } ?? nullI - vpiI
        try await modulator.setStaticDrive(i: .zero, q: .zero)
        try await modulator.setBias(.q, .volts(modRecord["bias.q"]!.value))
        try await modulator.setBias(.phase, .volts(modRecord["bias.phase"]!.value))
        try await modulator.setBias(.i, .volts(peakI))

        let limits = bench.description.bindings[.serverAttenuator]?.limits["attenuation"]
        let aMin = limits?.min ?? 0
        let settings = (0...10).map { aMin + 5 * Double($0) }.filter { $0 <= (limits?.max ?? 100) }
        let openFloor = bench.attenuationFloor(shutterOpen: true)
        var tap: [Double] = []
        for a in settings {
            try await voa.setAttenuation(Decibels(a))
            tap.append(try await ctx.readPower(meter).watts)
        }
        let fit = try linearFit(x: settings, y: tap.map { 10 * log10($0 / 1e-3) }, basis: [{ _ in 1 }, { $0 }])
        let slope = -fit.parameters[1]            // dB of actual attenuation per dB set
        let intercept = fit.parameters[0]         // tap dBm at 0 dB set

        // Reference meter at the client input (shutter open, so only at settings the bench allows
        // with the shutter open), three settings.
        let shutter = bench.has(.shutter) ? try bench.shutter() : nil
        let clientIndices = Array(settings.indices.filter { settings[$0] >= openFloor }.prefix(3))
        guard !clientIndices.isEmpty else {
            throw CalibrationError.corrupt(path: bench.description.file, reason: "no VOA setting in the sweep is allowed with the shutter open (floor \(openFloor) dB): widen the attenuation limit")
        }
        let clientSettings = clientIndices.map { settings[$0] }
        try await voa.setAttenuation(Decibels(clientSettings[0]))
        try await bench.opticalSwitch().route(.client)
        try await shutter?.setOpen(true)
        try await bench.patchPanel.connect(.serverTap, to: .clientInput)
        var client: [Double] = []
        for a in clientSettings {
            try await voa.setAttenuation(Decibels(a))
            client.append(try await ctx.readPower(meter).watts)
        }
        try await bench.patchPanel.connect(.serverTap, to: .tap)
        try await shutter?.setOpen(false)
        let ratios = zip(client, clientIndices.map { tap[$0] }).map { $0 / $1 }
        let ratio = ratios.reduce(0, +) / Double(ratios.count)
        let ratioSpread = ratios.count > 1 ? (ratios.map { ($0 - ratio) * ($0 - ratio) }.reduce(0, +) / Double(ratios.count - 1) / Double(ratios.count)).squareRoot() : 0

        let hnu = PhysicalConstants.photonEnergy(wavelength: try await laser.wavelength())
        let tau = 1 / ctx.symbolRate.hertz
        let n0 = 1e-3 * pow(10, intercept / 10) * ratio * tau / hnu
        // Relative uncertainty: intercept fit, ratio scatter, and the meter's certificate (twice: two ports, one meter → correlated, once).
        let relIntercept = log(10) / 10 * fit.standardError(0)
        let rel = (relIntercept * relIntercept + pow(ratioSpread / ratio, 2) + pow(ctx.settings.meterCertificateUncertainty, 2)).squareRoot()
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
            method: "I arm at peak (unit field), Q at null; VOA \(settings.first!)…\(settings.last!) dB on the tap, log-linear fit; reference meter at the client input at \(clientSettings.count) settings (≥ \(openFloor) dB, shutter open); n(A) = P_tap(0)·L·10^(−sA/10)·τ/hν; meter certificate ±\(ctx.settings.meterCertificateUncertainty * 100) %",
            fit: ["reducedChiSquare": fit.reducedChiSquare],
            raw: Raw(setDB: settings, tapPowerW: tap, clientSetDB: clientSettings, clientPowerW: client, tapAtClientSettingsW: clientIndices.map { tap[$0] },
                     symbolRateHz: ctx.symbolRate.hertz, photonEnergyJ: hnu),
            plot: plot.render().rendered, inputs: [laserRecord.id, modRecord.id])
    }
}
