/// What the client does with mode 1 (PROTOCOL.md §3.3), generalised to any kept fraction so the
/// same code describes the honest client and the greedy one: amplify with gain G, keep the
/// fraction r for its X homodyne, re-inject 1 − r. The honest client keeps r = 1 − 1/G.
///
/// With the amplified mode √G β + noise of variance 2G − 1 (SNU):
/// - reading: mean 2√(rG) Re β, variance r(2G − 1) + (1 − r);
/// - returned mode 1: mean √((1 − r)G) β, variance 1 + (1 − r)(2G − 2).
public struct ClientMeasurement: Sendable, Equatable {
    public let gain: Double
    public let keptFraction: Double

    public init(amplifier: ClientAmplifier) {
        gain = amplifier.gain
        keptFraction = amplifier.keptFraction
    }

    public init(gain: Double, keptFraction r: Double) throws(ProtocolDomainError) {
        _ = try ClientAmplifier(gain: gain)
        try require(r > 0 && r <= 1, "kept fraction r", r, "0 < r ≤ 1")
        self.gain = gain
        keptFraction = r
    }

    public var readingScale: Double { 2 * (keptFraction * gain).squareRoot() }
    public var readingVariance: Double { keptFraction * (2 * gain - 1) + (1 - keptFraction) }
    /// Amplitude transmittance² of mode 1 on the way back: (1 − r) G (1 for the honest client).
    public var returnedTransmittance: Double { (1 - keptFraction) * gain }
    /// Excess noise returned in mode 1 (SNU), spread as |ξ_j|² over the returned modes.
    public var returnedExcessNoise: Double { (1 - keptFraction) * (2 * gain - 2) }

    /// The client's estimate of w · x̂ from its reading: reading / (2√(rG)) · rms_c / √μ.
    public func innerProductEstimate(reading: Double, layer: EncodedLayer) -> Double {
        reading / readingScale / layer.amplitudeScale
    }

    /// Standard deviation of that estimate, in units of w · x̂: √var / (2√(rG)) · rms_c/√μ.
    public func innerProductNoise(layer: EncodedLayer) -> Double {
        readingVariance.squareRoot() / readingScale / layer.amplitudeScale
    }
}
