import Foundation

/// The physical range and unit of every calibrated value a run or a later calibration uses, checked
/// on every load, before any light: a sealed record can still hold a value no instrument could have
/// measured (a bug, a unit slip), and the server's check trusts these numbers (PROTOCOL.md §5b:
/// calibration quality is security).
///
/// Measured values that are bounded by physics (efficiencies, transmittances, split ratios) may
/// exceed the bound by measurement noise: the check allows five standard uncertainties beyond it.
public struct CalibratedValueSpec: Sendable {
    public enum Range: Sendable {
        /// Any finite value (phases, voltages, offsets, levels in dB).
        case finite
        /// > 0.
        case positive
        /// ≥ 0.
        case nonNegative
        /// (0, 1], e.g. efficiency or transmittance.
        case fraction
        /// (0, 1) strictly, e.g. a splitter ratio.
        case openFraction
        /// ≥ 1, e.g. an amplifier gain.
        case atLeastOne
        /// Exactly 0 or 1 (a flag).
        case flag
    }
    public let unit: String
    public let range: Range

    init(_ unit: String, _ range: Range) { self.unit = unit; self.range = range }

    /// Why `value` violates this spec, or nil.
    func problem(_ v: CalibratedValue) -> String? {
        guard v.value.isFinite else { return "is \(v.value), not a finite number" }
        guard v.uncertainty.isFinite, v.uncertainty >= 0 else { return "has uncertainty \(v.uncertainty), not a finite number ≥ 0" }
        guard v.unit == unit else { return "is in '\(v.unit)', expected '\(unit)'" }
        let slack = 5 * v.uncertainty
        switch range {
        case .finite: return nil
        case .positive: return v.value > 0 ? nil : "is \(v.value) \(unit), expected > 0"
        case .nonNegative: return v.value + slack >= 0 ? nil : "is \(v.value) \(unit), expected ≥ 0"
        case .fraction: return v.value > 0 && v.value - slack <= 1 ? nil : "is \(v.value), expected in (0, 1]"
        case .openFraction: return v.value > 0 && v.value < 1 ? nil : "is \(v.value), expected in (0, 1)"
        case .atLeastOne: return v.value + slack >= 1 ? nil : "is \(v.value), expected ≥ 1"
        case .flag: return v.value == 0 || v.value == 1 ? nil : "is \(v.value), expected 0 or 1"
        }
    }

    /// By kind, then value name. A value a kind writes that is not listed is refused too: a record
    /// carries exactly what its routine measures.
    public static let table: [CalibrationKind: [String: CalibratedValueSpec]] = [
        .laser: [
            "operating-current": .init("A", .positive), "slope.tap": .init("W/A", .positive), "threshold": .init("A", .nonNegative),
        ],
        .modulator: [
            "vpi.i": .init("V", .positive), "vpi.q": .init("V", .positive), "vpi.phase": .init("V", .positive),
            "bias.i": .init("V", .finite), "bias.q": .init("V", .finite), "bias.phase": .init("V", .finite),
            "arm-null.i": .init("V", .finite), "arm-null.q": .init("V", .finite),
            "extinction.i": .init("dB", .positive), "extinction.q": .init("dB", .positive),
            "power.i": .init("W", .positive), "power.q": .init("W", .positive),
            "phase.i": .init("rad", .finite), "phase.q": .init("rad", .finite),
            "drift.i": .init("rad", .finite), "drift.q": .init("rad", .finite), "attenuation": .init("dB", .nonNegative),
        ],
        .attenuation: [
            "photons.unit-field.0dB": .init("photons/slot", .positive), "symbol-rate": .init("Hz", .positive),
            "tap-to-client": .init("1", .positive), "tap.unit-field.0dB": .init("dBm", .finite), "voa.slope": .init("dB/dB", .positive),
        ],
        .homodyne: [
            "electronic": .init("V²", .nonNegative), "electronic.snu": .init("SNU", .nonNegative), "snu": .init("V²", .positive),
            "snu.slope": .init("V²/W", .positive), "lo-power": .init("W", .positive), "clearance": .init("dB", .finite),
            "offset": .init("V", .finite), "quadratic": .init("V²/W²", .finite),
        ],
        .backToBack: [
            "efficiency": .init("1", .fraction), "response": .init("SNU/SNU", .positive), "shot-noise": .init("V²", .positive),
            "photons": .init("photons/mode", .positive), "excess-noise": .init("SNU", .finite), "conjugate": .init("1", .flag),
            "lo-phase": .init("rad", .finite),
        ],
        .link: [
            "client.added-noise": .init("SNU", .nonNegative), "client.gain": .init("1", .atLeastOne),
            "client.excess-at-receiver": .init("SNU", .finite),
            "client.kept-fraction": .init("1", .openFraction), "client.lo-phase": .init("rad", .finite),
            "client.nsp": .init("1", .nonNegative), "client.reading-gain": .init("V/√photon", .finite),
            "client.reading-offset": .init("V", .finite), "gain.set": .init("1", .atLeastOne),
            "transmittance.back": .init("1", .fraction), "transmittance.back-to-back": .init("1", .fraction),
            "transmittance.forward": .init("1", .fraction), "transmittance.round-trip": .init("1", .fraction),
        ],
    ]
}

extension CalibrationRecord {
    /// Every problem with the record's values against `CalibratedValueSpec.table` (empty: fine).
    public var valueProblems: [String] {
        let specs = CalibratedValueSpec.table[kind] ?? [:]
        var out: [String] = []
        for (name, v) in values.sorted(by: { $0.key < $1.key }) {
            guard let spec = specs[name] else { out.append("value '\(name)' is not one a \(kind.rawValue) calibration measures"); continue }
            if let p = spec.problem(v) { out.append("'\(name)' \(p)") }
        }
        if benchSeconds.isNaN || benchSeconds < 0 { out.append("benchSeconds is \(benchSeconds)") }
        if validUntil < createdAt { out.append("it expires before it was made") }
        return out
    }
}
