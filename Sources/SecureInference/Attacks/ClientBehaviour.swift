import Numerics

/// How the client treats the light (PROTOCOL.md §7), at the level of returned-state statistics.
public enum ClientBehaviour: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Follows the protocol with gain G.
    case honest
    /// Keeps the fraction r > 1 − 1/G of the amplified mode for itself.
    case greedyTap(keptFraction: Double)
    /// Amplifies with G' > G and splits 1 − 1/G' : 1/G'.
    case overAmplify(gain: Double)
    /// Heterodynes every mode, re-prepares coherent states at the outcomes, then runs the honest
    /// protocol on them: +2 SNU per mode.
    case interceptResend

    public var description: String {
        switch self {
        case .honest: "honest"
        case let .greedyTap(r): "greedy-tap:\(r)"
        case let .overAmplify(g): "over-amplify:\(g)"
        case .interceptResend: "intercept-resend"
        }
    }

    /// Parses the `--client` syntax: honest | greedy-tap:R | over-amplify:G2 | intercept-resend.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count > 1 ? Double(parts[1]) : nil) {
        case ("honest", _) where parts.count == 1: self = .honest
        case ("intercept-resend", _) where parts.count == 1: self = .interceptResend
        case ("greedy-tap", let r?): self = .greedyTap(keptFraction: r)
        case ("over-amplify", let g?): self = .overAmplify(gain: g)
        default: return nil
        }
    }

    /// The client's measurement of mode 1 under this behaviour, for the protocol's nominal gain.
    public func measurement(nominal amplifier: ClientAmplifier) throws(ProtocolDomainError) -> ClientMeasurement {
        switch self {
        case .honest, .interceptResend:
            return ClientMeasurement(amplifier: amplifier)
        case let .greedyTap(r):
            try require(r >= amplifier.keptFraction, "greedy kept fraction r", r, "r ≥ 1 − 1/G = \(amplifier.keptFraction)")
            return try ClientMeasurement(gain: amplifier.gain, keptFraction: r)
        case let .overAmplify(g2):
            try require(g2 >= amplifier.gain, "over-amplification gain G'", g2, "G' ≥ G = \(amplifier.gain)")
            return ClientMeasurement(amplifier: try ClientAmplifier(gain: g2))
        }
    }

    /// Excess noise added per mode before the client's interferometer (SNU).
    public var preparationNoise: Double { self == .interceptResend ? 2 : 0 }
}

/// Mean and excess noise of one returned mode (SNU): its quadratures are Gaussian with means
/// 2 Re(mean), 2 Im(mean) and variance 1 + excessNoise each.
public struct ReturnedMode: Sendable, Equatable {
    public let mean: Complex<Double>
    public let excessNoise: Double
}

public enum ReturnedLight {
    /// The returned modes of one inner product: mean α + (√T1 − 1) β ξ, excess noise
    /// preparation + x₁ |ξ_j|², where T1 and x₁ are mode 1's returned transmittance and noise.
    public static func modes(amplitudes alpha: [Complex<Double>], symbols xi: [Complex<Double>],
                             measurement: ClientMeasurement, preparationNoise: Double = 0) -> [ReturnedMode] {
        let beta = ClientEncoding.projection(symbols: xi, amplitudes: alpha)
        let k = measurement.returnedTransmittance.squareRoot() - 1
        let x1 = measurement.returnedExcessNoise
        return alpha.indices.map { j in
            ReturnedMode(mean: alpha[j] + xi[j] * beta * Complex(k), excessNoise: preparationNoise + x1 * xi[j].lengthSquared)
        }
    }
}

/// What the server's estimators converge to (ideal trusted receiver, random X/P choice) for a
/// set of inner products: T̂ → s², s = Σ Re(conj α · mean) / Σ |α|², and
/// ε̂ → mean over modes of (excess + 2 |mean − s α|²), the second term being signal the slope
/// cannot explain.
public struct ExpectedChannel: Sendable, Equatable {
    public private(set) var modes = 0
    var sumAlpha2 = 0.0, sumCross = 0.0, sumMean2 = 0.0, sumExcess = 0.0

    public init() {}

    public mutating func add(sent alpha: [Complex<Double>], returned: [ReturnedMode]) {
        for (a, r) in zip(alpha, returned) {
            sumAlpha2 += a.lengthSquared
            sumCross += a.real * r.mean.real + a.imaginary * r.mean.imaginary
            sumMean2 += r.mean.lengthSquared
            sumExcess += r.excessNoise
        }
        modes += alpha.count
    }

    public var slope: Double { sumCross / sumAlpha2 }
    public var transmittance: Double { slope * slope }
    public var excessNoise: Double {
        let s = slope
        let unexplained = sumMean2 - 2 * s * sumCross + s * s * sumAlpha2
        return (sumExcess + 2 * max(0, unexplained)) / Double(modes)
    }
}
