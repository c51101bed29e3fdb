import BenchKit
import Foundation
import SecureInference

/// The active records of one station's roles, checked (checksum, expiry, the instrument each was
/// measured on) before any light: a station never reads the other station's records.
enum ActiveRecords {
    /// The active record of every (role, kind), looked up by `record(_:_:)`.
    struct Loaded {
        let bench: String
        let byKey: [String: CalibrationRecord]
        func record(_ role: Role, _ kind: CalibrationKind) throws -> CalibrationRecord {
            guard let r = byKey["\(role.rawValue)/\(kind.rawValue)"] else { throw CalibrationError.missing(bench: bench, role: role.rawValue, kind: kind) }
            return r
        }
    }

    static func load(_ required: [(Role, CalibrationKind)], bench: Bench, store: CalibrationStore, now: Date) async throws -> Loaded {
        var byKey: [String: CalibrationRecord] = [:]
        for (role, kind) in required {
            let identity = try await bench.device(role).identify()
            byKey["\(role.rawValue)/\(kind.rawValue)"] = try store.active(bench: bench.description.name, role: role.rawValue, kind: kind, device: identity, now: now)
        }
        return Loaded(bench: bench.description.name, byKey: byKey)
    }

    static func value(_ record: CalibrationRecord, _ name: String) throws -> CalibratedValue {
        guard let x = record[name] else { throw CalibrationError.corrupt(path: record.id, reason: "it has no value '\(name)'") }
        return x
    }
}

/// What the server station takes from calibration: its transmitter, its trusted receiver, μ.
public struct ServerCalibration: Sendable {
    public let records: [CalibrationRecord]
    public let transmitter: TransmitterModel
    /// The server's trusted receiver: electronic noise, efficiency, back-to-back response.
    public let serverReceiver: TrustedReceiver
    public let laserCurrent: Current
    public let biases: [ModulatorChannel: Voltage]
    public let serverLO: (power: Power, phase: Phase)
    /// The photon number the back-to-back calibration was made at, and its relative uncertainty
    /// (the attenuation chain and the meter's certificate).
    public let photonsPerMode: Double
    public let photonsRelativeUncertainty: Double

    public var recordIDs: [String] { records.map(\.id) }

    /// The records the server station needs, by (role, kind).
    public static let required: [(Role, CalibrationKind)] = [
        (.serverLaser, .laser), (.serverModulator, .modulator), (.serverAttenuator, .attenuation),
        (.serverReceiver, .homodyne), (.serverReceiver, .backToBack),
    ]

    public static func load(bench: Bench, store: CalibrationStore, maximumField: Double = 0.3, now: Date = Date()) async throws -> ServerCalibration {
        let loaded = try await ActiveRecords.load(required, bench: bench, store: store, now: now)
        let r = loaded.record, v = ActiveRecords.value
        let mod = try r(.serverModulator, .modulator), att = try r(.serverAttenuator, .attenuation), b2b = try r(.serverReceiver, .backToBack)
        let rx = try r(.serverReceiver, .homodyne), laser = try r(.serverLaser, .laser)
        let transmitter = try TransmitterModel(modulator: mod, attenuation: att, backToBack: b2b, bench: bench.description, maximumField: maximumField)
        let n0 = try v(att, "photons.unit-field.0dB")
        return ServerCalibration(
            records: try required.map { try r($0.0, $0.1) },
            transmitter: transmitter,
            serverReceiver: try TrustedReceiver(homodyne: rx, backToBack: b2b),
            laserCurrent: .amperes(try v(laser, "operating-current").value),
            biases: [.i: .volts(try v(mod, "bias.i").value), .q: .volts(try v(mod, "bias.q").value), .phase: .volts(try v(mod, "bias.phase").value)],
            serverLO: (.watts(try v(rx, "lo-power").value), .radians(try v(b2b, "lo-phase").value)),
            photonsPerMode: try v(b2b, "photons").value,
            photonsRelativeUncertainty: n0.uncertainty / n0.value)
    }
}

/// What the client station takes from calibration: its receiver's LO and how its readings map to
/// inner products, at the gain the link was calibrated at.
public struct ClientCalibration: Sendable {
    public let records: [CalibrationRecord]
    public let clientLO: (power: Power, phase: Phase)
    /// The client's reading in volts per √photon of Re α (intended, at the client input) and its offset.
    public let clientReadingGain: Double
    public let clientReadingOffset: Double
    /// The amplifier gain the link calibration was made at.
    public let gain: Double

    public var recordIDs: [String] { records.map(\.id) }

    /// The records the client station needs, by (role, kind).
    public static let required: [(Role, CalibrationKind)] = [(.clientReceiver, .homodyne), (.link, .link)]

    public static func load(bench: Bench, store: CalibrationStore, now: Date = Date()) async throws -> ClientCalibration {
        let loaded = try await ActiveRecords.load(required, bench: bench, store: store, now: now)
        let r = loaded.record, v = ActiveRecords.value
        let crx = try r(.clientReceiver, .homodyne), link = try r(.link, .link)
        return ClientCalibration(
            records: try required.map { try r($0.0, $0.1) },
            clientLO: (.watts(try v(crx, "lo-power").value), .radians(try v(link, "client.lo-phase").value)),
            clientReadingGain: try v(link, "client.reading-gain").value,
            clientReadingOffset: try v(link, "client.reading-offset").value,
            gain: try v(link, "gain.set").value)
    }
}
