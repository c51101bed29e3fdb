import Foundation

/// A physical dimension: its SI unit symbol and the other spellings a bench file may use.
public protocol PhysicalDimension: Sendable {
    /// SI unit symbol, e.g. "V".
    static var unit: String { get }
    /// Human name for messages, e.g. "voltage".
    static var name: String { get }
    /// Extra units accepted when parsing, with their factor to SI (and offset, for °C).
    static var aliases: [(symbol: String, factor: Double, offset: Double)] { get }
    /// Whether SI prefixes (p n µ m k M G) apply to `unit`.
    static var acceptsPrefixes: Bool { get }
}

extension PhysicalDimension {
    public static var aliases: [(symbol: String, factor: Double, offset: Double)] { [] }
    public static var acceptsPrefixes: Bool { true }
}

public enum VoltageDimension: PhysicalDimension { public static let unit = "V"; public static let name = "voltage" }
public enum CurrentDimension: PhysicalDimension { public static let unit = "A"; public static let name = "current" }
public enum LengthDimension: PhysicalDimension { public static let unit = "m"; public static let name = "length" }
public enum FrequencyDimension: PhysicalDimension {
    public static let unit = "Hz"; public static let name = "frequency"
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [
        ("Bd", 1, 0), ("kBd", 1e3, 0), ("MBd", 1e6, 0), ("GBd", 1e9, 0), ("kHz", 1e3, 0), ("MHz", 1e6, 0), ("GHz", 1e9, 0),
    ]
}
public enum TemperatureDimension: PhysicalDimension {
    public static let unit = "K"; public static let name = "temperature"
    public static let acceptsPrefixes = false
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [("°C", 1, 273.15), ("degC", 1, 273.15), ("C", 1, 273.15)]
}
public enum PhaseDimension: PhysicalDimension {
    public static let unit = "rad"; public static let name = "phase"
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [("deg", Double.pi / 180, 0), ("°", Double.pi / 180, 0)]
}
public enum PowerDimension: PhysicalDimension {
    public static let unit = "W"; public static let name = "optical power"
}

/// A value with a dimension, stored in SI. Bench files, limits, device settings and calibration
/// records carry these, never bare doubles, so a volt can never be passed where an ampere is due.
public struct Quantity<D: PhysicalDimension>: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var si: Double
    public init(si: Double) { self.si = si }

    public static func < (a: Self, b: Self) -> Bool { a.si < b.si }
    public static func + (a: Self, b: Self) -> Self { Self(si: a.si + b.si) }
    public static func - (a: Self, b: Self) -> Self { Self(si: a.si - b.si) }
    public static func * (a: Self, k: Double) -> Self { Self(si: a.si * k) }
    public static func * (k: Double, a: Self) -> Self { Self(si: a.si * k) }
    public static func / (a: Self, k: Double) -> Self { Self(si: a.si / k) }
    public static func / (a: Self, b: Self) -> Double { a.si / b.si }
    public static prefix func - (a: Self) -> Self { Self(si: -a.si) }
    public static var zero: Self { Self(si: 0) }

    /// Engineering notation with an SI prefix: "3.5 mV", "1.55 µm".
    public var description: String {
        if D.self == TemperatureDimension.self { return String(format: "%.6g K", si) }
        return SIPrefix.format(si, unit: D.unit)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Double.self) { si = v; return }
        let s = try c.decode(String.self)
        do { self = try Self.parse(s) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(error)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(si)
    }

    /// Parses "3.5 V", "120mA", "-3 dBm" (power), "25 °C", "1 GBd", "1550 nm".
    public static func parse(_ text: String) throws(UnitParseError) -> Self {
        let s = text.trimmingCharacters(in: .whitespaces)
        var numberEnd = s.startIndex
        var seenDigit = false
        for idx in s.indices {
            let ch = s[idx]
            if ch.isNumber { seenDigit = true; numberEnd = s.index(after: idx); continue }
            if "+-.".contains(ch) || ((ch == "e" || ch == "E") && seenDigit && s.index(after: idx) < s.endIndex
                                       && (s[s.index(after: idx)].isNumber || "+-".contains(s[s.index(after: idx)]))) {
                numberEnd = s.index(after: idx); continue
            }
            break
        }
        guard let value = Double(s[..<numberEnd]) else { throw UnitParseError(text: text, dimension: D.name, unit: D.unit) }
        let unit = s[numberEnd...].trimmingCharacters(in: .whitespaces)
        // Every value read from a file must be a finite number: "1e400 GBd" is +∞ after Double(),
        // "1e306 GHz" after the prefix; neither is a setting any device or the twin can honour.
        func finite(_ si: Double) throws(UnitParseError) -> Self {
            guard si.isFinite else { throw UnitParseError(text: text, dimension: D.name, unit: D.unit, notFinite: true) }
            return Self(si: si)
        }
        if D.self == PowerDimension.self, unit == "dBm" { return try finite(1e-3 * pow(10, value / 10)) }
        if D.self == PowerDimension.self, unit == "dBW" { return try finite(pow(10, value / 10)) }
        for alias in D.aliases where alias.symbol == unit { return try finite(value * alias.factor + alias.offset) }
        if unit == D.unit { return try finite(value) }
        if D.acceptsPrefixes, unit.hasSuffix(D.unit), let factor = SIPrefix.factor(String(unit.dropLast(D.unit.count))) {
            return try finite(value * factor)
        }
        throw UnitParseError(text: text, dimension: D.name, unit: D.unit)
    }
}

public struct UnitParseError: Error, CustomStringConvertible, Equatable {
    public let text: String
    public let dimension: String
    public let unit: String
    /// The number parsed but is not finite (inf, nan, or beyond ±1.8e308 once scaled to SI).
    public let notFinite: Bool
    public init(text: String, dimension: String, unit: String, notFinite: Bool = false) {
        self.text = text; self.dimension = dimension; self.unit = unit; self.notFinite = notFinite
    }
    public var description: String {
        notFinite
            ? "'\(text)' is not a finite \(dimension): write an ordinary number with a unit such as '3.5 \(unit)'"
            : "'\(text)' is not a \(dimension): expected a number with a unit such as '3.5 \(unit)' or 'm\(unit)'"
    }
}

enum SIPrefix {
    static let table: [(String, Double)] = [("p", 1e-12), ("n", 1e-9), ("µ", 1e-6), ("u", 1e-6), ("m", 1e-3), ("", 1), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)]
    static func factor(_ p: String) -> Double? { table.first { $0.0 == p }?.1 }
    static func format(_ v: Double, unit: String) -> String {
        guard v != 0, v.isFinite else { return "\(v) \(unit)" }
        let a = abs(v)
        let choice = [("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)]
            .first { a >= $0.1 * 0.9999999 } ?? ("p", 1e-12)
        return String(format: "%.6g %@%@", v / choice.1, choice.0, unit)
    }
}

public typealias Voltage = Quantity<VoltageDimension>
public typealias Current = Quantity<CurrentDimension>
public typealias Length = Quantity<LengthDimension>
public typealias Frequency = Quantity<FrequencyDimension>
public typealias Temperature = Quantity<TemperatureDimension>
public typealias Phase = Quantity<PhaseDimension>
public typealias Power = Quantity<PowerDimension>

extension Quantity where D == VoltageDimension {
    public static func volts(_ v: Double) -> Self { Self(si: v) }
    public static func millivolts(_ v: Double) -> Self { Self(si: v * 1e-3) }
    public var volts: Double { si }
}
extension Quantity where D == CurrentDimension {
    public static func amperes(_ v: Double) -> Self { Self(si: v) }
    public static func milliamperes(_ v: Double) -> Self { Self(si: v * 1e-3) }
    public var amperes: Double { si }
    public var milliamperes: Double { si * 1e3 }
}
extension Quantity where D == LengthDimension {
    public static func metres(_ v: Double) -> Self { Self(si: v) }
    public static func kilometres(_ v: Double) -> Self { Self(si: v * 1e3) }
    public static func nanometres(_ v: Double) -> Self { Self(si: v * 1e-9) }
    public var metres: Double { si }
    public var nanometres: Double { si * 1e9 }
}
extension Quantity where D == FrequencyDimension {
    public static func hertz(_ v: Double) -> Self { Self(si: v) }
    public static func gigahertz(_ v: Double) -> Self { Self(si: v * 1e9) }
    public var hertz: Double { si }
}
extension Quantity where D == TemperatureDimension {
    public static func kelvin(_ v: Double) -> Self { Self(si: v) }
    public static func celsius(_ v: Double) -> Self { Self(si: v + 273.15) }
    public var celsius: Double { si - 273.15 }
}
extension Quantity where D == PhaseDimension {
    public static func radians(_ v: Double) -> Self { Self(si: v) }
    public var radians: Double { si }
}
extension Quantity where D == PowerDimension {
    public static func watts(_ v: Double) -> Self { Self(si: v) }
    public static func milliwatts(_ v: Double) -> Self { Self(si: v * 1e-3) }
    public static func dBm(_ v: Double) -> Self { Self(si: 1e-3 * pow(10, v / 10)) }
    public var watts: Double { si }
    public var dBm: Double { 10 * log10(si / 1e-3) }
}

/// A power ratio in decibels (attenuation, loss, gain). Positive attenuation means less light.
public struct Decibels: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var dB: Double
    public init(_ dB: Double) { self.dB = dB }
    public init(linear ratio: Double) { dB = 10 * log10(ratio) }
    /// The linear power ratio 10^(dB/10).
    public var linear: Double { pow(10, dB / 10) }
    public static func < (a: Self, b: Self) -> Bool { a.dB < b.dB }
    public var description: String { String(format: "%.4g dB", dB) }

    public static func parse(_ text: String) throws(UnitParseError) -> Decibels {
        let s = text.trimmingCharacters(in: .whitespaces)
        guard s.hasSuffix("dB"), let v = Double(s.dropLast(2).trimmingCharacters(in: .whitespaces)), v.isFinite else {
            throw UnitParseError(text: text, dimension: "ratio in decibels", unit: "dB")
        }
        return Decibels(v)
    }
}

/// Physical constants used across the bench.
public enum PhysicalConstants {
    public static let planck = 6.62607015e-34
    public static let speedOfLight = 299_792_458.0
    /// Photon energy hν at a wavelength.
    public static func photonEnergy(wavelength: Length) -> Double { planck * speedOfLight / wavelength.si }
}
