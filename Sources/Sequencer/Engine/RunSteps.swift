import BenchKit
import Calibrate
import Foundation
import SecureInference

extension ProtocolRun {
    /// Identities, calibration (present, valid, measured on these instruments, at this operating
    /// point), the model against the bench, the interlock. Nothing emits light before this passes.
    func preflight() async throws {
        let bench = env.bench
        for role in ActiveCalibration.required.map(\.0) where !bench.has(role) {
            throw Bench.AccessError.missingRole(role, bench: bench.description.name)
        }
        for role in [Role.trigger, .serverSwitch, .clientProcessor, .clientAmplifier, .clientSplitter] where !bench.has(role) {
            throw Bench.AccessError.missingRole(role, bench: bench.description.name)
        }
        calibration = try await ActiveCalibration.load(bench: bench, store: env.store)
        try env.database.setCalibrationIds(runId, calibration.recordIDs)
        if abs(calibration.photonsPerMode - configuration.photonsPerMode) > 1e-9 {
            throw RunError.operatingPoint("the active back-to-back calibration was made at μ = \(calibration.photonsPerMode), this run asks for μ = \(configuration.photonsPerMode): run `qbench calibrate back-to-back --photons \(configuration.photonsPerMode)` (and `link`) first")
        }
        if abs(calibration.gain - configuration.gain) > 1e-9 {
            throw RunError.operatingPoint("the active link calibration was made at G = \(calibration.gain), this run asks for G = \(configuration.gain): run `qbench calibrate link --gain \(configuration.gain)` first")
        }
        // The frames and their drives, from the model and the calibration: no device is touched,
        // so a degenerate model or an encoding the transmitter cannot play stops here, before light.
        frames = try model.network.layers.map { try LayerFrame(weights: $0, photonsPerMode: configuration.photonsPerMode, vacuumSlotsPerRow: configuration.vacuumSlotsPerRow) }
        try LayerFrame.encodeAll(&frames, transmitter: calibration.transmitter)
        if bench.has(.interlock), !(try await bench.interlock().isClear()) {
            throw RunError.interlock("the interlock is not clear: close the enclosure / reset the safety chain, then start again")
        }
    }

    /// Brings the bench to the operating point: laser, biases, LOs, client optics (honest
    /// settings), frames encoded and loaded, switch to the client, shutter open.
    func warmUp() async throws {
        let bench = env.bench, cal = calibration!
        let laser = try bench.laser()
        if !(try await laser.isEmitting()) { try await laser.setCurrent(.zero); try await laser.setEmission(true) }
        try await laser.ramp(to: cal.laserCurrent)
        let modulator = try bench.modulator()
        for (channel, v) in cal.biases.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { try await modulator.setBias(channel, v) }
        let rx = try bench.receiver(.serverReceiver), crx = try bench.receiver(.clientReceiver)
        try await rx.setLocalOscillatorPower(cal.serverLO.power)
        try await rx.setLocalOscillatorPhase(cal.serverLO.phase)
        try await rx.setInputBlocked(false)
        try await crx.setLocalOscillatorPower(cal.clientLO.power)
        try await crx.setLocalOscillatorPhase(cal.clientLO.phase)
        try await crx.setInputBlocked(false)
        try await bench.amplifier().setGain(configuration.gain)
        try await bench.splitter().setKeptFraction(1 - 1 / configuration.gain)
        guard let attenuation = frames.first?.drives?.attenuation else { throw RunError.check("no encoded frame to set the attenuation from: preflight did not encode the model") }
        try await bench.attenuator().setAttenuation(attenuation)
        try await bench.opticalSwitch().route(.client)
        if bench.has(.shutter) { try await bench.shutter().setOpen(true) }
    }
}
