import Foundation

/// Holevo bound on the weight leakage per optical mode (PROTOCOL.md §5): Gaussian-modulated
/// coherent states of modulation variance V = 2μ + 1 through a channel of transmittance T and
/// output-referred excess noise ε (SNU), direct reconciliation.
///
///   a = V, b = T(V − 1) + 1 + ε, c = √(T(V² − 1)), z = √((a + b)² − 4c²),
///   ν1 = (z + b − a)/2, ν2 = (z − b + a)/2, ν3 = b − c²/(a + 1),
///   I_w = h(ν1) + h(ν2) − h(ν3).
public enum WeightLeakage {
    /// Bits per mode. Domain: μ > 0, T ∈ (0, 1], ε ≥ 0.
    public static func bitsPerMode(photonsPerMode mu: Double, transmittance t: Double, excessNoise eps: Double) throws(ProtocolDomainError) -> Double {
        try require(mu > 0 && mu.isFinite, "photons per mode μ", mu, "μ > 0")
        try require(t > 0 && t <= 1, "transmittance T", t, "0 < T ≤ 1")
        try require(eps >= 0 && eps.isFinite, "excess noise ε", eps, "ε ≥ 0 SNU")
        let v = 2 * mu + 1
        let a = v
        let b = t * (v - 1) + 1 + eps
        let c2 = t * (v * v - 1)
        // (a+b)² − 4c² = (a − b)² + 4(ab − c²) with ab − c² = V(1 + ε) − T(V − 1) ≥ 1 in the
        // domain: no cancellation of large terms when V is large.
        let abMinusC2 = v * (1 + eps) - t * (v - 1)
        let z = ((a - b) * (a - b) + 4 * abMinusC2).squareRoot()
        let nu1 = (z + b - a) / 2
        let nu2 = (z - b + a) / 2
        let nu3 = b - c2 / (a + 1)
        let info = try vonNeumannEntropy(symplecticEigenvalue: nu1)
            + vonNeumannEntropy(symplecticEigenvalue: nu2)
            - vonNeumannEntropy(symplecticEigenvalue: nu3)
        return max(0, info)
    }

    /// The honest, lossless operating point: T = 1, ε = g/n.
    public static func honestBitsPerMode(photonsPerMode mu: Double, amplifier: ClientAmplifier, modesPerRow n: Int) throws(ProtocolDomainError) -> Double {
        try require(n > 0, "modes per row n", Double(n), "n ≥ 1")
        return try bitsPerMode(photonsPerMode: mu, transmittance: 1, excessNoise: amplifier.addedNoise / Double(n))
    }
}

extension WeightLeakage {
    /// Partial derivatives of I_w (bits per mode) by central differences, one-sided at the domain
    /// edges T = 1 and ε = 0.
    public struct Gradient: Sendable, Equatable {
        public let dMu: Double
        public let dT: Double
        public let dEpsilon: Double
    }

    public static func gradient(photonsPerMode mu: Double, transmittance t: Double, excessNoise eps: Double) throws(ProtocolDomainError) -> Gradient {
        let f = { (m: Double, tt: Double, e: Double) throws(ProtocolDomainError) -> Double in
            try bitsPerMode(photonsPerMode: m, transmittance: tt, excessNoise: e)
        }
        let hm = 1e-5 * max(mu, 1e-3), ht = 1e-6, he = 1e-7
        let dMu = (try f(mu + hm, t, eps) - f(max(mu - hm, mu / 2), t, eps)) / (mu + hm - max(mu - hm, mu / 2))
        let tHi = min(1, t + ht), tLo = max(t - ht, t / 2)
        let dT = (try f(mu, tHi, eps) - f(mu, tLo, eps)) / (tHi - tLo)
        let eLo = max(0, eps - he)
        let dE = (try f(mu, t, eps + he) - f(mu, t, eLo)) / (eps + he - eLo)
        return Gradient(dMu: dMu, dT: dT, dEpsilon: dE)
    }
}
