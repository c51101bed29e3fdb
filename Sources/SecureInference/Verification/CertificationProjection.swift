import Foundation

/// When the server's check (`LeakageCheck`, the sound worst-corner bound) can be expected to
/// certify an honest client: the standard errors the estimators of `ChannelEstimate` (the
/// reference-based form a run uses) have after a given number of images, at their expected values,
/// fed to the server's own `assess`. A projection for choosing a budget and a vacuum-slot count
/// before a run, not a measurement: the twin's `qbench run` is the measurement.
///
/// Expected standard errors (SNU, detection efficiency η, trusted electronic noise ν_el in SNU,
/// N_c client signal slots, N_b back-to-back signal slots, K vacuum slots, E[m²] = 2μ per quadrature):
/// - Var(T̂)/T² = 4(1 + ηε + ν_el)/(ηT·N_c·2μ) + 4(1 + ν_el)/(η·N_b·2μ)
/// - Var(ε̂) = [2(1 + ηε + ν_el)²/N_c + 2(1 + ηε)²(1 + ν_el)²/K] / η²
/// (the delta method of `ChannelEstimate` with the calibration uncertainties of η and ν_el set
/// to zero: a real receiver's add to these).
public struct CertificationProjection: Sendable, Equatable, Codable {
    public var gain: Double
    public var photonsPerMode: Double
    /// Standard uncertainty of the calibrated μ (photons/mode).
    public var photonsUncertainty = 0.0
    public var modesPerRow = 392
    /// Rows (inner products) per image: 794 for MNIST.
    public var rowsPerImage = 794
    public var vacuumSlotsPerRow = 392
    /// Fraction of the shots that are interleaved back-to-back references (not through the client).
    public var referenceFraction = 0.3
    /// Server receiver detection efficiency η.
    public var efficiency = 0.85
    /// Server receiver electronic noise, SNU.
    public var electronicNoise = 0.0
    public var budgetBitsPerMode: Double
    public var delta = 1e-6

    public init(gain: Double, photonsPerMode: Double, budgetBitsPerMode: Double) {
        self.gain = gain; self.photonsPerMode = photonsPerMode; self.budgetBitsPerMode = budgetBitsPerMode
    }

    /// The honest client's excess noise g/n, SNU.
    public func honestExcessNoise() throws(ProtocolDomainError) -> Double {
        try ClientAmplifier(gain: gain).addedNoise / Double(modesPerRow)
    }

    /// Signal modes through the client per image.
    public var clientModesPerImage: Int { rowsPerImage * modesPerRow }

    /// The expected estimate after `images` images of an honest, lossless client.
    public func expectedEstimate(images: Double) throws(ProtocolDomainError) -> ChannelEstimate {
        try require(images > 0, "images", images, "> 0")
        try require(referenceFraction > 0 && referenceFraction < 1, "back-to-back fraction", referenceFraction, "in (0, 1)")
        let eps = try honestExcessNoise()
        let t = 1.0, eta = efficiency, nu = electronicNoise, m2 = 2 * photonsPerMode
        let nc = images * Double(clientModesPerImage)
        let nb = nc * referenceFraction / (1 - referenceFraction)
        let k = (nc + nb) / Double(modesPerRow) * Double(vacuumSlotsPerRow)
        let varT = t * t * (4 * (1 + eta * eps + nu) / (eta * t * nc * m2) + 4 * (1 + nu) / (eta * nb * m2))
        let vacuumTerm = k > 0 ? 2 * pow((1 + eta * eps) * (1 + nu), 2) / k : Double.infinity
        let varE = (2 * pow(1 + eta * eps + nu, 2) / nc + vacuumTerm) / (eta * eta)
        return ChannelEstimate(transmittance: t, transmittanceStandardError: varT.squareRoot(), excessNoise: eps,
                               excessNoiseStandardError: varE.squareRoot(), signalSlots: Int(nc), vacuumSlots: Int(k))
    }

    /// The server's assessment of the expected estimate after `images` images.
    public func assessment(images: Double) throws -> LeakageCheck.Assessment {
        let check = try LeakageCheck(budgetBitsPerMode: budgetBitsPerMode, delta: delta,
                                     photonsPerMode: Measured(photonsPerMode, uncertainty: photonsUncertainty))
        return try check.assess(try expectedEstimate(images: images))
    }

    /// The fewest images after which the expected bound is within the budget (bisection: the bound
    /// falls monotonically with the images), or nil if not within `maxImages`.
    public func imagesToCertify(maxImages: Double = 1e9) throws -> Double? {
        guard try assessment(images: maxImages).decision == .certified else { return nil }
        var lo = 1.0, hi = maxImages
        if try assessment(images: lo).decision == .certified { return lo }
        while hi / lo > 1.001 {
            let mid = (lo * hi).squareRoot()
            if try assessment(images: mid).decision == .certified { hi = mid } else { lo = mid }
        }
        return hi
    }
}
