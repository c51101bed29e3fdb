/// A settable parameter of a device family, with its dimension.
public struct Parameter: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Dimension: String, Sendable, Codable {
        case voltage, current, power, temperature, decibels, ratio, flag
        /// Parses a value of this dimension to SI (dB stay dB, flags are 0/1).
        public func parse(_ text: String) -> Double? {
            switch self {
            case .voltage: return try? Voltage.parse(text).si
            case .current: return try? Current.parse(text).si
            case .power: return try? Power.parse(text).si
            case .temperature: return try? Temperature.parse(text).si
            case .decibels: return try? Decibels.parse(text).dB
            case .ratio: return Double(text).flatMap { $0.isFinite ? $0 : nil }
            case .flag:
                switch text { case "open", "true", "on", "1": return 1; case "closed", "false", "off", "0": return 0; default: return nil }
            }
        }
        public var example: String {
            switch self {
            case .voltage: "2.5 V"
            case .current: "120 mA"
            case .power: "10 mW or 10 dBm"
            case .temperature: "25 °C"
            case .decibels: "30 dB"
            case .ratio: "a plain number such as 4"
            case .flag: "open or closed"
            }
        }
        public func format(_ si: Double) -> String {
            switch self {
            case .voltage: "\(Voltage(si: si))"
            case .current: "\(Current(si: si))"
            case .power: "\(Power(si: si))"
            case .temperature: String(format: "%.2f °C", si - 273.15)
            case .decibels: "\(Decibels(si))"
            case .ratio: String(format: "%g", si)
            case .flag: si != 0 ? "open" : "closed"
            }
        }
    }

    public let name: String
    public let dimension: Dimension
    public var description: String { name }

    /// The limitable parameters of each family.
    public static func of(_ family: DeviceFamily) -> [Parameter] {
        switch family {
        case .laser: [.init(name: "current", dimension: .current), .init(name: "temperature", dimension: .temperature)]
        case .modulator: [.init(name: "drive", dimension: .voltage), .init(name: "bias", dimension: .voltage)]
        case .attenuator: [.init(name: "attenuation", dimension: .decibels)]
        case .amplifier: [.init(name: "gain", dimension: .ratio)]
        case .splitter: [.init(name: "kept-fraction", dimension: .ratio)]
        case .homodyneReceiver: [.init(name: "lo-power", dimension: .power)]
        case .shutter: [.init(name: "open", dimension: .flag)]
        case .powerMeter, .fiberLink, .clientProcessor, .opticalSwitch, .trigger, .interlock: []
        }
    }
}

/// A closed range a parameter must stay in (SI; dB for decibels), and where it was declared.
public struct LimitRange: Sendable, Hashable, Codable {
    public var min: Double?
    public var max: Double?
    public var source: String
    public init(min: Double? = nil, max: Double? = nil, source: String) { self.min = min; self.max = max; self.source = source }

    public func contains(_ v: Double) -> Bool { (min.map { v >= $0 } ?? true) && (max.map { v <= $0 } ?? true) }
}

/// A value refused before it reached the instrument.
public struct LimitViolation: Error, CustomStringConvertible, Sendable, Equatable {
    public let role: Role
    public let parameter: String
    public let requested: String
    public let rule: String
    public let source: String
    public var description: String {
        "\(role.rawValue).\(parameter) = \(requested) refused before reaching the instrument: \(rule) (declared at \(source))"
    }
}

/// A limit across parameters: while `condition` holds, `requirement` must hold, e.g.
/// `while: shutter.open == open` / `require: server.laser.current <= 80 mA`.
public struct Constraint: Sendable, Hashable, Codable {
    public struct Comparison: Sendable, Hashable, Codable, CustomStringConvertible {
        public enum Op: String, Sendable, Codable, CaseIterable { case le = "<=", ge = ">=", lt = "<", gt = ">", eq = "==" }
        public let role: Role
        public let parameter: Parameter
        public let op: Op
        public let value: Double
        public let text: String

        public func holds(_ v: Double) -> Bool {
            switch op {
            case .le: v <= value
            case .ge: v >= value
            case .lt: v < value
            case .gt: v > value
            case .eq: abs(v - value) <= 1e-12 * Swift.max(1, abs(value))
            }
        }
        public var key: String { "\(role.rawValue).\(parameter.name)" }
        public var description: String { text }

        /// Parses "role.parameter op value" (value with the parameter's unit).
        public static func parse(_ text: String) throws(ConstraintSyntaxError) -> Comparison {
            guard let op = Op.allCases.sorted(by: { $0.rawValue.count > $1.rawValue.count }).first(where: { text.contains($0.rawValue) }) else {
                throw ConstraintSyntaxError(message: "'\(text)' has no comparison; write e.g. 'server.laser.current <= 80 mA'")
            }
            let sides = text.components(separatedBy: op.rawValue).map { $0.trimmingCharacters(in: .whitespaces) }
            guard sides.count == 2 else { throw ConstraintSyntaxError(message: "'\(text)' must be 'role.parameter \(op.rawValue) value'") }
            guard let dot = sides[0].lastIndex(of: "."),
                  let role = Role(rawValue: String(sides[0][..<dot])) else {
                throw ConstraintSyntaxError(message: "'\(sides[0])' does not name a role and parameter (roles: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let name = String(sides[0][sides[0].index(after: dot)...])
            guard let parameter = Parameter.of(role.family).first(where: { $0.name == name }) else {
                let known = Parameter.of(role.family).map(\.name)
                throw ConstraintSyntaxError(message: "\(role.rawValue) has no parameter '\(name)'\(known.isEmpty ? "" : "; it has: " + known.joined(separator: ", "))")
            }
            guard let value = parameter.dimension.parse(sides[1]) else {
                throw ConstraintSyntaxError(message: "bad unit: '\(sides[1])' is not a \(parameter.dimension.rawValue) (e.g. \(parameter.dimension.example))")
            }
            return Comparison(role: role, parameter: parameter, op: op, value: value, text: text)
        }
    }

    public let condition: Comparison
    public let requirement: Comparison
    public let source: String
}

public struct ConstraintSyntaxError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
