import Foundation
import NumericsKit

/// The server's check of returned light against a weight-leakage budget (PROTOCOL.md §5, §5b).
///
/// Two statements, each at confidence 1 − δ:
/// - **abort**: the data show that the client took more than allowed: even the most favourable
///   point of the joint confidence region leaks more than the budget. Can happen early.
/// - **certified**: I_w evaluated at the *worst* point of the joint confidence region is within the
///   budget: this much light was served within budget. Needs enough modes; an honest client is
///   never aborted for lack of them.
/// Otherwise the check is still collecting.
///
/// The joint confidence region is the box T ∈ [T̂ − zσ_T, T̂ + zσ_T], ε ∈ [ε̂ − zσ_ε, ε̂ + zσ_ε],
/// μ ∈ [μ − zσ_μ, μ + zσ_μ] with z = Φ⁻¹(1 − δ/3): δ is split over the three one-sided statements
/// the bound combines (Bonferroni), so the box holds the truth with probability ≥ 1 − δ whatever
/// the correlation of the estimators. I_w is evaluated at every corner of the box (clipped to the
/// physical domain T ∈ (0, 1], ε ≥ 0) and the largest value is the certified bound, the smallest
/// the abort bound. I_w is monotone in each of T, ε and μ, so the extremes of the box are at its
/// corners (`LeakageBoundTests` checks the monotonicity on a grid).
///
/// Every input and every intermediate is checked for being finite: a NaN or an infinity anywhere
/// stops the session with `CheckError`, it never turns into a decision.
public struct LeakageCheck: Sendable, Equatable, Codable {
    /// Weight-leakage budget, bits per mode.
    public let budgetBitsPerMode: Double
    /// Error probability δ of each statement (abort, certified).
    public let delta: Double
    /// The mean photon number per mode the server set (calibrated), with its standard uncertainty.
    public let photonsPerMode: Measured

    /// Admissible δ: tighter than 1e-15 is beyond what a normal quantile in double precision
    /// resolves; looser than 0.05 is not a security statement.
    public static let deltaRange: ClosedRange<Double> = 1e-15...0.05
    /// Admissible budgets, bits per mode (I_w of a coherent state cannot exceed log2(1 + μ)).
    public static let budgetRange: ClosedRange<Double> = 1e-6...10

    public init(budgetBitsPerMode: Double = 0.1, delta: Double = 1e-6, photonsPerMode: Measured) throws(CheckError) {
        guard budgetBitsPerMode.isFinite, Self.budgetRange.contains(budgetBitsPerMode) else {
            throw .invalidSetting(name: "budget", value: budgetBitsPerMode,
                                  expected: "a finite weight-leakage budget in [\(Self.budgetRange.lowerBound), \(Self.budgetRange.upperBound)] bit/mode")
        }
        guard delta.isFinite, Self.deltaRange.contains(delta) else {
            throw .invalidSetting(name: "delta", value: delta,
                                  expected: "an error probability δ in [\(Self.deltaRange.lowerBound), \(Self.deltaRange.upperBound)] (e.g. 1e-6)")
        }
        guard photonsPerMode.value.isFinite, photonsPerMode.value > 0 else {
            throw .invalidSetting(name: "photons per mode μ", value: photonsPerMode.value, expected: "a finite μ > 0")
        }
        guard photonsPerMode.uncertainty.isFinite, photonsPerMode.uncertainty >= 0 else {
            throw .invalidSetting(name: "uncertainty of μ", value: photonsPerMode.uncertainty, expected: "a finite standard uncertainty ≥ 0 (from the attenuation calibration)")
        }
        self.budgetBitsPerMode = budgetBitsPerMode
        self.delta = delta
        self.photonsPerMode = photonsPerMode
    }

    /// The statements the bound combines: T, ε and μ, each one-sided at δ/3.
    public static let combinedStatements = 3

    /// The half-width of each interval in standard errors: Φ⁻¹(1 − δ/3).
    public var z: Double { Normal.quantile(1 - delta / Double(Self.combinedStatements)) }

    public enum Decision: String, Sendable, Codable, Equatable {
        case abort, certified, collecting
    }

    /// Why the check cannot decide: the session stops, the bench goes safe, the record says why.
    public enum CheckError: Error, CustomStringConvertible, Equatable {
        case invalidSetting(name: String, value: Double, expected: String)
        case nonFinite(quantity: String, value: Double)

        public var description: String {
            switch self {
            case let .invalidSetting(name, value, expected):
                "the server's check cannot run with \(name) = \(value): expected \(expected)"
            case let .nonFinite(quantity, value):
                "the server's check stopped the session: \(quantity) is \(value), not a finite number. Nothing is certified from it. Check the receiver (saturation, LO), the calibration records and the model, then start a new session"
            }
        }
    }

    public struct Assessment: Sendable, Equatable, Codable {
        public let estimate: ChannelEstimate
        public let decision: Decision
        /// I_w at the point estimate (T̂ clipped to ≤ 1, ε̂ to ≥ 0), bits per mode.
        public let leakageBitsPerMode: Double
        /// I_w at the most favourable corner of the confidence region (the abort statement).
        public let leakageLowerBound: Double
        /// I_w at the worst corner of the confidence region (the certified statement).
        public let leakageUpperBound: Double
        public let transmittanceLowerBound: Double
        public let transmittanceUpperBound: Double
        public let excessNoiseLowerBound: Double
        public let excessNoiseUpperBound: Double
        public let photonsLowerBound: Double
        public let photonsUpperBound: Double
        public let budgetBitsPerMode: Double
        /// Why a decision the numbers allowed was withheld (e.g. a saturated receiver).
        public var withheld: String?

        /// The same assessment, collecting instead of certified, saying why.
        public func withoutCertification(because why: String) -> Assessment {
            var a = Assessment(estimate: estimate, decision: decision == .certified ? .collecting : decision, leakageBitsPerMode: leakageBitsPerMode,
                               leakageLowerBound: leakageLowerBound, leakageUpperBound: leakageUpperBound,
                               transmittanceLowerBound: transmittanceLowerBound, transmittanceUpperBound: transmittanceUpperBound,
                               excessNoiseLowerBound: excessNoiseLowerBound, excessNoiseUpperBound: excessNoiseUpperBound,
                               photonsLowerBound: photonsLowerBound, photonsUpperBound: photonsUpperBound, budgetBitsPerMode: budgetBitsPerMode)
            a.withheld = why
            return a
        }

        /// A one-line reason, for run records and abort messages.
        public var reason: String {
            if let withheld { return "not certified: \(withheld) (\(numbers))" }
            return numbers
        }

        var numbers: String {
            let f = { (x: Double) in String(format: "%.4g", x) }
            switch decision {
            case .abort:
                return "weight leakage ≥ \(f(leakageLowerBound)) bit/mode exceeds the budget \(f(budgetBitsPerMode)) (T̂ = \(f(estimate.transmittance)) ≤ \(f(transmittanceUpperBound)), ε̂ = \(f(estimate.excessNoise)) ≥ \(f(excessNoiseLowerBound)) SNU, \(estimate.signalSlots) modes)"
            case .certified:
                return "weight leakage ≤ \(f(leakageUpperBound)) bit/mode (T ≥ \(f(transmittanceLowerBound)), ε ≤ \(f(excessNoiseUpperBound)) SNU, μ ≤ \(f(photonsUpperBound))) within the budget \(f(budgetBitsPerMode)) over \(estimate.signalSlots) modes"
            case .collecting:
                return "weight leakage \(f(leakageBitsPerMode)) ∈ [\(f(leakageLowerBound)), \(f(leakageUpperBound))] bit/mode over \(estimate.signalSlots) modes: not yet resolved against the budget \(f(budgetBitsPerMode))"
            }
        }
    }

    /// The smallest transmittance the bound evaluates (T → 0 is the channel that gives the client
    /// everything; I_w is finite there).
    static let transmittanceFloor = 1e-12

    public func assess(_ estimate: ChannelEstimate) throws(CheckError) -> Assessment {
        for (name, value) in [("T̂", estimate.transmittance), ("σ(T̂)", estimate.transmittanceStandardError),
                              ("ε̂", estimate.excessNoise), ("σ(ε̂)", estimate.excessNoiseStandardError),
                              ("the in-band shot-noise unit", estimate.shotNoiseVariance)] where !value.isFinite {
            throw .nonFinite(quantity: name, value: value)
        }
        guard estimate.transmittanceStandardError >= 0, estimate.excessNoiseStandardError >= 0 else {
            throw .nonFinite(quantity: "a negative standard error", value: min(estimate.transmittanceStandardError, estimate.excessNoiseStandardError))
        }
        let z = self.z
        guard z.isFinite, z > 0 else { throw .nonFinite(quantity: "the normal quantile of δ/3", value: z) }
        let mu = photonsPerMode.value, su = photonsPerMode.uncertainty
        let tLo = estimate.transmittance - z * estimate.transmittanceStandardError
        let tHi = estimate.transmittance + z * estimate.transmittanceStandardError
        let eLo = estimate.excessNoise - z * estimate.excessNoiseStandardError
        let eHi = estimate.excessNoise + z * estimate.excessNoiseStandardError
        let muLo = max(mu - z * su, mu * 1e-6), muHi = mu + z * su
        func clipT(_ t: Double) -> Double { min(1, max(t, Self.transmittanceFloor)) }
        func clipE(_ e: Double) -> Double { max(0, e) }
        func leakage(_ m: Double, _ t: Double, _ e: Double) throws(CheckError) -> Double {
            let value: Double
            do { value = try WeightLeakage.bitsPerMode(photonsPerMode: m, transmittance: clipT(t), excessNoise: clipE(e)) } catch {
                throw .nonFinite(quantity: "I_w(μ = \(m), T = \(t), ε = \(e))", value: .nan)
            }
            guard value.isFinite else { throw .nonFinite(quantity: "I_w(μ = \(m), T = \(t), ε = \(e))", value: value) }
            return value
        }
        var lower = Double.infinity, upper = -Double.infinity
        for m in [muLo, muHi] {
            for t in [tLo, tHi] {
                for e in [eLo, eHi] {
                    let i = try leakage(m, t, e)
                    lower = min(lower, i); upper = max(upper, i)
                }
            }
        }
        let point = try leakage(mu, estimate.transmittance, estimate.excessNoise)
        let decision: Decision = lower > budgetBitsPerMode ? .abort : (upper <= budgetBitsPerMode ? .certified : .collecting)
        return Assessment(
            estimate: estimate, decision: decision, leakageBitsPerMode: point,
            leakageLowerBound: lower, leakageUpperBound: upper,
            transmittanceLowerBound: tLo, transmittanceUpperBound: tHi,
            excessNoiseLowerBound: eLo, excessNoiseUpperBound: eHi,
            photonsLowerBound: muLo, photonsUpperBound: muHi,
            budgetBitsPerMode: budgetBitsPerMode)
    }
}
