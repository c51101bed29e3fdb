import ArgumentParser
import SecureInference

struct LeakageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leakage",
        abstract: "Weight and data leakage bounds of one operating point (PROTOCOL.md §5).")

    @Option(help: "Client amplifier gain G (> 1).") var gain: Double
    @Option(help: "Mean photon number per mode μ (> 0).") var photons: Double
    @Option(help: "Modes per inner product n.") var modes = 392
    @Option(help: "Round-trip transmittance T in (0, 1].") var transmittance = 1.0
    @Option(name: .customLong("excess-noise"), help: "Output-referred excess noise ε in SNU (default: the honest client's g/n).")
    var excessNoise: Double?
    @Option(name: .customLong("inner-products"), help: "Inner products M on the same data (conservative data-leakage form).")
    var innerProducts = 794
    @Flag(help: "One JSON object on stdout.") var json = false

    func run() throws {
        let s = try LeakageSummary(gain: gain, photonsPerMode: photons, modesPerRow: modes, transmittance: transmittance,
                                   excessNoise: excessNoise, innerProducts: innerProducts)
        if json { try printJSON(s); return }
        printLine("""
            operating point   G = \(format(s.gain)), μ = \(format(s.photonsPerMode)) photons/mode, n = \(s.modesPerRow) modes/row
            channel           T = \(format(s.transmittance)), ε = \(format(s.excessNoise)) SNU\(excessNoise == nil ? " (honest g/n)" : "")
            client SNR factor f(G) = \(format(s.clientSNRFactor)) (inference SNR F = 2μf = \(format(2 * s.photonsPerMode * s.clientSNRFactor)))
            weight leakage    \(format(s.weightLeakageBitsPerMode)) bit/mode = \(format(s.weightLeakageBitsPerWeight)) bit/real weight (Holevo)
            data leakage      \(format(s.dataLeakageBits)) bit/symbol (Cramér–Rao), \(format(s.dataLeakageConservativeBits)) bit (conservative, M = \(innerProducts))
            """)
    }
}
