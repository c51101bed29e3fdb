import BenchKit
import Foundation

/// A hidden constant as a bench file gives it: the nominal value and the half-width of the uniform
/// spread the simulated bench draws its true value from ("4.5 V ± 0.4 V"). Values are SI, except
/// decibels (dB) and plain ratios.
public struct Spread: Sendable, Equatable, Codable, CustomStringConvertible {
    public var nominal: Double
    public var spread: Double
    public init(_ nominal: Double, spread: Double = 0) { self.nominal = nominal; self.spread = spread }
    public var description: String { spread == 0 ? "\(nominal)" : "\(nominal) ± \(spread)" }
}

/// What kind of value a hidden constant is: how it is parsed, checked and printed.
public enum ConstantKind: String, Sendable, CaseIterable {
    case voltage, current, length, power, phase, decibels, ratio, integer
    case slopeEfficiency = "slope efficiency", noiseScale = "shot-noise scale"
    case phaseRate = "phase drift rate", phaseWalk = "phase random walk"

    func parse(_ text: String) -> Double? {
        switch self {
        case .voltage: try? Voltage.parse(text).si
        case .current: try? Current.parse(text).si
        case .length: try? Length.parse(text).si
        case .power: try? Power.parse(text).si
        case .phase: try? Phase.parse(text).si
        case .decibels: try? Decibels.parse(text).dB
        case .ratio: Double(text.trimmingCharacters(in: .whitespaces))
        case .integer: Int(text.trimmingCharacters(in: .whitespaces)).map(Double.init)
        case .slopeEfficiency: try? SlopeEfficiency.parse(text).si
        case .noiseScale: try? NoiseScale.parse(text).si
        case .phaseRate: try? PhaseRate.parse(text).si
        case .phaseWalk: try? PhaseWalk.parse(text).si
        }
    }

    /// The value with its unit, as a bench file would write it.
    public func format(_ v: Double) -> String {
        switch self {
        case .voltage: "\(Voltage(si: v))"
        case .current: "\(Current(si: v))"
        case .length: "\(Length(si: v))"
        case .power: "\(Power(si: v))"
        case .phase: "\(Phase(si: v))"
        case .decibels: "\(Decibels(v))"
        case .ratio: String(format: "%.6g", v)
        case .integer: "\(Int(v))"
        case .slopeEfficiency: String(format: "%.6g W/A", v)
        case .noiseScale: String(format: "%.6g V²/W", v)
        case .phaseRate: "\(PhaseRate(si: v))"
        case .phaseWalk: "\(PhaseWalk(si: v))"
        }
    }

    var example: String {
        switch self {
        case .voltage: "4.5 V ± 0.4 V"
        case .current: "10 mA ± 1 mA"
        case .length: "10 m"
        case .power: "30 pW ± 20 pW"
        case .phase: "0 rad ± 180 deg"
        case .decibels: "0.3 dB ± 0.2 dB"
        case .ratio: "0.85 ± 0.03"
        case .integer: "14"
        case .slopeEfficiency: "0.3 W/A ± 0.02 W/A"
        case .noiseScale: "0.25 V²/W ± 0.03 V²/W"
        case .phaseRate: "0 rad/s ± 20 µrad/s"
        case .phaseWalk: "0.1 mrad/√s"
        }
    }
}

/// One hidden constant of the simulated bench: where it lives in the `simulation:` section
/// (`section.key`), its kind, its default, the physical domain every drawn value must stay in, and
/// how many independent values are drawn from it (e.g. one per modulator channel).
public struct ConstantDefinition: Sendable {
    public let section: String
    public let key: String
    public let kind: ConstantKind
    public let defaultValue: Spread
    public let domain: ClosedRange<Double>
    public let summary: String
    /// Labels of the independent draws (empty: one draw).
    public let draws: [String]

    init(_ section: String, _ key: String, _ kind: ConstantKind, _ nominal: Double, _ spread: Double = 0,
         domain: ClosedRange<Double>, _ summary: String, draws: [String] = []) {
        self.section = section; self.key = key; self.kind = kind
        defaultValue = Spread(nominal, spread: spread)
        self.domain = domain; self.summary = summary; self.draws = draws
    }

    public var name: String { "\(section).\(key)" }
}

/// Every hidden constant of the twin, in the order the truth is drawn (append only: reordering
/// changes what a seed gives). Defaults are the realistic values of `Devices/benches/sim.yaml`
/// except the link, which defaults to the paper's lossless setting.
public enum HiddenConstants {
    static let anyPhase = -100.0...100.0
    public static let catalogue: [ConstantDefinition] = [
        .init("server.laser", "threshold", .current, 10e-3, 1e-3, domain: 0...0.5, "lasing threshold current I_th"),
        .init("server.laser", "slope-efficiency", .slopeEfficiency, 0.30, 0.02, domain: 1e-3...5, "slope efficiency above threshold: P = η_s (I − I_th)"),
        .init("server.laser", "wavelength", .length, 1550.12e-9, 0.05e-9, domain: 1e-6...2e-6, "emission wavelength at 25 °C (tunes +0.1 nm/K)"),
        .init("server.laser", "lo-split", .ratio, 0.5, 0.02, domain: 1e-3...1, "fraction of the laser power each receiver's local oscillator can draw"),

        .init("server.modulator", "v-pi-i", .voltage, 4.5, 0.4, domain: 0.1...30, "half-wave voltage Vπ of the I arm"),
        .init("server.modulator", "v-pi-q", .voltage, 4.5, 0.4, domain: 0.1...30, "half-wave voltage Vπ of the Q arm"),
        .init("server.modulator", "v-pi-phase", .voltage, 6.0, 0.5, domain: 0.1...30, "half-wave voltage of the outer phase section"),
        .init("server.modulator", "bias-phase-i", .phase, 0, Double.pi, domain: anyPhase, "φ0 of the I arm at zero bias and drive"),
        .init("server.modulator", "bias-phase-q", .phase, 0, Double.pi, domain: anyPhase, "φ0 of the Q arm at zero bias and drive"),
        .init("server.modulator", "bias-phase-phase", .phase, 0, Double.pi, domain: anyPhase, "outer phase θ0 between the arms at zero bias"),
        .init("server.modulator", "extinction-i", .decibels, 30, 2, domain: 6...80, "extinction ratio of the I arm"),
        .init("server.modulator", "extinction-q", .decibels, 30, 2, domain: 6...80, "extinction ratio of the Q arm"),
        .init("server.modulator", "insertion-loss", .decibels, 4, 0.3, domain: 0...30, "insertion loss at peak transmission"),
        .init("server.modulator", "drift-rate", .phaseRate, 0, 2e-5, domain: -1...1, "linear bias-phase drift (one draw per channel)", draws: ["i", "q", "phase"]),
        .init("server.modulator", "drift-walk", .phaseWalk, 2e-5, 0, domain: 0...1, "bias-phase random walk (one draw per channel)", draws: ["i", "q", "phase"]),

        .init("server.voa", "offset", .decibels, 0.3, 0.2, domain: -10...10, "true attenuation minus the set value"),

        .init("server.tap", "fraction", .ratio, 0.01, 0.001, domain: 1e-6...0.5, "fraction of the light tapped to the power meter"),
        .init("server.tap", "output-loss", .decibels, 0.6, 0.1, domain: 0...30, "loss from the tap to the server's output (shutter, switch, connectors)"),
        .init("server.tap", "dark-offset", .power, 30e-12, 20e-12, domain: -1e-6...1e-6, "power meter reading with no light, before zero()"),
        .init("server.tap", "noise", .power, 2e-12, 0, domain: 0...1e-3, "power meter rms noise at 1 s averaging (scales as 1/√t)"),
        .init("server.tap", "responsivity-error", .ratio, 0, 0.02, domain: -0.5...0.5, "relative error of the meter's responsivity at the true wavelength"),

        .init("server.switch", "b2b-loss", .decibels, 0.1, 0.05, domain: 0...30, "loss of the back-to-back path"),
        .init("server.switch", "b2b-phase", .phase, 0, Double.pi, domain: anyPhase, "optical phase of the back-to-back path"),

        .init("link", "length", .length, 10, 0, domain: 0...1e7, "fibre length (reported by the link)"),
        .init("link", "loss-forward", .decibels, 0, 0, domain: 0...60, "loss server → client"),
        .init("link", "loss-back", .decibels, 0, 0, domain: 0...60, "loss client → server"),
        .init("link", "phase-forward", .phase, 0, Double.pi, domain: anyPhase, "optical phase server → client"),
        .init("link", "phase-back", .phase, 0, Double.pi, domain: anyPhase, "optical phase client → server"),
        .init("link", "phase-walk", .phaseWalk, 1e-4, 0, domain: 0...10, "random walk of each link phase"),

        .init("server.receiver", "efficiency", .ratio, 0.85, 0.03, domain: 1e-3...1, "detection efficiency η"),
        .init("server.receiver", "snu-scale", .noiseScale, 0.25, 0.03, domain: 1e-9...1e6, "shot-noise variance per watt of LO: N0 = k·P_LO"),
        .init("server.receiver", "electronic-noise", .voltage, 6e-3, 1e-3, domain: 0...10, "rms electronic noise at the digitiser"),
        .init("server.receiver", "lo-phase", .phase, 0, Double.pi, domain: anyPhase, "LO phase offset relative to the transmitter"),
        .init("server.receiver", "lo-phase-walk", .phaseWalk, 1e-4, 0, domain: 0...10, "random walk of the LO phase"),
        .init("server.receiver", "offset", .voltage, 1e-3, 2e-3, domain: -1...1, "digitiser offset"),
        .init("server.receiver", "bits", .integer, 14, 0, domain: 4...24, "digitiser resolution"),
        .init("server.receiver", "range", .voltage, 0.5, 0, domain: 1e-3...100, "digitiser full scale (±)"),

        .init("client.receiver", "efficiency", .ratio, 0.85, 0.03, domain: 1e-3...1, "detection efficiency η"),
        .init("client.receiver", "snu-scale", .noiseScale, 0.25, 0.03, domain: 1e-9...1e6, "shot-noise variance per watt of LO: N0 = k·P_LO"),
        .init("client.receiver", "electronic-noise", .voltage, 6e-3, 1e-3, domain: 0...10, "rms electronic noise at the digitiser"),
        .init("client.receiver", "lo-phase", .phase, 0, Double.pi, domain: anyPhase, "LO phase offset relative to the transmitter"),
        .init("client.receiver", "lo-phase-walk", .phaseWalk, 1e-4, 0, domain: 0...10, "random walk of the LO phase"),
        .init("client.receiver", "offset", .voltage, -2e-3, 2e-3, domain: -1...1, "digitiser offset"),
        .init("client.receiver", "bits", .integer, 14, 0, domain: 4...24, "digitiser resolution"),
        .init("client.receiver", "range", .voltage, 2.0, 0, domain: 1e-3...100, "digitiser full scale (±)"),

        .init("client.amplifier", "nsp", .ratio, 1, 0, domain: 1...100, "spontaneous-emission factor n_sp (1 = quantum-limited)"),
    ]

    public static var sections: [String] {
        var seen: [String] = []
        for d in catalogue where !seen.contains(d.section) { seen.append(d.section) }
        return seen
    }

    public static func definition(_ section: String, _ key: String) -> ConstantDefinition? {
        catalogue.first { $0.section == section && $0.key == key }
    }
}
