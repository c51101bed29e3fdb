import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// Returned light (PROTOCOL.md §3.4): mode j comes back with mean √T_back(√T_fwd α_j e^{iφ}) and
/// per-quadrature variance 1 + T_back g |ξ_j|², g = 2 − 2/G; checked mode by mode on a structured ξ
/// with 4e6 samples (500,000 per mode and quadrature), tolerances 5 standard errors.
@Suite("Returned light")
struct ReturnedLightTests {
    static func check(_ e: ReturnedLightExperiment, k: Double, excessPerWeight: Double, extra: Double = 0, comment: String) {
        for j in 0..<4 {
            for q in 0..<2 {
                let m = e.moments[2 * j + q]
                let mean = e.expectedMean(mode: j, quadrature: q, k: k)
                let variance = 1 + extra + excessPerWeight * ReturnedLightExperiment.weights[j]
                #expect(abs(m.mean - mean) < 5 * m.standardError, "\(comment): mode \(j) \(q == 0 ? "X" : "P") mean \(m.mean) vs \(mean)")
                #expect(abs(m.variance - variance) < varianceTolerance(variance, count: m.count),
                        "\(comment): mode \(j) \(q == 0 ? "X" : "P") variance \(m.variance) vs \(variance)")
            }
        }
    }

    @Test(arguments: [1.3, 2.0])
    func honestClientAddsGTimesXiSquaredPerMode(gain: Double) async throws {
        let e = try await ReturnedLightExperiment.run(seed: 31, gain: gain)
        Self.check(e, k: 1, excessPerWeight: 2 - 2 / gain, comment: "G = \(gain)")
    }

    /// Link loss in dB (forward, back): the mean scales by √(T_fwd T_back), the client's noise by T_back.
    @Test(arguments: [(0.0, 0.0), (1.0, 0.0), (0.0, 2.0), (1.5, 1.5)])
    func lossScalesMeanAndNoise(forward: Double, back: Double) async throws {
        let e = try await ReturnedLightExperiment.run(seed: 32, constants: ["link": ["loss-forward": "\(forward) dB", "loss-back": "\(back) dB"]], gain: 2)
        let tBack = pow(10, -back / 10)
        Self.check(e, k: 1, excessPerWeight: tBack * 1.0, comment: "loss \(forward)/\(back) dB")
        // The expected means carry √T_fwd √T_back: compare with the lossless amplitudes explicitly.
        let lossless = e.arrival[3].length / pow(10, -forward / 20)
        let measured = Complex(e.moments[6].mean / 2, e.moments[7].mean / 2).length
        #expect(abs(measured / lossless - pow(10, -(forward + back) / 20)) < 0.01)
    }

    /// An amplifier with n_sp = 2 at G = 2: returned noise (1 − r) 2 n_sp (G − 1)|ξ_j|² = 2|ξ_j|²;
    /// reading variance r(G + (G − 1)(2n_sp − 1)) + 1 − r = 3 (1e6 readings).
    @Test func spontaneousEmissionFactorAboveOne() async throws {
        let e = try await ReturnedLightExperiment.run(seed: 33, constants: ["client.amplifier": ["nsp": "2"]], gain: 2, recordClient: true)
        Self.check(e, k: 1, excessPerWeight: 2, comment: "n_sp = 2")
        let r = try #require(e.readings)
        #expect(r.count == 1_000_000)
        #expect(abs(r.variance - 3) < varianceTolerance(3, count: r.count), "reading variance \(r.variance)")
    }
}

/// The attacks of PROTOCOL.md §7 as twin behaviours of the client optics.
@Suite("Client attacks")
struct AttackTests {
    /// Greedy tap r = 0.8 at G = 2: mode 1 returns √((1 − r)G) β = 0.63 β, so the returned mean
    /// along ξ shrinks; noise (1 − r)(2G − 2)|ξ_j|² = 0.4|ξ_j|².
    @Test func greedyTapLowersTheReturnedMeanAlongXi() async throws {
        let e = try await ReturnedLightExperiment.run(seed: 41, client: "greedy-tap:0.8", gain: 2)
        let k = (0.2 * 2.0).squareRoot()
        ReturnedLightTests.check(e, k: k, excessPerWeight: 0.4, comment: "greedy tap")
        // Projection of the measured means on ξ: k β (through the return link), not β.
        var projection = Complex<Double>.zero
        for j in 0..<4 {
            let x = Complex(Double(ReturnedLightExperiment.xi[j].re), -Double(ReturnedLightExperiment.xi[j].im))
            projection = projection + x * Complex(e.moments[2 * j].mean / 2, e.moments[2 * j + 1].mean / 2)
        }
        let honest = (e.back * e.beta).length
        #expect(honest > 1)
        #expect(abs(projection.length / honest - k) < 0.02, "returned projection \(projection.length) vs honest \(honest)")
    }

    /// Over-amplification G' = 4 (split 1 − 1/G'): mean unbiased, noise (2 − 2/G')|ξ_j|² = 1.5|ξ_j|².
    @Test func overAmplificationAddsNoiseWithoutBias() async throws {
        let e = try await ReturnedLightExperiment.run(seed: 42, client: "over-amplify:4", gain: 2)
        ReturnedLightTests.check(e, k: 1, excessPerWeight: 1.5, comment: "over-amplify")
    }

    /// Intercept-resend: +2 SNU on every mode, means preserved, plus the honest g|ξ_j|².
    @Test func interceptResendAddsTwoShotNoiseUnits() async throws {
        let e = try await ReturnedLightExperiment.run(seed: 43, client: "intercept-resend", gain: 2)
        ReturnedLightTests.check(e, k: 1, excessPerWeight: 1, extra: 2, comment: "intercept-resend")
    }
}
