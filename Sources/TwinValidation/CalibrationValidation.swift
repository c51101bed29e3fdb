import BenchKit
import BenchSim
import Calibrate
import Foundation
import SecureInference

/// One calibrated quantity against the twin's hidden truth.
public struct QuantityCheck: Sendable, Codable, Equatable {
    public let name: String
    public let estimate: Double
    public let uncertainty: Double
    public let truth: Double
    /// |estimate − truth|, relative to the truth when `relative`.
    public let error: Double
    public let relative: Bool
    public let target: Double
    public var withinTarget: Bool { error <= target }
    /// |estimate − truth| / uncertainty.
    public var sigmas: Double { uncertainty > 0 ? abs(estimate - truth) / uncertainty : .infinity }

    init(_ name: String, estimate: Double, uncertainty: Double, truth: Double, relative: Bool, target: Double, difference: Double? = nil) {
        self.name = name; self.estimate = estimate; self.uncertainty = uncertainty; self.truth = truth
        let d = difference ?? (estimate - truth)
        error = relative ? abs(d / truth) : abs(d)
        self.relative = relative; self.target = target
    }
}

/// Calibrates a simulated bench (a bench file with its simulation seed replaced) and compares
/// every result the targets name with the twin's hidden constants. For tests and
/// benchmarks only: it reads `truth`.
public enum CalibrationValidation {
    public struct Outcome: Sendable, Codable {
        public let seed: UInt64
        public let checks: [QuantityCheck]
        /// Per record kind: measurements taken and bench time spent.
        public let effort: [String: [Double]]
        public let seconds: Double
    }

    /// The bench file's text with `seed:` of its simulation section replaced.
    public static func reseed(_ text: String, seed: UInt64) -> String {
        var lines = text.components(separatedBy: "\n")
        var inSimulation = false
        for k in lines.indices {
            if lines[k].hasPrefix("simulation:") { inSimulation = true; continue }
            if inSimulation, lines[k].trimmingCharacters(in: .whitespaces).hasPrefix("seed:") {
                let indent = lines[k].prefix { $0 == " " }
                lines[k] = "\(indent)seed: \(seed)"
                break
            }
        }
        return lines.joined(separator: "\n")
    }

    public static func run(benchFile: URL, seed: UInt64, settings: CalibrationSettings = CalibrationSettings()) async throws -> Outcome {
        let started = Date()
        let text = reseed(try String(contentsOf: benchFile, encoding: .utf8), seed: seed)
        let description = try BenchDescription.parse(text, file: benchFile.path)
        let bench = try await Bench.open(description, registry: SimulatedBench.registry())
        let engine = try await SimulatedBench.engine(of: bench)
        let store = CalibrationStore(root: FileManager.default.temporaryDirectory.appendingPathComponent("qbench-validate-\(UUID().uuidString)"), key: .generate())
        defer { try? FileManager.default.removeItem(at: store.root) }
        let ctx = CalibrationContext(bench: bench, store: store, settings: settings, codeVersion: "validation")
        // Kind by kind, so the drifting bias phases are compared with the truth of the moment their
        // calibration ended.
        var records: [CalibrationRecord] = []
        var phases = engine.truePhases
        do {
            for kind in CalibrationKind.allCases {
                records += try await CalibrationRunner.run(kind, ctx)
                if kind == .modulator { phases = engine.truePhases }
            }
        } catch {
            await bench.enterSafeState()
            throw error
        }
        await bench.enterSafeState()
        func rec(_ kind: CalibrationKind, _ role: Role) -> CalibrationRecord { records.first { $0.kind == kind && $0.role == role.rawValue }! }
        let truth = engine.truth
        let mod = rec(.modulator, .serverModulator), link = rec(.link, .link)
        let rx = rec(.homodyne, .serverReceiver), crx = rec(.homodyne, .clientReceiver), b2b = rec(.backToBack, .serverReceiver)
        var checks: [QuantityCheck] = []
        func add(_ r: CalibrationRecord, _ name: String, truth t: Double, relative: Bool, target: Double, label: String? = nil) {
            let v = r[name]!
            checks.append(QuantityCheck(label ?? name, estimate: v.value, uncertainty: v.uncertainty, truth: t, relative: relative, target: target))
        }
        add(mod, "vpi.i", truth: truth.modulator.i.vPi.si, relative: true, target: 0.005)
        add(mod, "vpi.q", truth: truth.modulator.q.vPi.si, relative: true, target: 0.005)
        for (name, channel) in [("phase.i", ModulatorChannel.i), ("phase.q", .q)] {
            let v = mod[name]!, t = phases.modulator[channel]!
            // Bias phases are defined mod π (power cannot tell the field's sign).
            let d = remainder(v.value - t, Double.pi)
            checks.append(QuantityCheck(name, estimate: v.value, uncertainty: v.uncertainty, truth: v.value - d, relative: false, target: 0.01, difference: d))
        }
        add(rx, "snu.slope", truth: truth.serverReceiver.snuScale.si, relative: true, target: 0.01, label: "server snu.slope")
        add(crx, "snu.slope", truth: truth.clientReceiver.snuScale.si, relative: true, target: 0.01, label: "client snu.slope")
        add(link, "transmittance.forward", truth: Decibels(-truth.link.lossForward.dB).linear, relative: true, target: 0.005)
        add(link, "transmittance.back", truth: Decibels(-truth.link.lossBack.dB).linear, relative: true, target: 0.005)
        add(link, "client.gain", truth: settings.gain, relative: true, target: 0.01)
        add(b2b, "efficiency", truth: truth.serverReceiver.efficiency, relative: true, target: 0.02, label: "server efficiency")

        // μ: what the encoder asks for against what the twin then sends.
        let model = try TransmitterModel(modulator: mod, attenuation: rec(.attenuation, .serverAttenuator), backToBack: b2b,
                                         bench: description, maximumField: settings.maximumField)
        let frame = MeasurementFrame.gaussian(layout: FrameLayout(rows: 64, modesPerRow: 392, vacuumSlotsPerRow: 0), photons: settings.photonsPerMode,
                                              patternShots: 1, seed: 7)
        let encoded = try model.encode(re: frame.re, im: frame.im)
        let laser = try bench.laser()
        try await laser.setCurrent(.zero); try await laser.setEmission(true)
        try await laser.ramp(to: .amperes(rec(.laser, .serverLaser)["operating-current"]!.value))
        try await bench.attenuator().setAttenuation(encoded.attenuation)
        try await bench.shutter().setOpen(true)
        try await bench.opticalSwitch().route(.client)
        let scale = engine.fieldScale()
        // The unit field (|t_I| = 1, Q dark) is half the IQ field of both arms at peak.
        let trueUnit = scale * scale / 4 * Decibels(-truth.link.lossForward.dB).linear
        let muRatio = trueUnit / encoded.unitFieldPhotons
        let muRel = (rec(.attenuation, .serverAttenuator)["photons.unit-field.0dB"]!.uncertainty) / rec(.attenuation, .serverAttenuator)["photons.unit-field.0dB"]!.value
        checks.append(QuantityCheck("mu", estimate: settings.photonsPerMode, uncertainty: settings.photonsPerMode * muRel,
                                    truth: settings.photonsPerMode * muRatio, relative: true, target: 0.02))
        await bench.enterSafeState()
        var effort: [String: [Double]] = [:]
        for r in records { effort["\(r.kind.rawValue) \(r.role)"] = [Double(r.measurements), r.benchSeconds] }
        return Outcome(seed: seed, checks: checks, effort: effort, seconds: Date().timeIntervalSince(started))
    }
}

/// Calibration accuracy over many seeds: per quantity, the worst error against its target and the
/// coverage of the stated uncertainties (fraction of seeds with the truth within 1σ and 2σ).
public struct CalibrationSummary: Sendable, Codable {
    public struct Quantity: Sendable, Codable {
        public let name: String
        public let target: Double
        public let relative: Bool
        public let worstError: Double
        public let meanError: Double
        public let withinTarget: Int
        public let coverage1Sigma: Double
        public let coverage2Sigma: Double
    }
    public let seeds: Int
    public let quantities: [Quantity]
    /// Per record kind: mean measurements and mean bench seconds.
    public let effort: [String: [Double]]

    public init(_ outcomes: [CalibrationValidation.Outcome]) {
        seeds = outcomes.count
        let names = outcomes.first?.checks.map(\.name) ?? []
        quantities = names.map { n in
            let cs = outcomes.compactMap { $0.checks.first { $0.name == n } }
            return Quantity(name: n, target: cs[0].target, relative: cs[0].relative, worstError: cs.map(\.error).max() ?? .nan,
                            meanError: cs.map(\.error).reduce(0, +) / Double(cs.count), withinTarget: cs.filter(\.withinTarget).count,
                            coverage1Sigma: Double(cs.filter { $0.sigmas <= 1 }.count) / Double(cs.count),
                            coverage2Sigma: Double(cs.filter { $0.sigmas <= 2 }.count) / Double(cs.count))
        }
        var effort: [String: [Double]] = [:]
        for o in outcomes { for (k, v) in o.effort { effort[k, default: [0, 0]][0] += v[0] / Double(outcomes.count); effort[k, default: [0, 0]][1] += v[1] / Double(outcomes.count) } }
        self.effort = effort
    }
}
