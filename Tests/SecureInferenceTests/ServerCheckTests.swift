import Foundation
import NumericsKit
import Testing
@testable import SecureInference

/// Returned-light samples from a known receiver and channel: y = o + √N0 (R √T m + √(1 + ηε) n)
/// + σ_el n', vacuum slots v = o + √N0 n + σ_el n'. m is the intended quadrature of a Gaussian-
/// modulated mode of μ photons on average (m ~ N(0, 2μ)).
struct SyntheticReceiver {
    var n0 = 0.04          // V² per SNU
    var electronic = 0.004 // V² (0.1 SNU, 10 dB clearance)
    var efficiency = 0.9
    var response = 0.93    // back-to-back response (SNU per SNU)
    var offset = 0.013
    /// A residual carrier (finite extinction) shifts P slots differently from X slots.
    var offsetP = 0.031
    var mu = 4.0

    var trusted: TrustedReceiver {
        TrustedReceiver(electronicNoiseVariance: Measured(electronic), efficiency: Measured(efficiency), backToBackResponse: Measured(response))
    }

    /// A rotation of the returned light against the LO (the round trip's phase): the estimator
    /// must not care.
    var rotation = 0.7

    func measure(t: Double, eps: Double, signal: Int, vacuum: Int, seed: UInt64) -> ReturnedLightStatistics {
        var rng = Xoshiro256(seed: seed)
        let g = Gaussian.Sampler()
        var stats = ReturnedLightStatistics()
        let block = 65_536
        var y = [Float](repeating: 0, count: block), re = y, im = y
        let a = n0.squareRoot() * response * t.squareRoot()
        let sn = (n0 * (1 + efficiency * eps)).squareRoot(), se = electronic.squareRoot()
        let c = cos(rotation), s = sin(rotation)
        var left = signal
        var isP = false
        while left > 0 {
            let k = min(block, left)
            let o = isP ? offsetP : offset
            for i in 0..<k {
                let ar = (mu / 2).squareRoot() * g.next(&rng), ai = (mu / 2).squareRoot() * g.next(&rng)
                re[i] = Float(ar); im[i] = Float(ai)
                // The returned amplitude rotated by the round-trip phase, measured on X or P.
                let rr = c * ar - s * ai, ri = s * ar + c * ai
                let m = isP ? 2 * ri : 2 * rr
                y[i] = Float(o + a * m + sn * g.next(&rng) + se * g.next(&rng))
            }
            stats.addSignal(samples: Array(y[0..<k]), alphaRe: Array(re[0..<k]), alphaIm: Array(im[0..<k]), quadrature: isP ? .p : .x)
            isP.toggle()
            left -= k
        }
        left = vacuum
        let sv = n0.squareRoot()
        while left > 0 {
            let k = min(block, left)
            for i in 0..<k { y[i] = Float(offset + sv * g.next(&rng) + se * g.next(&rng)) }
            stats.addVacuum(samples: Array(y[0..<k]))
            left -= k
        }
        return stats
    }
}

@Suite("Server's estimators and decision (PROTOCOL.md §5, §5b)")
struct ServerCheckTests {
    /// Coverage of the 90 % two-sided intervals T̂ ± 1.645σ and ε̂ ± 1.645σ,
    /// over 300 independent experiments of 2e5 signal (X and P slots with different offsets)
    /// + 5e4 vacuum slots. Nominal 0.90; the
    /// acceptance band is 3 binomial standard errors (±0.052).
    @Test func confidenceIntervalsCoverTheTruthAtTheirStatedLevel() throws {
        let rx = SyntheticReceiver()
        let (tTrue, eTrue) = (0.97, 0.05)
        let trials = 300
        let z = Normal.quantile(0.95)
        var coverT = 0, coverE = 0
        var meanT = RunningMoments(), meanE = RunningMoments()
        for k in 0..<trials {
            let stats = rx.measure(t: tTrue, eps: eTrue, signal: 200_000, vacuum: 50_000, seed: UInt64(1000 + k))
            let est = try ChannelEstimate(statistics: stats, receiver: rx.trusted)
            meanT.add(est.transmittance); meanE.add(est.excessNoise)
            if abs(est.transmittance - tTrue) <= z * est.transmittanceStandardError { coverT += 1 }
            if abs(est.excessNoise - eTrue) <= z * est.excessNoiseStandardError { coverE += 1 }
        }
        let band = 3 * (0.9 * 0.1 / Double(trials)).squareRoot()
        for (name, c) in [("T", coverT), ("ε", coverE)] {
            let rate = Double(c) / Double(trials)
            #expect(abs(rate - 0.9) < band, "coverage of \(name) is \(rate)")
        }
        // Unbiased: the mean over trials within 4 standard errors of the truth.
        #expect(abs(meanT.mean - tTrue) < 4 * meanT.standardError)
        #expect(abs(meanE.mean - eTrue) < 4 * meanE.standardError)
    }

    /// The estimator against an in-run back-to-back reference: 300 experiments, 90 % intervals of
    /// T̂ and ε̂ cover the truth in 90 % ± 5.2 %; the shot-noise unit cancels from T̂, so a 30 %
    /// wrong N0 in the receiver model changes nothing.
    @Test func referenceBasedEstimateCoversTheTruth() throws {
        let rx = SyntheticReceiver()
        let (tTrue, eTrue) = (0.985, 0.03)
        let z = Normal.quantile(0.95)
        var coverT = 0, coverE = 0
        let trials = 300
        for k in 0..<trials {
            let client = rx.measure(t: tTrue, eps: eTrue, signal: 200_000, vacuum: 50_000, seed: UInt64(5000 + k))
            let reference = rx.measure(t: 1, eps: 0, signal: 100_000, vacuum: 25_000, seed: UInt64(9000 + k))
            let est = try ChannelEstimate(statistics: client, reference: reference, receiver: rx.trusted)
            if abs(est.transmittance - tTrue) <= z * est.transmittanceStandardError { coverT += 1 }
            if abs(est.excessNoise - eTrue) <= z * est.excessNoiseStandardError { coverE += 1 }
        }
        let band = 3 * (0.9 * 0.1 / Double(trials)).squareRoot()
        #expect(abs(Double(coverT) / Double(trials) - 0.9) < band, "T coverage \(coverT)")
        #expect(abs(Double(coverE) / Double(trials) - 0.9) < band, "ε coverage \(coverE)")
    }

    /// Calibration uncertainties are propagated: a 1 % uncertain back-to-back response widens σ_T
    /// to at least 2 %.
    @Test func calibrationUncertaintyWidensTheInterval() throws {
        let rx = SyntheticReceiver()
        let stats = rx.measure(t: 1, eps: 0.01, signal: 100_000, vacuum: 100_000, seed: 5)
        var trusted = rx.trusted
        let tight = try ChannelEstimate(statistics: stats, receiver: trusted)
        trusted.backToBackResponse.uncertainty = 0.01 * rx.response
        let loose = try ChannelEstimate(statistics: stats, receiver: trusted)
        #expect(loose.transmittanceStandardError > 0.02 * 0.99)
        #expect(loose.transmittanceStandardError > tight.transmittanceStandardError)
        #expect(loose.excessNoiseStandardError == tight.excessNoiseStandardError)
    }

    /// The in-band reference follows the local oscillator: doubling N0 mid-way (LO drift) changes
    /// nothing in T̂ and ε̂ when both slot kinds see it, because they are interleaved.
    @Test func inBandShotNoiseReferenceTracksTheLocalOscillator() throws {
        var rx = SyntheticReceiver()
        rx.n0 = 0.08
        let stats = rx.measure(t: 0.99, eps: 0.02, signal: 1_000_000, vacuum: 1_000_000, seed: 8)
        rx.n0 = 0.04
        let est = try ChannelEstimate(statistics: stats, receiver: rx.trusted)
        #expect(abs(est.shotNoiseVariance - 0.08) < 5 * 0.08 * (2 / 1e6).squareRoot() + 1e-6)
        #expect(abs(est.transmittance - 0.99) < 5 * est.transmittanceStandardError)
        #expect(abs(est.excessNoise - 0.02) < 5 * est.excessNoiseStandardError)
    }

    @Test func estimationErrorsAreExplained() throws {
        var empty = ReturnedLightStatistics()
        #expect(throws: ChannelEstimate.EstimationError.self) { try ChannelEstimate(statistics: empty, receiver: .ideal) }
        empty.addSignal(samples: [1, 2, 3, 4, 5], alphaRe: [0, 0, 0, 0, 0], alphaIm: [0, 0, 0, 0, 0], quadrature: .x)
        empty.addVacuum(samples: [1, -1, 1, -1])
        #expect(throws: ChannelEstimate.EstimationError.noModulation) { try ChannelEstimate(statistics: empty, receiver: .ideal) }
        var dark = ReturnedLightStatistics()
        dark.addSignal(samples: [1, 2, 3, 4, 5], alphaRe: [1, 2, 3, 4.5, 0.1], alphaIm: [0.3, -1, 0.2, 1, 2], quadrature: .x)
        dark.addVacuum(samples: [0.01, -0.01, 0.01, -0.01])
        let err = #expect(throws: ChannelEstimate.EstimationError.self) {
            try ChannelEstimate(statistics: dark, receiver: TrustedReceiver(electronicNoiseVariance: Measured(1)))
        }
        #expect(err?.description.contains("qbench calibrate homodyne") == true)
    }

    // MARK: decisions, on estimates with given precision (G = 2, μ = 4, budget 0.1 bit/mode)

    var check: LeakageCheck { get throws { try LeakageCheck(budgetBitsPerMode: 0.1, delta: 1e-6, photonsPerMode: Measured(4)) } }

    /// Standard errors of T̂ and ε̂ for N modes with as many vacuum slots, the honest statistics.
    func estimate(t: Double, eps: Double, modes n: Double) -> ChannelEstimate {
        ChannelEstimate(transmittance: t, transmittanceStandardError: (8.5 / n).squareRoot(),
                        excessNoise: eps, excessNoiseStandardError: (4 / n).squareRoot(), covariance: 2 / n)
    }

    @Test func honestClientIsNeverAbortedForLackOfStatistics() throws {
        for n in [1e3, 1e5, 1e7, 1e9, 1e11] {
            let a = try check.assess(estimate(t: 1, eps: 1.0 / 392, modes: n))
            #expect(a.decision != .abort, "honest aborted at \(n) modes")
        }
    }

    @Test func honestClientIsCertifiedWithEnoughModesButNotWithFew() throws {
        // With the worst-corner bound at δ = 1e-6 (z = 4.97 per statement) these idealised errors
        // need about 1e10 modes; 3.1e9 (10,000 images) leaves the bound just above 0.1.
        #expect(try check.assess(estimate(t: 1, eps: 1.0 / 392, modes: 1e10)).decision == .certified)
        #expect(try check.assess(estimate(t: 1, eps: 1.0 / 392, modes: 3.1e9)).decision == .collecting)
        #expect(try check.assess(estimate(t: 1, eps: 1.0 / 392, modes: 392 * 10 * 794)).decision == .collecting)
    }

    @Test func overAmplifyingClientIsAborted() throws {
        let eps = (2 - 2 / 6.0) / 392
        #expect(try check.assess(estimate(t: 1, eps: eps, modes: 1e5)).decision == .collecting)
        let a = try check.assess(estimate(t: 1, eps: eps, modes: 1e9))
        #expect(a.decision == .abort)
        #expect(a.reason.contains("exceeds the budget"))
    }

    @Test func interceptResendIsAbortedAlmostAtOnce() throws {
        let a = try check.assess(estimate(t: 1, eps: 2 + 1.0 / 392, modes: 1e4))
        #expect(a.decision == .abort)
    }

    @Test func lossyChannelIsAbortedWhenResolved() throws {
        #expect(try check.assess(estimate(t: 0.995, eps: 1.0 / 392, modes: 1e9)).decision == .abort)
    }
}
