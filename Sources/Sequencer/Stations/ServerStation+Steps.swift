import BenchKit
import Calibrate
import Foundation
import SecureInference

extension ServerStation {
    /// The server's instruments (identities, calibration present, valid, measured on them, at
    /// this operating point), the model against the transmitter, the interlock. Nothing emits
    /// light before this passes.
    func preflight() async throws {
        let bench = env.bench
        for role in ServerCalibration.required.map(\.0) where !bench.has(role) {
            throw Bench.AccessError.missingRole(role, bench: bench.description.name)
        }
        for role in [Role.trigger, .serverSwitch] where !bench.has(role) {
            throw Bench.AccessError.missingRole(role, bench: bench.description.name)
        }
        let cal = try await ServerCalibration.load(bench: bench, store: env.store)
        calibration = cal
        try env.database.setCalibrationIds(runId, cal.recordIDs)
        if abs(cal.photonsPerMode - configuration.photonsPerMode) > 1e-9 {
            throw RunError.operatingPoint("the active back-to-back calibration was made at μ = \(cal.photonsPerMode), this run asks for μ = \(configuration.photonsPerMode): run `qbench calibrate back-to-back --photons \(configuration.photonsPerMode)` (and `link`) first")
        }
        // The frames and their drives, from the model and the calibration: no device is touched,
        // so a degenerate model or an encoding the transmitter cannot play stops here, before light.
        guard let basis else { throw RunError.check("no secret basis was drawn before the frames") }
        let network = HiddenUnitPermutation(network: model.network, basis: basis).apply(to: model.network)
        frames = try network.layers.map { try LayerFrame(weights: $0, photonsPerMode: configuration.photonsPerMode, vacuumSlotsPerRow: configuration.vacuumSlotsPerRow) }
        try LayerFrame.encodeAll(&frames, transmitter: cal.transmitter)
        if !(try await bench.interlockIsClear()) {
            throw RunError.interlock("the interlock is not clear: close the enclosure / reset the safety chain, then start again")
        }
    }

    /// Brings the server's instruments to the operating point: laser, biases, LO, VOA, switch to
    /// the client, shutter open.
    func warmUp() async throws {
        let bench = env.bench
        guard let cal = calibration else { throw RunError.check("warm-up before the calibration was loaded") }
        let laser = try bench.laser()
        if !(try await laser.isEmitting()) { try await laser.setCurrent(.zero); try await laser.setEmission(true) }
        try await laser.ramp(to: cal.laserCurrent)
        let modulator = try bench.modulator()
        for (channel, v) in cal.biases.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { try await modulator.setBias(channel, v) }
        let rx = try bench.receiver(.serverReceiver)
        try await rx.setLocalOscillatorPower(cal.serverLO.power)
        try await rx.setLocalOscillatorPhase(cal.serverLO.phase)
        try await rx.setInputBlocked(false)
        guard let attenuation = frames.first?.drives?.attenuation else { throw RunError.check("no encoded frame to set the attenuation from: preflight did not encode the model") }
        try await bench.attenuator().setAttenuation(attenuation)
        try await bench.opticalSwitch().route(.client)
        if bench.has(.shutter) { try await bench.shutter().setOpen(true) }
    }
}
