/// Every leakage figure of one operating point, as `qbench leakage` reports it.
public struct LeakageSummary: Sendable, Equatable, Codable {
    public let gain: Double
    public let photonsPerMode: Double
    public let modesPerRow: Int
    public let transmittance: Double
    public let excessNoise: Double
    public let clientSNRFactor: Double
    public let weightLeakageBitsPerMode: Double
    public let weightLeakageBitsPerWeight: Double
    public let dataLeakageBits: Double
    public let dataLeakageConservativeBits: Double

    /// - Parameter excessNoise: output-referred excess noise; `nil` means the honest client's g/n.
    public init(gain: Double, photonsPerMode mu: Double, modesPerRow n: Int = 392, transmittance t: Double = 1,
                excessNoise: Double? = nil, innerProducts m: Int = 794) throws(ProtocolDomainError) {
        let amplifier = try ClientAmplifier(gain: gain)
        try require(n > 0, "modes per row n", Double(n), "n ≥ 1")
        let eps = excessNoise ?? amplifier.addedNoise / Double(n)
        let iw = try WeightLeakage.bitsPerMode(photonsPerMode: mu, transmittance: t, excessNoise: eps)
        self.gain = gain
        photonsPerMode = mu
        modesPerRow = n
        transmittance = t
        self.excessNoise = eps
        clientSNRFactor = amplifier.snrFactor
        weightLeakageBitsPerMode = iw
        weightLeakageBitsPerWeight = iw / 2
        dataLeakageBits = try DataLeakage.cramerRaoBits(amplifier: amplifier, modesPerRow: n)
        dataLeakageConservativeBits = try DataLeakage.conservativeBits(amplifier: amplifier, modesPerRow: n, innerProducts: m)
    }
}
