import Foundation

/// What the server can learn about the client's data from the noise the client returns
/// (PROTOCOL.md §5). The added noise on returned mode j is g|ξ_j|², so the noise pattern carries
/// the data's magnitudes.
public enum DataLeakage {
    /// Cramér–Rao form, bits per data symbol: σ² = 1 + g x², Fisher information per measurement
    /// F1 = 2 g² x² / σ⁸ (the authors' code form), Var_min = 1/(n F1), I_x = ½ log₂(1 + 2x²/Var_min),
    /// evaluated at the typical symbol x = 1/√n.
    public static func cramerRaoBits(amplifier: ClientAmplifier, modesPerRow n: Int) throws(ProtocolDomainError) -> Double {
        try require(n > 0, "modes per row n", Double(n), "n ≥ 1")
        let g = amplifier.addedNoise
        let x2 = 1 / Double(n)
        let sigma2 = 1 + g * x2
        let fisher = 2 * g * g * x2 / pow(sigma2, 4)
        let varMin = 1 / (Double(n) * fisher)
        return 0.5 * log2(1 + 2 * x2 / varMin)
    }

    /// The conservative form of the published version: I_x = ½ log₂(1 + (M/n) g²/(1 + g)), for M
    /// inner products of n modes each on the same data.
    public static func conservativeBits(amplifier: ClientAmplifier, modesPerRow n: Int, innerProducts m: Int) throws(ProtocolDomainError) -> Double {
        try require(n > 0, "modes per row n", Double(n), "n ≥ 1")
        try require(m > 0, "inner products M", Double(m), "M ≥ 1")
        let g = amplifier.addedNoise
        return 0.5 * log2(1 + Double(m) / Double(n) * g * g / (1 + g))
    }
}
