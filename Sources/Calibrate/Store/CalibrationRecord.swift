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
    public static let schemaVersion = 1

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
    /// FNV-1a 64 of the canonical JSON without this field: a changed byte is refused.
    public var checksum: String?

    public subscript(_ name: String) -> CalibratedValue? { values[name] }
}

extension CalibrationRecord {
    static func canonicalJSON(_ r: CalibrationRecord) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(r)
    }

    static func fnv1a(_ data: Data) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return String(format: "%016llx", h)
    }

    /// The record with its checksum filled in.
    public func sealed() throws -> CalibrationRecord {
        var r = self
        r.checksum = nil
        r.checksum = Self.fnv1a(try Self.canonicalJSON(r))
        return r
    }

    public var isSealedCorrectly: Bool {
        guard let c = checksum else { return false }
        var r = self
        r.checksum = nil
        return (try? Self.fnv1a(Self.canonicalJSON(r))) == c
    }
}
