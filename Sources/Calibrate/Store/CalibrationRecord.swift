import BenchKit
import Foundation

/// The kinds of calibration (`qbench calibrate <kind>`), in dependency order.
public enum CalibrationKind: String, Sendable, Codable, CaseIterable, Comparable {
    /// Laser output power against drive current (L-I).
    case laser
    /// Modulator Vπ and bias points from a bias sweep on the power-meter tap; drive pre-distortion.
    case modulator
    /// VOA curve and the loss from the tap to the client input: sets μ.
    case attenuation
    /// Homodyne receiver: shot-noise unit against LO power, electronic noise, LO phase reference.
    case homodyne
    /// Server transmitter → receiver response through the calibration switch (the trusted reference).
    case backToBack = "back-to-back"
    /// Link transmittance each way; the client's amplifier gain and added noise.
    case link

    public static func < (a: Self, b: Self) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// Kinds that must be active before this one can run.
    public var prerequisites: [CalibrationKind] {
        switch self {
        case .laser: []
        case .modulator: [.laser]
        case .attenuation: [.laser, .modulator]
        case .homodyne: [.laser]
        case .backToBack: [.modulator, .attenuation, .homodyne]
        case .link: [.backToBack]
        }
    }
}

/// A calibrated value with its standard uncertainty and unit.
public struct CalibratedValue: Sendable, Codable, Equatable {
    public var value: Double
    public var uncertainty: Double
    public var unit: String
    public init(_ value: Double, uncertainty: Double, unit: String) {
        self.value = value; self.uncertainty = uncertainty; self.unit = unit
    }
}

/// An immutable calibration record: `Calibration/<bench>/<role>/<timestamp>-<kind>.json`.
public struct CalibrationRecord: Sendable, Codable, Equatable {
    public static let schemaVersion = 2

    public var schema: Int
    /// "<bench>/<role>/<timestamp>-<kind>".
    public var id: String
    public var bench: String
    public var role: String
    public var kind: CalibrationKind
    public var createdAt: Date
    public var validUntil: Date
    /// The instrument the values were measured on.
    public var device: InstrumentIdentity
    public var codeVersion: String
    /// Named results, e.g. "vpi.i", "bias.i.null", "snu.slope".
    public var values: [String: CalibratedValue]
    /// How the values were obtained: method, model fitted, fit quality.
    public var method: String
    public var fit: [String: Double]
    /// Files beside the record (relative names): raw data (JSON) and the SVG plot of the fit.
    public var rawData: String
    public var plot: String?
    /// Measurements taken and simulated/real bench time spent.
    public var measurements: Int
    public var benchSeconds: Double
    /// Ids of the records this one was computed from (e.g. μ uses the laser and modulator records).
    public var inputs: [String]
    /// "hmac-sha256:<station key id>:<hex MAC>" of the canonical JSON without this field, under the
    /// station's secret key (`StationKey`): an edited value, or a record made elsewhere, is refused.
    public var seal: String?

    public subscript(_ name: String) -> CalibratedValue? { values[name] }
}

extension CalibrationRecord {
    static func canonicalJSON(_ r: CalibrationRecord) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(r)
    }

    static let sealAlgorithm = "hmac-sha256"

    /// The record sealed with the station's key.
    public func sealed(with key: StationKey) throws -> CalibrationRecord {
        var r = self
        r.seal = nil
        r.seal = "\(Self.sealAlgorithm):\(key.id):\(key.authenticationCode(try Self.canonicalJSON(r)))"
        return r
    }

    /// Why a record's seal does not verify under `key`, or nil when it does.
    public func sealProblem(with key: StationKey) -> String? {
        guard let seal else {
            return "it carries no seal (records of qbench before station keys had an unkeyed checksum anyone could recompute)"
        }
        let parts = seal.split(separator: ":", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == Self.sealAlgorithm else { return "its seal '\(seal.prefix(40))' is not an \(Self.sealAlgorithm) seal" }
        guard parts[1] == key.id else {
            return "it was sealed by station key \(parts[1]), this station's key is \(key.id): calibration records belong to the station that measured them"
        }
        var r = self
        r.seal = nil
        guard let body = try? Self.canonicalJSON(r), key.verify(body, code: parts[2]) else {
            return "its seal does not match its content (the file was edited or damaged)"
        }
        return nil
    }
}
