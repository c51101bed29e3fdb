import Foundation
import Testing
@testable import SecureInference

@Suite("Leakage bounds (PROTOCOL.md §5)")
struct LeakageTests {
    /// PROTOCOL.md's reference values (rounded there to the digits shown) and the same formulas
    /// evaluated independently in double precision (Python 3, math module) for the 1e-4 check.
    static let weightReferences: [(gain: Double, mu: Double, rounded: Double, digits: Double, precise: Double)] = [
        (2, 1, 0.026, 1e-3, 0.025602218739100742),
        (2, 2, 0.048, 1e-3, 0.04765188801902523),
        (2, 4, 0.087, 1e-3, 0.08738484369497419),
        (2, 10, 0.189, 1e-3, 0.1892442865684305),
        (1.3, 6, 0.065, 1e-3, 0.06508296928693498),
    ]

    @Test(arguments: weightReferences.indices)
    func weightLeakageReproducesReferenceValues(index: Int) throws {
        let r = Self.weightReferences[index]
        let s = try LeakageSummary(gain: r.gain, photonsPerMode: r.mu)
        #expect(abs(s.weightLeakageBitsPerMode - r.precise) < 1e-4)
        #expect(abs(s.weightLeakageBitsPerMode - r.rounded) <= r.digits / 2 + 1e-12)
        #expect(s.weightLeakageBitsPerWeight == s.weightLeakageBitsPerMode / 2)
    }

    @Test func perRealWeightAtG13() throws {
        let s = try LeakageSummary(gain: 1.3, photonsPerMode: 6)
        #expect(abs(s.weightLeakageBitsPerWeight - 0.033) < 5e-4)
    }

    @Test func dataLeakageReferenceValues() throws {
        let g2 = try ClientAmplifier(gain: 2), g13 = try ClientAmplifier(gain: 1.3)
        #expect(abs(try DataLeakage.cramerRaoBits(amplifier: g2, modesPerRow: 392) - 7.3e-3) < 1e-4)
        #expect(abs(try DataLeakage.cramerRaoBits(amplifier: g13, modesPerRow: 392) - 1.6e-3) < 1e-4)
        #expect(abs(try DataLeakage.conservativeBits(amplifier: g13, modesPerRow: 784, innerProducts: 784) - 0.098) < 5e-4)
    }

    @Test func clientSNRFactorReferenceValues() throws {
        #expect(abs(try ClientAmplifier(gain: 1.3).snrFactor - 0.264) < 5e-4)
        #expect(try ClientAmplifier(gain: 2).snrFactor == 0.5)
        let best = try ClientAmplifier(gain: ClientAmplifier.optimalGain).snrFactor
        #expect(abs(best - 0.547) < 5e-4)
        for g in stride(from: 1.05, through: 20, by: 0.05) { #expect(try ClientAmplifier(gain: g).snrFactor <= best + 1e-12) }
        #expect(abs(try ClientAmplifier(gain: 1.3).addedNoise - 0.46) < 5e-3)
    }

    @Test func entropyFunctionIsZeroAtVacuumAndNeverNaN() throws {
        #expect(try vonNeumannEntropy(symplecticEigenvalue: 1) == 0)
        #expect(try vonNeumannEntropy(symplecticEigenvalue: 1 - 1e-12) == 0)
        // h(3) = 2 log2 2 − 1 log2 1 = 2.
        #expect(abs(try vonNeumannEntropy(symplecticEigenvalue: 3) - 2) < 1e-14)
        #expect(throws: ProtocolDomainError.self) { try vonNeumannEntropy(symplecticEigenvalue: 0.9) }
    }

    /// The whole physical domain on a log grid, edges included: finite, non-negative, and
    /// monotone (more noise or more loss never leaks less).
    @Test func weightLeakageIsFiniteAndMonotoneOnThePhysicalDomain() throws {
        let mus = [1e-6, 1e-3, 0.1, 1, 4, 100, 1e4, 1e7]
        let ts = [1e-9, 1e-4, 0.1, 0.5, 0.9, 0.9995, 1 - 1e-12, 1]
        let eps = [0, 1e-12, 1e-6, 2.55e-3, 0.1, 1, 10, 1e3]
        for mu in mus {
            for t in ts {
                var previous = -1.0
                for e in eps {
                    let i = try WeightLeakage.bitsPerMode(photonsPerMode: mu, transmittance: t, excessNoise: e)
                    #expect(i.isFinite && i >= 0, "μ=\(mu) T=\(t) ε=\(e) gives \(i)")
                    #expect(i >= previous - 1e-8 * max(1, previous), "not monotone in ε at μ=\(mu) T=\(t) ε=\(e)")
                    previous = i
                }
            }
        }
        let lossy = try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 0.99, excessNoise: 2.55e-3)
        let lossless = try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1, excessNoise: 2.55e-3)
        #expect(lossy > lossless)
        // No excess noise and no loss: the client can learn nothing.
        #expect(try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1, excessNoise: 0) < 1e-9)
    }

    @Test(arguments: [
        (0.0, 1.0, 0.0), (-1, 1, 0), (4, 0, 0), (4, 1.0001, 0), (4, -0.5, 0), (4, 1, -1e-3), (.nan, 1, 0), (4, .nan, 0), (4, 1, .infinity),
    ] as [(Double, Double, Double)])
    func badArgumentsGetClearErrors(mu: Double, t: Double, eps: Double) {
        #expect(throws: ProtocolDomainError.self) { try WeightLeakage.bitsPerMode(photonsPerMode: mu, transmittance: t, excessNoise: eps) }
    }

    @Test(arguments: [1.0, 0.5, -2, .nan, .infinity])
    func gainMustExceedOne(g: Double) {
        #expect(throws: ProtocolDomainError.self) { try ClientAmplifier(gain: g) }
        #expect(throws: ProtocolDomainError.self) { try LeakageSummary(gain: g, photonsPerMode: 4) }
    }

    @Test func errorMessageNamesParameterAndDomain() {
        do {
            _ = try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1.2, excessNoise: 0)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("transmittance T = 1.2"))
            #expect(error.description.contains("0 < T ≤ 1"))
        }
    }

    /// PROTOCOL.md §5b: at G = 2, μ = 4, n = 392 the budget 0.1 bit/mode is reached when ε rises by
    /// about 4.5e-4 SNU, or when T falls to about 0.9995.
    @Test func marginsOfTheWorkedExample() throws {
        let honest = 1.0 / 392
        func solve(_ f: (Double) throws -> Double, _ lo: Double, _ hi: Double) rethrows -> Double {
            var (a, b) = (lo, hi)
            for _ in 0..<100 { let m = (a + b) / 2; if try f(m) < 0.1 { a = m } else { b = m } }
            return (a + b) / 2
        }
        let epsAtBudget = try solve({ try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1, excessNoise: $0) }, honest, 0.01)
        #expect(abs((epsAtBudget - honest) - 4.5e-4) < 0.3e-4)
        let tAtBudget = try solve({ try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1 - $0, excessNoise: honest) }, 0, 0.01)
        #expect(abs((1 - tAtBudget) - 0.9995) < 1e-4)
    }

    @Test func gradientMatchesFiniteDifferenceSigns() throws {
        let g = try WeightLeakage.gradient(photonsPerMode: 4, transmittance: 1, excessNoise: 2.55e-3)
        #expect(g.dEpsilon > 0)
        #expect(g.dT < 0)
        #expect(g.dMu > 0)
        let i0 = try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1, excessNoise: 2.55e-3)
        let i1 = try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1, excessNoise: 2.65e-3)
        #expect(abs((i1 - i0) / 1e-4 - g.dEpsilon) / g.dEpsilon < 0.01)
    }
}
