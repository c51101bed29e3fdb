import Foundation
import NumericsKit
import Testing
@testable import Calibrate

@Suite("Fitting")
struct FittingTests {
    /// The cos² transfer of a Mach–Zehnder arm: 300 noisy sweeps, each fitted; the fitted Vπ is
    /// unbiased and its 1σ interval covers the truth in 68 % ± 8 % (3 binomial σ) of sweeps.
    @Test func cosSquaredFitRecoversVpiWithCalibratedUncertainty() throws {
        let truth = (a: 1.0e-3, vpi: 3.7, phi: 0.3, c: 2e-5)
        let model: (Double, [Double]) -> Double = { v, p in p[0] * pow(cos(Double.pi * v / (2 * p[1]) + p[2]), 2) + p[3] }
        let volts = stride(from: -8.0, through: 8.0, by: 0.25).map { $0 }
        var rng = Xoshiro256(seed: 3)
        let g = Gaussian.Sampler()
        var covered = 0
        var errors = RunningMoments()
        let trials = 300
        for _ in 0..<trials {
            let y = volts.map { model($0, [truth.a, truth.vpi, truth.phi, truth.c]) + 1e-6 * g.next(&rng) }
            let fit = try nonlinearFit(x: volts, y: y, sigmas: volts.map { _ in 1e-6 }, initial: [0.8e-3, 3.5, 0.2, 0]) { model($0, $1) }
            let e = fit.parameters[1] - truth.vpi
            errors.add(e)
            if abs(e) <= fit.standardError(1) { covered += 1 }
        }
        let rate = Double(covered) / Double(trials)
        #expect(abs(rate - 0.6827) < 3 * (0.6827 * 0.3173 / Double(trials)).squareRoot())
        #expect(abs(errors.mean) < 4 * errors.standardError)
    }

    @Test func linearFitSlopeAndUncertainty() throws {
        var rng = Xoshiro256(seed: 4)
        let g = Gaussian.Sampler()
        let x = (0..<200).map { Double($0) / 10 }
        let y = x.map { 0.5 + 2 * $0 + 0.1 * g.next(&rng) }
        let fit = try linearFit(x: x, y: y, basis: [{ _ in 1 }, { $0 }])
        #expect(abs(fit.parameters[1] - 2) < 5 * fit.standardError(1))
        #expect(fit.standardError(1) > 0.001 && fit.standardError(1) < 0.01)
        #expect(abs(fit.reducedChiSquare - 0.01) < 0.004)
    }

    @Test func degenerateAndShortSweepsAreExplained() {
        #expect(throws: FitError.tooFewPoints(points: 2, parameters: 2)) { try linearFit(x: [1, 2], y: [1, 2], basis: [{ _ in 1 }, { $0 }]) }
        #expect(throws: FitError.self) { try linearFit(x: [1, 1, 1], y: [1, 2, 3], basis: [{ _ in 1 }, { $0 }]) }
    }
}
