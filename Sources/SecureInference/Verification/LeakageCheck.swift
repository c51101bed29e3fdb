import Foundation
import NumericsKit

/// The server's check of returned light against a weight-leakage budget (PROTOCOL.md §5, §5b).
///
/// Two statements, at confidence 1 − δ (normal approximation of the estimators, which holds for the
/// 10⁵–10⁹ modes a decision needs):
/// - **abort**: the lower confidence bound of I_w exceeds the budget: the data show that the client
///   took more than allowed. Can happen early, against a cheating client.
/// - **certified**: the upper confidence bound of I_w is within the budget: this much light was
///   served within budget. Needs enough modes; an honest client is never aborted for lack of them.
/// Otherwise the check is still collecting.
///
/// Bounds on I_w use the delta method on I_w(V, T̂, ε̂) with the full covariance of (T̂, ε̂): the two
/// share the in-band shot-noise estimate and their errors partly cancel in I_w. Per-parameter bounds
/// T̂ ± zσ_T and ε̂ ± zσ_ε are reported beside it.
public struct LeakageCheck: Sendable, Equatable, Codable {
    /// Weight-leakage budget, bits per mode.
    public var budgetBitsPerMode: Double
    /// Error probability δ of each statement (one-sided).
    public var delta: Double
    /// The mean photon number per mode the server set (calibrated), with its uncertainty.
    public var photonsPerMode: Measured

    public init(budgetBitsPerMode: Double = 0.1, delta: Double = 1e-6, photonsPerMode: Measured) {
        self.budgetBitsPerMode = budgetBitsPerMode
        self.delta = delta
        self.photonsPerMode = photonsPerMode
    }

    public var z: Double { Normal.quantile(1 - delta) }

    public enum Decision: String, Sendable, Codable, Equatable {
        case abort, certified, collecting
    }

    public struct Assessment: Sendable, Equatable, Codable {
        public let estimate: ChannelEstimate
        public let decision: Decision
        /// I_w at the point estimate (T̂ clipped to ≤ 1, ε̂ to ≥ 0), bits per mode.
        public let leakageBitsPerMode: Double
        public let leakageStandardError: Double
        public let leakageLowerBound: Double
        public let leakageUpperBound: Double
        public let transmittanceLowerBound: Double
        public let transmittanceUpperBound: Double
        public let excessNoiseLowerBound: Double
        public let excessNoiseUpperBound: Double
        public let budgetBitsPerMode: Double

        /// A one-line reason, for run records and abort messages.
        public var reason: String {
            let f = { (x: Double) in String(format: "%.4g", x) }
            switch decision {
            case .abort:
                return "weight leakage ≥ \(f(leakageLowerBound)) bit/mode exceeds the budget \(f(budgetBitsPerMode)) (T̂ = \(f(estimate.transmittance)), ε̂ = \(f(estimate.excessNoise)) SNU ≤ \(f(excessNoiseUpperBound)), \(estimate.signalSlots) modes)"
            case .certified:
                return "weight leakage ≤ \(f(leakageUpperBound)) bit/mode within the budget \(f(budgetBitsPerMode)) over \(estimate.signalSlots) modes"
            case .collecting:
                return "weight leakage \(f(leakageBitsPerMode)) ∈ [\(f(leakageLowerBound)), \(f(leakageUpperBound))] bit/mode over \(estimate.signalSlots) modes: not yet resolved against the budget \(f(budgetBitsPerMode))"
            }
        }
    }

    public func assess(_ estimate: ChannelEstimate) throws(ProtocolDomainError) -> Assessment {
        let z = self.z
        let mu = photonsPerMode.value
        // Evaluate inside the physical domain; the estimator may wander just outside it.
        let t = min(1, max(estimate.transmittance, 1e-9))
        let eps = max(0, estimate.excessNoise)
        let point = try WeightLeakage.bitsPerMode(photonsPerMode: mu, transmittance: t, excessNoise: eps)
        let grad = try WeightLeakage.gradient(photonsPerMode: mu, transmittance: t, excessNoise: eps)
        let st = estimate.transmittanceStandardError, se = estimate.excessNoiseStandardError
        var variance = grad.dT * grad.dT * st * st + grad.dEpsilon * grad.dEpsilon * se * se
            + 2 * grad.dT * grad.dEpsilon * estimate.covariance
        variance += grad.dMu * grad.dMu * photonsPerMode.uncertainty * photonsPerMode.uncertainty
        let sigma = max(0, variance).squareRoot()
        let lower = max(0, point - z * sigma), upper = point + z * sigma
        let decision: Decision = lower > budgetBitsPerMode ? .abort : (upper <= budgetBitsPerMode ? .certified : .collecting)
        return Assessment(
            estimate: estimate, decision: decision, leakageBitsPerMode: point, leakageStandardError: sigma,
            leakageLowerBound: lower, leakageUpperBound: upper,
            transmittanceLowerBound: estimate.transmittance - z * st, transmittanceUpperBound: estimate.transmittance + z * st,
            excessNoiseLowerBound: estimate.excessNoise - z * se, excessNoiseUpperBound: estimate.excessNoise + z * se,
            budgetBitsPerMode: budgetBitsPerMode)
    }
}
