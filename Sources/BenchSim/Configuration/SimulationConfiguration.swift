import BenchKit
import Foundation
import SecureInference

/// The `simulation:` section of a bench file (format: docs/bench-files.md): the seed the twin draws
/// its hidden constants from, the symbol rate, the nominal value and spread of every hidden constant
/// (`HiddenConstants.catalogue`), the client's behaviour and the faults to play.
///
///     simulation:
///       seed: 1
///       symbol-rate: 1 GBd
///       client: honest                      # honest | greedy-tap:R | over-amplify:G2 | intercept-resend
///       server.modulator:
///         v-pi-i: 4.5 V ± 0.4 V             # nominal ± half-width of the uniform spread
///       link:
///         loss-forward: 0.2 dB
///       faults:
///         - {role: server.receiver, kind: timeout, after-calls: 3, count: 1}
public struct SimulationConfiguration: Sendable {
    public var seed: UInt64
    /// Optical modes (time bins) per second; also the digitiser and AWG sample rate.
    public var symbolRate: Frequency
    public var clientBehaviour: ClientBehaviour
    /// Every hidden constant by `section.key` (defaults filled in).
    public var constants: [String: Spread]
    public var faults: [SimulatedFault]

    public init(seed: UInt64 = 1, symbolRate: Frequency = .gigahertz(1), clientBehaviour: ClientBehaviour = .honest,
                constants: [String: Spread] = [:], faults: [SimulatedFault] = []) {
        self.seed = seed; self.symbolRate = symbolRate; self.clientBehaviour = clientBehaviour; self.faults = faults
        var all = Dictionary(uniqueKeysWithValues: HiddenConstants.catalogue.map { ($0.name, $0.defaultValue) })
        for (k, v) in constants { all[k] = v }
        self.constants = all
    }

    /// The nominal value and spread of `section.key`.
    public func constant(_ section: String, _ key: String) -> Spread {
        guard let v = constants["\(section).\(key)"] else { preconditionFailure("no hidden constant \(section).\(key)") }
        return v
    }

    public static let topLevelKeys = ["seed", "symbol-rate", "client", "faults"]

    /// Parses a bench file's `simulation:` section (nil: every default). Errors name the file, the
    /// line and what was expected.
    public static func parse(_ reader: YAMLReader?) throws(BenchFileError) -> SimulationConfiguration {
        var config = SimulationConfiguration()
        guard let reader else { return config }
        let sections = HiddenConstants.sections
        try reader.onlyKeys(topLevelKeys + sections, in: "the simulation section")
        if let s = try reader.optional("seed") {
            guard let seed = UInt64(try s.string) else { throw s.fail("'\(try s.string)' is not a seed: expected a whole number ≥ 0") }
            config.seed = seed
        }
        if let r = try reader.optional("symbol-rate") {
            let rate = try r.quantity(Frequency.self)
            guard BenchDescription.symbolRateRange.contains(rate.si) else {
                throw r.fail("the symbol rate \(rate) is outside \(Frequency(si: BenchDescription.symbolRateRange.lowerBound)) … \(Frequency(si: BenchDescription.symbolRateRange.upperBound)): give the simulated AWG's rate, e.g. '1 GBd'")
            }
            config.symbolRate = rate
        }
        if let c = try reader.optional("client") {
            let text = try c.string
            guard let behaviour = ClientBehaviour(argument: text) else {
                throw c.fail("unknown client behaviour '\(text)'; expected honest, greedy-tap:R (0 < R ≤ 1), over-amplify:G2 (G2 ≥ 1) or intercept-resend")
            }
            do { try ClientOptics.validate(behaviour) } catch { throw c.fail(error.description) }
            config.clientBehaviour = behaviour
        }
        for section in sections {
            guard let s = try reader.optional(section) else { continue }
            let definitions = HiddenConstants.catalogue.filter { $0.section == section }
            try s.onlyKeys(definitions.map(\.key), in: "simulation.\(section)")
            for entry in try s.entries {
                let d = definitions.first { $0.key == entry.key }!
                config.constants[d.name] = try parseSpread(entry.value, definition: d)
            }
        }
        if let f = try reader.optional("faults") {
            config.faults = []
            for item in try f.items { config.faults.append(try SimulatedFault.parse(item)) }
        }
        return config
    }

    /// "nominal ± spread" (or "nominal +- spread", or a bare nominal), both in the constant's unit.
    static func parseSpread(_ r: YAMLReader, definition d: ConstantDefinition) throws(BenchFileError) -> Spread {
        let text = try r.string
        var parts = [text]
        for separator in ["±", "+/-", "+-"] where text.contains(separator) {
            parts = text.components(separatedBy: separator).map { $0.trimmingCharacters(in: .whitespaces) }
            break
        }
        guard parts.count <= 2 else { throw r.fail("'\(text)' has more than one '±': write 'nominal ± spread', e.g. '\(d.kind.example)'") }
        guard let nominal = d.kind.parse(parts[0]) else {
            throw r.fail("bad value for \(d.name): '\(parts[0])' is not a \(d.kind.rawValue) (e.g. '\(d.kind.example)')")
        }
        var spread = 0.0
        if parts.count == 2 {
            guard d.kind != .integer else { throw r.fail("\(d.name) is a whole number and takes no spread") }
            guard let s = d.kind.parse(parts[1]), s >= 0 else {
                throw r.fail("bad spread for \(d.name): '\(parts[1])' is not a non-negative \(d.kind.rawValue) (e.g. '\(d.kind.example)')")
            }
            spread = s
        }
        guard d.domain.contains(nominal - spread), d.domain.contains(nominal + spread) else {
            throw r.fail("\(d.name) = \(text) leaves its physical range \(d.kind.format(d.domain.lowerBound)) … \(d.kind.format(d.domain.upperBound)) (\(d.summary))")
        }
        return Spread(nominal, spread: spread)
    }
}
