import Foundation
import Testing
@testable import NumericsKit

@Suite("Gaussian sampler")
struct GaussianTests {
    /// 4e6 draws: mean, variance, skewness, kurtosis and tail masses against N(0,1), with
    /// tolerances of 5 standard errors of each estimator.
    @Test func momentsAndTailsMatchStandardNormal() {
        let n = 4_000_000
        var rng = Xoshiro256(seed: 12345)
        let sampler = Gaussian.Sampler()
        var s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0
        var beyond2 = 0, beyond3 = 0, beyondR = 0
        for _ in 0..<n {
            let x = sampler.next(&rng)
            let x2 = x * x
            s1 += x; s2 += x2; s3 += x2 * x; s4 += x2 * x2
            if abs(x) > 2 { beyond2 += 1 }
            if abs(x) > 3 { beyond3 += 1 }
            if abs(x) > Gaussian.r { beyondR += 1 }
        }
        let nd = Double(n)
        #expect(abs(s1 / nd) < 5 * (1 / nd).squareRoot())
        #expect(abs(s2 / nd - 1) < 5 * (2 / nd).squareRoot())
        #expect(abs(s3 / nd) < 5 * (15 / nd).squareRoot())
        #expect(abs(s4 / nd - 3) < 5 * (96 / nd).squareRoot())
        for (count, threshold) in [(beyond2, 2.0), (beyond3, 3.0), (beyondR, Gaussian.r)] {
            let p = 2 * Normal.survival(threshold)
            let observed = Double(count) / nd
            #expect(abs(observed - p) < 5 * (p * (1 - p) / nd).squareRoot(), "tail beyond \(threshold)")
        }
    }

    /// Kolmogorov–Smirnov distance of 200k draws to Φ: below the 0.1 % critical value 1.95/√n.
    @Test func kolmogorovSmirnovAgainstNormalCDF() {
        let n = 200_000
        var rng = Xoshiro256(seed: 7)
        let sampler = Gaussian.Sampler()
        var xs = (0..<n).map { _ in sampler.next(&rng) }
        xs.sort()
        var d = 0.0
        for (i, x) in xs.enumerated() {
            let f = Normal.cdf(x)
            d = max(d, abs(f - Double(i) / Double(n)), abs(Double(i + 1) / Double(n) - f))
        }
        #expect(d < 1.95 / Double(n).squareRoot())
    }

    @Test func sameSeedSameStreamDifferentStreamsDiffer() {
        var a = Xoshiro256(seed: 1, stream: 3), b = Xoshiro256(seed: 1, stream: 3), c = Xoshiro256(seed: 1, stream: 4)
        let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }, xc = (0..<8).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
    }
}

@Suite("Normal distribution")
struct NormalTests {
    @Test(arguments: [1e-12, 1e-6, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999])
    func quantileInvertsCDF(p: Double) {
        let x = Normal.quantile(p)
        #expect(abs(Normal.cdf(x) - p) <= 1e-13 * max(1, p / 1e-3) || abs(Normal.cdf(x) / p - 1) < 1e-9)
    }

    @Test func knownQuantiles() {
        #expect(abs(Normal.quantile(0.975) - 1.959963984540054) < 1e-12)
        #expect(abs(Normal.quantile(0.999) - 3.090232306167814) < 1e-12)
        #expect(Normal.quantile(0.5) == 0 || abs(Normal.quantile(0.5)) < 1e-15)
    }
}

@Suite("Running moments")
struct RunningMomentsTests {
    @Test func mergeEqualsSequential() {
        var rng = Xoshiro256(seed: 99)
        let xs = (0..<10_001).map { _ in rng.nextUnit() * 10 - 3 }
        var all = RunningMoments(); xs.forEach { all.add($0) }
        var a = RunningMoments(), b = RunningMoments()
        xs[..<4000].forEach { a.add($0) }; xs[4000...].forEach { b.add($0) }
        a.merge(b)
        #expect(a.count == all.count)
        #expect(abs(a.mean - all.mean) < 1e-12)
        #expect(abs(a.variance - all.variance) < 1e-10)
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count - 1)
        #expect(abs(all.variance - variance) < 1e-9)
    }
}

@Suite("Matrix multiplication")
struct MatrixTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveProduct(ta: Bool, tb: Bool) {
        var rng = Xoshiro256(seed: 5)
        let (m, k, n) = (7, 13, 5)
        let a = Matrix(rows: ta ? k : m, cols: ta ? m : k, values: (0..<(m * k)).map { _ in Float(rng.nextUnit() - 0.5) })
        let b = Matrix(rows: tb ? n : k, cols: tb ? k : n, values: (0..<(k * n)).map { _ in Float(rng.nextUnit() - 0.5) })
        let c = matmul(a, transposeA: ta, b, transposeB: tb)
        let opA = ta ? a.transposed : a, opB = tb ? b.transposed : b
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for l in 0..<k { s += opA[i, l] * opB[l, j] }
            #expect(abs(c[i, j] - s) < 1e-5)
        } }
    }
}
