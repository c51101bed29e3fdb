import BenchKit
import Foundation
import SecureInference

/// Everything a protocol run takes from calibration, loaded from the active records of a bench and
/// checked (checksum, expiry, the instrument each was measured on) before any light is sent.
public struct ActiveCalibration: Sendable {
    public let records: [CalibrationRecord]
    public let transmitter: TransmitterModel
    /// The server's trusted receiver: electronic noise, efficiency, back-to-back response.
    public let serverReceiver: TrustedReceiver
    public let laserCurrent: Current
    public let biases: [ModulatorChannel: Voltage]
    public let serverLO: (power: Power, phase: Phase)
    public let clientLO: (power: Power, phase: Phase)
    /// The client's reading in volts per √photon of Re α (intended, at the client input) and its offset.
    public let clientReadingGain: Double
    public let clientReadingOffset: Double
    /// The photon number and the gain the back-to-back and link calibrations were made at.
    public let photonsPerMode: Double
    public let gain: Double
    /// Relative uncertainty of μ (the attenuation chain and the meter's certificate).
    public let photonsRelativeUncertainty: Double

    public var recordIDs: [String] { records.map(\.id) }

    /// The records a run needs, by (role, kind).
    public static let required: [(Role, CalibrationKind)] = [
        (.serverLaser, .laser), (.serverModulator, .modulator), (.serverAttenuator, .attenuation),
        (.serverReceiver, .homodyne), (.clientReceiver, .homodyne), (.serverReceiver, .backToBack), (.link, .link),
    ]

    public static func load(bench: Bench, store: CalibrationStore, maximumField: Double = 0.3, now: Date = Date()) async throws -> ActiveCalibration {
        var byKey: [String: CalibrationRecord] = [:]
        for (role, kind) in required {
            let identity = try await bench.device(role).identify()
            byKey["\(role.rawValue)/\(kind.rawValue)"] = try store.active(bench: bench.description.name, role: role.rawValue, kind: kind, device: identity, now: now)
        }
        // Every (role, kind) of `required` was stored by the loop above.
        func r(_ role: Role, _ kind: CalibrationKind) -> CalibrationRecord { byKey["\(role.rawValue)/\(kind.rawValue)"]! }
        func v(_ record: CalibrationRecord, _ name: String) throws -> CalibratedValue {
            guard let x = record[name] else { throw CalibrationError.corrupt(path: record.id, reason: "it has no value '\(name)'") }
            return x
        }
        let mod = r(.serverModulator, .modulator), att = r(.serverAttenuator, .attenuation), b2b = r(.serverReceiver, .backToBack)
        let rx = r(.serverReceiver, .homodyne), crx = r(.clientReceiver, .homodyne), link = r(.link, .link), laser = r(.serverLaser, .laser)
        let transmitter = try TransmitterModel(modulator: mod, attenuation: att, backToBack: b2b, bench: bench.description, maximumField: maximumField)
        let n0 = try v(att, "photons.unit-field.0dB")
        return ActiveCalibration(
            records: required.map { r($0.0, $0.1) },
            transmitter: transmitter,
            serverReceiver: try TrustedReceiver(homodyne: rx, backToBack: b2b),
            laserCurrent: .amperes(try v(laser, "operating-current").value),
            biases: [.i: .volts(try v(mod, "bias.i").value), .q: .volts(try v(mod, "bias.q").value), .phase: .volts(try v(mod, "bias.phase").value)],
            serverLO: (.watts(try v(rx, "lo-power").value), .radians(try v(b2b, "lo-phase").value)),
            clientLO: (.watts(try v(crx, "lo-power").value), .radians(try v(link, "client.lo-phase").value)),
            clientReadingGain: try v(link, "client.reading-gain").value,
            clientReadingOffset: try v(link, "client.reading-offset").value,
            photonsPerMode: try v(b2b, "photons").value,
            gain: try v(link, "gain.set").value,
            photonsRelativeUncertainty: n0.uncertainty / n0.value)
    }
}

/// Runs calibrations in dependency order (`qbench calibrate all`).
public enum CalibrationRunner {
    public static func run(_ kind: CalibrationKind, _ ctx: CalibrationContext) async throws -> [CalibrationRecord] {
        switch kind {
        case .laser: [try await LaserCalibration.run(ctx)]
        case .modulator: [try await ModulatorCalibration.run(ctx)]
        case .attenuation: [try await AttenuationCalibration.run(ctx)]
        case .homodyne: [try await HomodyneCalibration.run(ctx, role: .serverReceiver), try await HomodyneCalibration.run(ctx, role: .clientReceiver)]
        case .backToBack: [try await BackToBackCalibration.run(ctx)]
        case .link: [try await LinkCalibration.run(ctx)]
        }
    }

    /// Every kind, in order; the bench is left in its safe state afterwards whatever happens.
    public static func all(_ ctx: CalibrationContext) async throws -> [CalibrationRecord] {
        var out: [CalibrationRecord] = []
        do {
            for kind in CalibrationKind.allCases { out += try await run(kind, ctx) }
        } catch {
            await ctx.bench.enterSafeState()
            throw error
        }
        await ctx.bench.enterSafeState()
        return out
    }
}
