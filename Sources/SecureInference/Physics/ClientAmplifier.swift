/// The client's phase-insensitive amplifier and tap (PROTOCOL.md §3.3): mode 1 is amplified with
/// gain G (a → √G a + √(G−1) b†), split (1 − 1/G) : (1/G), the larger part is homodyned on X
/// and the smaller part is re-injected. All variances in shot-noise units (vacuum = 1).
public struct ClientAmplifier: Sendable, Equatable, Codable {
    public let gain: Double

    public init(gain: Double) throws(ProtocolDomainError) {
        try require(gain > 1 && gain.isFinite, "gain G", gain, "G > 1 (a phase-insensitive amplifier with gain)")
        self.gain = gain
    }

    /// Fraction of the amplified mode the honest client keeps and measures: 1 − 1/G.
    public var keptFraction: Double { 1 - 1 / gain }

    /// Total added noise the honest client returns, g = 2 − 2/G (SNU), spread over the modes as g|ξ_j|².
    public var addedNoise: Double { 2 - 2 / gain }

    /// Mean of the client's X reading per unit Re β: 2√(G − 1).
    public var readingScale: Double { 2 * (gain - 1).squareRoot() }

    /// Variance of the client's X reading: (2G² − 3G + 2)/G.
    public var readingVariance: Double { (2 * gain * gain - 3 * gain + 2) / gain }

    /// f(G) = G(G−1)/(2G² − 3G + 2): SNR = f(G) · 4 (Re β)².
    public var snrFactor: Double { gain * (gain - 1) / (2 * gain * gain - 3 * gain + 2) }

    /// The gain that maximises f(G): 2 + √2, where f = 0.547.
    public static let optimalGain = 2 + 2.0.squareRoot()

    /// Effective inference SNR F = 2 μ f(G) of PROTOCOL.md §4: the client's estimate of w·x̂ has
    /// noise of standard deviation rms(w)/√F.
    public func inferenceSNR(photonsPerMode mu: Double) -> Double { 2 * mu * snrFactor }
}
