import Foundation

/// The server's estimate of the round trip through the client (PROTOCOL.md §3.5, §5b).
///
/// Estimators (all from `ReturnedLightStatistics` and the `TrustedReceiver`):
/// - N̂0 = s_v² − σ_el²: the shot-noise unit in raw units², from the in-band vacuum slots;
/// - â² = û² + v̂²: the squared magnitude of the rotation-aware response of y to the intended
///   amplitudes (see `ReturnedLightStatistics`), pooled over X and P slots with an intercept each;
/// - T̂ = â² / (N̂0 R_b2b²): transmittance relative to the trusted back-to-back response;
/// - ε̂ = ((s_r² − σ_el²)/N̂0 − 1)/η: output-referred excess noise in SNU, from the residual
///   variance s_r² of the fit.
/// Standard errors come from the delta method on (â, s_r², s_v²) with Gaussian sampling variances
/// Var(â²) from Cov(û, v̂) = s_r² S⁻¹, Var(s²) = 2σ⁴/dof, plus the calibration uncertainties of σ_el², η and R_b2b.
/// The covariance of T̂ and ε̂ is kept: both depend on N̂0 and their errors partly cancel in I_w.
public struct ChannelEstimate: Sendable, Equatable, Codable {
    public let signalSlots: Int
    public let vacuumSlots: Int
    /// In-band shot-noise unit, raw units² (V²).
    public let shotNoiseVariance: Double
    public let transmittance: Double
    public let transmittanceStandardError: Double
    public let excessNoise: Double
    public let excessNoiseStandardError: Double
    /// Covariance of T̂ and ε̂.
    public let covariance: Double

    public init(transmittance: Double, transmittanceStandardError: Double, excessNoise: Double,
                excessNoiseStandardError: Double, covariance: Double = 0,
                shotNoiseVariance: Double = 1, signalSlots: Int = 0, vacuumSlots: Int = 0) {
        self.transmittance = transmittance
        self.transmittanceStandardError = transmittanceStandardError
        self.excessNoise = excessNoise
        self.excessNoiseStandardError = excessNoiseStandardError
        self.covariance = covariance
        self.shotNoiseVariance = shotNoiseVariance
        self.signalSlots = signalSlots
        self.vacuumSlots = vacuumSlots
    }

    public enum EstimationError: Error, CustomStringConvertible, Equatable {
        case tooFewSamples(signal: Int, vacuum: Int)
        case noShotNoise(vacuumVariance: Double, electronicNoise: Double)
        case noModulation
        case nonFinite(quantity: String, value: Double)

        public var description: String {
            switch self {
            case let .tooFewSamples(s, v):
                "cannot estimate the channel from \(s) signal and \(v) vacuum samples: need at least 3 of each"
            case let .noShotNoise(vv, el):
                "vacuum-slot variance \(vv) is not above the trusted electronic noise \(el): the local oscillator is off or the receiver is saturated; check the LO and re-run `qbench calibrate homodyne`"
            case .noModulation:
                "the intended quadrature values have no spread (or X and P regressors are collinear): the server sent no usable modulation, so T̂ is undefined; check the model's weights (constant or zero rows are refused) and the frame"
            case let .nonFinite(q, v):
                "\(q) is \(v), not a finite number: the session stops and nothing is certified; check the receiver (saturation, LO) and the calibration records"
            }
        }
    }

    public init(statistics stats: ReturnedLightStatistics, receiver: TrustedReceiver) throws(EstimationError) {
        let s = stats.pooled, v = stats.vacuum
        guard s.degreesOfFreedom > 0, v.count > 2 else { throw .tooFewSamples(signal: s.count, vacuum: v.count) }
        guard Self.isIdentifiable(s) else { throw .noModulation }
        let el2 = receiver.electronicNoiseVariance.value
        let eta = receiver.efficiency.value
        let r = receiver.backToBackResponse.value
        let sv2 = v.variance
        let n0 = sv2 - el2
        guard n0 > 0 else { throw .noShotNoise(vacuumVariance: sv2, electronicNoise: el2) }
        let a2 = s.responseSquared
        let sr2 = s.residualVariance
        let t = a2 / (n0 * r * r)
        let eps = ((sr2 - el2) / n0 - 1) / eta

        // Variances of the primary statistics.
        let varA2 = s.responseSquaredVariance
        let varSr2 = 2 * sr2 * sr2 / Double(s.degreesOfFreedom)
        let varSv2 = 2 * sv2 * sv2 / Double(v.count - 1)
        let varEl2 = pow(receiver.electronicNoiseVariance.uncertainty, 2)
        let varEta = pow(receiver.efficiency.uncertainty, 2)
        let varR = pow(receiver.backToBackResponse.uncertainty, 2)

        // Gradients of T̂ and ε̂ with respect to (â², s_r², s_v², σ_el², η, R).
        let dT = [t / a2, 0, -t / n0, t / n0, 0, -2 * t / r]
        let dE = [0, 1 / (eta * n0), -(sr2 - el2) / (eta * n0 * n0), (sr2 - sv2) / (eta * n0 * n0), -eps / eta, 0]
        let variances = [varA2, varSr2, varSv2, varEl2, varEta, varR]
        var vt = 0.0, ve = 0.0, cte = 0.0
        for k in 0..<6 {
            vt += dT[k] * dT[k] * variances[k]
            ve += dE[k] * dE[k] * variances[k]
            cte += dT[k] * dE[k] * variances[k]
        }
        self = try ChannelEstimate(transmittance: t, transmittanceStandardError: vt.squareRoot(), excessNoise: eps,
                                   excessNoiseStandardError: ve.squareRoot(), covariance: cte, shotNoiseVariance: n0,
                                   signalSlots: s.count, vacuumSlots: v.count).validated()
    }

    /// The smallest spread of the intended quadrature values per slot (photons) that identifies a
    /// response: a frame whose values are (numerically) constant cannot measure T̂, however many
    /// modes it has, and would otherwise divide rounding noise by rounding noise.
    static let minimumModulationVariance = 1e-6
    /// The smallest det(S)/(S11·S22): the two regressors must not be collinear.
    static let minimumConditioning = 1e-6

    static func isIdentifiable(_ f: ReturnedLightStatistics.PooledFit) -> Bool {
        guard f.count > 0, f.s11.isFinite, f.s22.isFinite, f.s12.isFinite, f.s1y.isFinite, f.s2y.isFinite, f.syy.isFinite else { return false }
        let n = Double(f.count)
        guard f.s11 / n >= minimumModulationVariance, f.s22 / n >= minimumModulationVariance else { return false }
        return f.determinant >= minimumConditioning * f.s11 * f.s22
    }

    /// Throws unless every number of the estimate is finite and the standard errors are ≥ 0.
    func validated() throws(EstimationError) -> ChannelEstimate {
        for (name, v) in [("T̂", transmittance), ("σ(T̂)", transmittanceStandardError), ("ε̂", excessNoise),
                          ("σ(ε̂)", excessNoiseStandardError), ("cov(T̂, ε̂)", covariance), ("N̂0", shotNoiseVariance)] where !v.isFinite {
            throw .nonFinite(quantity: name, value: v)
        }
        guard transmittanceStandardError >= 0, excessNoiseStandardError >= 0 else {
            throw .nonFinite(quantity: "a standard error", value: min(transmittanceStandardError, excessNoiseStandardError))
        }
        return self
    }

    /// Correlation of T̂ and ε̂.
    public var correlation: Double {
        let d = transmittanceStandardError * excessNoiseStandardError
        return d > 0 ? covariance / d : 0
    }
}

extension ChannelEstimate {
    /// The estimate against a back-to-back reference measured during the run with the same frames:
    /// T̂ = â²_client / â²_b2b (rotation-aware magnitudes), both on the same receiver at the same LO, so the shot-noise
    /// unit cancels from T̂ (and the transmitter's and receiver's drifts cancel when the reference is
    /// interleaved with the client shots). ε̂ uses the in-band shot-noise unit pooled over the vacuum
    /// slots of both. The trusted receiver contributes σ_el² and η; its `backToBackResponse` is not
    /// used here.
    public init(statistics stats: ReturnedLightStatistics, reference: ReturnedLightStatistics, receiver: TrustedReceiver) throws(EstimationError) {
        let c = stats.pooled, b = reference.pooled
        var vacuum = stats.vacuum
        vacuum.merge(reference.vacuum)
        guard c.degreesOfFreedom > 0, b.degreesOfFreedom > 0, vacuum.count > 2 else {
            throw .tooFewSamples(signal: min(c.count, b.count), vacuum: vacuum.count)
        }
        guard Self.isIdentifiable(c), Self.isIdentifiable(b) else { throw .noModulation }
        let el2 = receiver.electronicNoiseVariance.value, eta = receiver.efficiency.value
        let sv2 = vacuum.variance
        let n0 = sv2 - el2
        guard n0 > 0 else { throw .noShotNoise(vacuumVariance: sv2, electronicNoise: el2) }
        let ac = c.responseSquared, ab = b.responseSquared
        let sr2 = c.residualVariance
        let t = ac / ab
        let eps = ((sr2 - el2) / n0 - 1) / eta
        let varT = t * t * (c.responseSquaredVariance / (ac * ac) + b.responseSquaredVariance / (ab * ab))
        let varSr2 = 2 * sr2 * sr2 / Double(c.degreesOfFreedom)
        let varSv2 = 2 * sv2 * sv2 / Double(vacuum.count - 1)
        let varEl2 = pow(receiver.electronicNoiseVariance.uncertainty, 2)
        let varEta = pow(receiver.efficiency.uncertainty, 2)
        let dE = [1 / (eta * n0), -(sr2 - el2) / (eta * n0 * n0), (sr2 - sv2) / (eta * n0 * n0), -eps / eta]
        let vE = [varSr2, varSv2, varEl2, varEta]
        var ve = 0.0
        for k in 0..<4 { ve += dE[k] * dE[k] * vE[k] }
        self = try ChannelEstimate(transmittance: t, transmittanceStandardError: varT.squareRoot(), excessNoise: eps,
                                   excessNoiseStandardError: ve.squareRoot(), covariance: 0, shotNoiseVariance: n0,
                                   signalSlots: c.count, vacuumSlots: vacuum.count).validated()
    }
}
