import BenchKit

/// A fault the twin plays on demand, from the bench file's `simulation.faults` or
/// `SimulationEngine.inject(_:)`: what goes wrong, on which role, and when.
///
/// Call faults (`timeout`, `disconnect`, `instrumentError`) make calls to the device fail with a
/// `DeviceError` of that kind. They start once the simulated clock reaches `at` AND the device has
/// already answered `afterCalls` calls; they end after `count` failed calls or once the clock passes
/// `at + duration`, else when cleared (`SimulationEngine.clearFaults`).
/// `driftBurst` moves a modulator bias phase by `size`, ramped over `ramp` of simulated time from
/// `at` (and it stays moved: recalibrate). `deadReceiver` makes a receiver deliver only its digitiser
/// offset and electronic noise, from `at` for `duration` (default: until cleared).
public struct SimulatedFault: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Calls time out after `delay` of real time (a `fetch` waits its own timeout instead).
        case timeout(delay: Duration)
        case disconnect
        case instrumentError(message: String)
        case driftBurst(channel: ModulatorChannel, size: Phase, ramp: Duration)
        case deadReceiver

        public var name: String {
            switch self {
            case .timeout: "timeout"
            case .disconnect: "disconnect"
            case .instrumentError: "instrument-error"
            case .driftBurst: "drift-burst"
            case .deadReceiver: "dead-receiver"
            }
        }

        var failsCalls: Bool {
            switch self { case .timeout, .disconnect, .instrumentError: true; case .driftBurst, .deadReceiver: false }
        }
    }

    public var role: Role
    public var kind: Kind
    /// Simulated time from which the fault can act.
    public var at: Duration
    /// Calls the device answers normally first (call faults only).
    public var afterCalls: Int
    /// Calls the fault affects (call faults only; nil: until cleared or `duration` passes).
    public var count: Int?
    /// Simulated time the fault lasts from `at` (nil: until cleared).
    public var duration: Duration?

    public init(role: Role, kind: Kind, at: Duration = .zero, afterCalls: Int = 0, count: Int? = nil, duration: Duration? = nil) {
        self.role = role; self.kind = kind; self.at = at; self.afterCalls = afterCalls; self.count = count; self.duration = duration
    }

    public var description: String {
        var s = "\(kind.name) on \(role.rawValue) from t = \(Time(at))"
        if afterCalls > 0 { s += " after \(afterCalls) calls" }
        if let count { s += " for \(count) calls" }
        if let duration { s += " for \(Time(duration))" }
        return s
    }

    /// Which kinds apply to a role's family.
    static func applies(_ kind: Kind, to role: Role) -> Bool {
        switch kind {
        case .driftBurst: role.family == .modulator
        case .deadReceiver: role.family == .homodyneReceiver
        default: true
        }
    }

    static let kindNames = ["timeout", "disconnect", "instrument-error", "drift-burst", "dead-receiver"]

    /// Parses one `- role: …, kind: …` item of `simulation.faults`.
    static func parse(_ item: YAMLReader) throws(BenchFileError) -> SimulatedFault {
        try item.onlyKeys(["role", "kind", "at", "after-calls", "count", "duration", "delay", "message", "channel", "size", "ramp"], in: "a simulated fault")
        let roleReader = try item.required("role", "the role the fault hits, e.g. 'role: server.receiver'")
        guard let role = Role(rawValue: try roleReader.string) else {
            throw roleReader.fail("unknown role '\(try roleReader.string)'; the roles are: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let kindReader = try item.required("kind", "one of: \(kindNames.joined(separator: ", "))")
        let kindName = try kindReader.string
        func time(_ key: String) throws(BenchFileError) -> Duration? {
            guard let r = try item.optional(key) else { return nil }
            let t = try r.quantity(Time.self)
            guard t.si >= 0 else { throw r.fail("'\(key)' must not be negative (a simulated time such as '2 ms')") }
            guard let d = t.duration else {
                throw r.fail("'\(key)' is \(try r.string), beyond the simulated clock's range: give at most \(Int(Duration.maximumFileSeconds)) s (about 31 years), e.g. '2 ms'")
            }
            return d
        }
        func only(_ allowed: [String]) throws(BenchFileError) {
            let common = ["role", "kind", "at", "after-calls", "count", "duration"]
            for e in try item.entries where !common.contains(e.key) && !allowed.contains(e.key) {
                throw item.fail("'\(e.key)' does not apply to a \(kindName) fault", line: e.keyLine)
            }
        }
        let kind: Kind
        switch kindName {
        case "timeout":
            try only(["delay"])
            kind = .timeout(delay: try time("delay") ?? .milliseconds(5))
        case "disconnect":
            try only([])
            kind = .disconnect
        case "instrument-error":
            try only(["message"])
            kind = .instrumentError(message: try item.optional("message")?.string ?? "-222,\"Data out of range\"")
        case "drift-burst":
            try only(["channel", "size", "ramp"])
            var channel = ModulatorChannel.i
            if let c = try item.optional("channel") {
                guard let ch = ModulatorChannel(rawValue: try c.string) else {
                    throw c.fail("unknown modulator channel '\(try c.string)'; expected i, q or phase")
                }
                channel = ch
            }
            let size = try item.required("size", "the bias-phase change, e.g. 'size: 0.2 rad'").quantity(Phase.self)
            kind = .driftBurst(channel: channel, size: size, ramp: try time("ramp") ?? .zero)
        case "dead-receiver":
            try only([])
            kind = .deadReceiver
        default:
            throw kindReader.fail("unknown fault kind '\(kindName)'; expected one of: \(kindNames.joined(separator: ", "))")
        }
        guard applies(kind, to: role) else {
            throw kindReader.fail("a \(kindName) fault needs a \(kindName == "drift-burst" ? "modulator" : "homodyne receiver"), and \(role.rawValue) is a \(role.family.rawValue)")
        }
        var fault = SimulatedFault(role: role, kind: kind, at: try time("at") ?? .zero)
        if let r = try item.optional("after-calls") {
            guard kind.failsCalls else { throw r.fail("'after-calls' applies only to timeout, disconnect and instrument-error faults") }
            let n = try r.int()
            guard n >= 0 else { throw r.fail("'after-calls' must be 0 or more") }
            fault.afterCalls = n
        }
        if let r = try item.optional("count") {
            guard kind.failsCalls else { throw r.fail("'count' applies only to timeout, disconnect and instrument-error faults") }
            let n = try r.int()
            guard n >= 1 else { throw r.fail("'count' must be at least 1 (leave it out for a fault that lasts until cleared)") }
            fault.count = n
        }
        if let r = try item.optional("duration") {
            if case .driftBurst = kind { throw r.fail("a drift burst stays: give its 'ramp' time instead of a 'duration'") }
            fault.duration = try time("duration")
        }
        return fault
    }
}
