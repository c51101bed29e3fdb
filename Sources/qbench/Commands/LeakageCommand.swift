import ArgumentParser
import SecureInference

struct LeakageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leakage",
        abstract: "Weight and data leakage bounds of one operating point (PROTOCOL.md §5).",
        discussion: """
            With --certify-budget, also projects after how many images the server's sound bound (LeakageCheck, \
            worst corner of the joint confidence region at δ) certifies an honest lossless client at that budget, for each \
            --vacuum-slots count: the estimators' expected standard errors (docs/low-leakage.md), not a run. \
            The run on the twin measures it.
            """)

    @Option(parsing: .unconditional, help: "Client amplifier gain G (> 1).") var gain: Double
    @Option(parsing: .unconditional, help: "Mean photon number per mode μ (> 0).") var photons: Double
    @Option(parsing: .unconditional, help: "Modes per inner product n.") var modes = 392
    @Option(parsing: .unconditional, help: "Round-trip transmittance T in (0, 1].") var transmittance = 1.0
    @Option(name: .customLong("excess-noise"), help: "Output-referred excess noise ε in SNU (default: the honest client's g/n).")
    var excessNoise: Double?
    @Option(name: .customLong("inner-products"), help: "Inner products M on the same data (conservative data-leakage form).")
    var innerProducts = 794
    @Option(name: .customLong("certify-budget"), help: "Weight-leakage budget (bit/mode) for the certification projection.")
    var certifyBudget: Double?
    @Option(name: .customLong("vacuum-slots"), help: "Vacuum slots per row for the projection, comma-separated.") var vacuumSlots = "8,32,98,392,1568"
    @Option(name: .customLong("photons-uncertainty"), help: "Relative standard uncertainty of the calibrated μ for the projection.")
    var photonsUncertainty = 0.0
    @Option(parsing: .unconditional, help: "Server receiver efficiency η for the projection.") var efficiency = 0.85
    @Option(name: .customLong("electronic-noise"), parsing: .unconditional, help: "Server receiver electronic noise (SNU) for the projection.") var electronicNoise = 0.0
    @Option(name: .customLong("reference-fraction"), parsing: .unconditional, help: "Fraction of shots that are back-to-back references.") var referenceFraction = 0.3
    @Option(parsing: .unconditional, help: "Error probability δ of the check.") var delta = 1e-6
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Projection: Encodable {
        let vacuumSlotsPerRow: Int
        let imagesToCertify: Double?
        let modesToCertify: Double?
    }

    struct Output: Encodable {
        let leakage: LeakageSummary
        let certificationBudget: Double?
        let projections: [Projection]
    }

    func validate() throws {
        if let certifyBudget, !(certifyBudget > 0) { throw ValidationError("--certify-budget must be > 0 bit/mode") }
        guard try MapCommand.parseList(vacuumSlots, "vacuum-slots").allSatisfy({ $0 >= 0 && $0 == $0.rounded() }) else {
            throw ValidationError("--vacuum-slots must be whole numbers ≥ 0")
        }
        guard photonsUncertainty >= 0, electronicNoise >= 0, (0...1).contains(efficiency), efficiency > 0 else {
            throw ValidationError("--photons-uncertainty and --electronic-noise must be ≥ 0 and --efficiency in (0, 1]")
        }
    }

    func projections() throws -> [Projection] {
        guard let budget = certifyBudget else { return [] }
        var out: [Projection] = []
        for v in try MapCommand.parseList(vacuumSlots, "vacuum-slots").map({ Int($0) }) {
            var p = CertificationProjection(gain: gain, photonsPerMode: photons, budgetBitsPerMode: budget)
            p.modesPerRow = modes
            p.vacuumSlotsPerRow = v
            p.photonsUncertainty = photonsUncertainty * photons
            p.efficiency = efficiency
            p.electronicNoise = electronicNoise
            p.referenceFraction = referenceFraction
            p.delta = delta
            let images = try p.imagesToCertify()
            out.append(Projection(vacuumSlotsPerRow: v, imagesToCertify: images, modesToCertify: images.map { $0 * Double(p.clientModesPerImage) }))
        }
        return out
    }

    func run() throws {
        let s = try LeakageSummary(gain: gain, photonsPerMode: photons, modesPerRow: modes, transmittance: transmittance,
                                   excessNoise: excessNoise, innerProducts: innerProducts)
        let projected = try projections()
        if json { try printJSON(Output(leakage: s, certificationBudget: certifyBudget, projections: projected)); return }
        printLine("""
            operating point   G = \(format(s.gain)), μ = \(format(s.photonsPerMode)) photons/mode, n = \(s.modesPerRow) modes/row
            channel           T = \(format(s.transmittance)), ε = \(format(s.excessNoise)) SNU\(excessNoise == nil ? " (honest g/n)" : "")
            client SNR factor f(G) = \(format(s.clientSNRFactor)) (inference SNR F = 2μf = \(format(2 * s.photonsPerMode * s.clientSNRFactor)))
            weight leakage    \(format(s.weightLeakageBitsPerMode)) bit/mode = \(format(s.weightLeakageBitsPerWeight)) bit/real weight (Holevo)
            data leakage      \(format(s.dataLeakageBits)) bit/symbol (Cramér–Rao), \(format(s.dataLeakageConservativeBits)) bit (conservative, M = \(innerProducts))
            """)
        guard let budget = certifyBudget else { return }
        printLine("certification     projected for an honest lossless client, budget \(format(budget)) bit/mode, δ = \(format(delta)), η = \(format(efficiency)), electronic noise \(format(electronicNoise)) SNU, μ uncertainty \(format(100 * photonsUncertainty)) %, \(format(100 * referenceFraction)) % back-to-back shots")
        for p in projected {
            if let images = p.imagesToCertify, let modes = p.modesToCertify {
                printLine(String(format: "  %5d vacuum slots/row: certified after %.3g images (%.3g client modes)", p.vacuumSlotsPerRow, images, modes))
            } else {
                printLine(String(format: "  %5d vacuum slots/row: not within 1e9 images (the honest leakage is at or above the budget, or the bound cannot close)", p.vacuumSlotsPerRow))
            }
        }
    }
}
