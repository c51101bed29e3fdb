import Foundation
import Numerics
import NumericsKit
import Testing
@testable import SecureInference

/// Monte-Carlo check of PROTOCOL.md §3.3 in phase space, independent of the closed forms: Wigner
/// quadratures of mode 1 (coherent, mean 2 Re β / 2 Im β, variance 1) through the amplifier
/// X → √G X_a + √(G−1) X_b, P → √G P_a − √(G−1) P_b (b in vacuum), then a beam splitter that keeps r.
@Suite("Client operations (PROTOCOL.md §3)")
struct ClientOperationTests {
    struct Sampled { var reading = RunningMoments(); var returnedX = RunningMoments(); var returnedP = RunningMoments() }

    func sample(gain g: Double, kept r: Double, beta: Complex<Double>, count: Int, seed: UInt64) -> Sampled {
        var rng = Xoshiro256(seed: seed)
        let n = Gaussian.Sampler()
        var out = Sampled()
        for _ in 0..<count {
            let xa = 2 * beta.real + n.next(&rng), pa = 2 * beta.imaginary + n.next(&rng)
            let xb = n.next(&rng), pb = n.next(&rng)
            let xo = g.squareRoot() * xa + (g - 1).squareRoot() * xb
            let po = g.squareRoot() * pa - (g - 1).squareRoot() * pb
            let xv = n.next(&rng), pv = n.next(&rng)
            out.reading.add(r.squareRoot() * xo + (1 - r).squareRoot() * xv)
            out.returnedX.add((1 - r).squareRoot() * xo - r.squareRoot() * xv)
            out.returnedP.add((1 - r).squareRoot() * po - r.squareRoot() * pv)
        }
        return out
    }

    /// 1e6 samples per case; tolerances are 5 standard errors of the mean and of the variance.
    @Test(arguments: [1.3, 2.0, 3.4142, 6.0])
    func honestClientReadingAndReturnedMode(gain: Double) throws {
        let amp = try ClientAmplifier(gain: gain)
        let m = ClientMeasurement(amplifier: amp)
        let beta = Complex(0.8, -0.3)
        let n = 1_000_000
        let s = sample(gain: gain, kept: amp.keptFraction, beta: beta, count: n, seed: UInt64(gain * 1000))
        let v = m.readingVariance
        #expect(abs(v - (2 * gain * gain - 3 * gain + 2) / gain) < 1e-12)
        #expect(abs(s.reading.mean - m.readingScale * beta.real) < 5 * (v / Double(n)).squareRoot())
        #expect(abs(s.reading.variance - v) < 5 * v * (2 / Double(n)).squareRoot())
        // Returned: mean exactly β again, variance 1 + g.
        let vr = 1 + amp.addedNoise
        #expect(abs(m.returnedTransmittance - 1) < 1e-12)
        #expect(abs(m.returnedExcessNoise - amp.addedNoise) < 1e-12)
        #expect(abs(s.returnedX.mean - 2 * beta.real) < 5 * (vr / Double(n)).squareRoot())
        #expect(abs(s.returnedP.mean - 2 * beta.imaginary) < 5 * (vr / Double(n)).squareRoot())
        #expect(abs(s.returnedX.variance - vr) < 5 * vr * (2 / Double(n)).squareRoot())
        #expect(abs(s.returnedP.variance - vr) < 5 * vr * (2 / Double(n)).squareRoot())
    }

    @Test func greedyTapClosedFormsMatchPhaseSpace() throws {
        let m = try ClientMeasurement(gain: 2, keptFraction: 0.9)
        let beta = Complex(1.1, 0.4)
        let n = 1_000_000
        let s = sample(gain: 2, kept: 0.9, beta: beta, count: n, seed: 77)
        #expect(abs(s.reading.mean - m.readingScale * beta.real) < 5 * (m.readingVariance / Double(n)).squareRoot())
        #expect(abs(s.reading.variance - m.readingVariance) < 5 * m.readingVariance * (2 / Double(n)).squareRoot())
        let vr = 1 + m.returnedExcessNoise
        #expect(abs(s.returnedX.mean - 2 * m.returnedTransmittance.squareRoot() * beta.real) < 5 * (vr / Double(n)).squareRoot())
        #expect(abs(s.returnedX.variance - vr) < 5 * vr * (2 / Double(n)).squareRoot())
    }

    @Test(arguments: [1.3, 2.0, 5.0])
    func snrIsFofGTimesFourReBetaSquared(gain: Double) throws {
        let amp = try ClientAmplifier(gain: gain)
        let m = ClientMeasurement(amplifier: amp)
        let reBeta = 0.7
        let snr = pow(m.readingScale * reBeta, 2) / m.readingVariance
        #expect(abs(snr - amp.snrFactor * 4 * reBeta * reBeta) < 1e-12)
    }
}

@Suite("Encoding (PROTOCOL.md §2–3)")
struct EncodingTests {
    func randomMatrix(rows: Int, cols: Int, seed: UInt64) -> Matrix {
        var rng = Xoshiro256(seed: seed)
        return Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in Float(rng.nextUnit() - 0.5) })
    }

    @Test(arguments: [784, 7])
    func layerScalingGivesMuPhotonsPerModeOnAverage(inputs: Int) throws {
        let w = randomMatrix(rows: 5, cols: inputs, seed: 3)
        let layer = try EncodedLayer(weights: w, photonsPerMode: 4)
        #expect(layer.modesPerRow == (inputs + 1) / 2)
        let mean = (0..<5).map { layer.meanPhotons(row: $0) }.reduce(0, +) / 5
        #expect(abs(mean - 4) < 1e-9)
    }

    /// Re β = √μ (w·x̂)/rms_c, whatever the input's scale.
    @Test func projectionIsTheScaledInnerProduct() throws {
        let w = randomMatrix(rows: 3, cols: 11, seed: 4)
        let layer = try EncodedLayer(weights: w, photonsPerMode: 2.5)
        var rng = Xoshiro256(seed: 9)
        let z = (0..<11).map { _ in Float(rng.nextUnit() * 3 - 1) }
        let xi = ClientEncoding.symbols(z)
        #expect(abs(xi.reduce(0) { $0 + $1.lengthSquared } - 1) < 1e-12)
        let norm = z.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        for r in 0..<3 {
            let beta = ClientEncoding.projection(symbols: xi, amplitudes: layer.amplitudes(row: r))
            var dot = 0.0
            for k in 0..<11 { dot += Double(w[r, k]) * Double(z[k]) / norm }
            #expect(abs(beta.real - layer.amplitudeScale * dot) < 1e-9)
        }
    }

    /// The inner-product estimate is unbiased with standard deviation rms_w/√F (F = 2μ f(G)):
    /// sampled through the explicit per-mode path, 200k readings.
    @Test func innerProductEstimateIsUnbiasedWithNoiseRmsOverSqrtF() throws {
        let w = randomMatrix(rows: 1, cols: 784, seed: 12)
        let layer = try EncodedLayer(weights: w, photonsPerMode: 4)
        let amp = try ClientAmplifier(gain: 2)
        let m = ClientMeasurement(amplifier: amp)
        var rng = Xoshiro256(seed: 13)
        let z = (0..<784).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let beta = ClientEncoding.projection(symbols: ClientEncoding.symbols(z), amplitudes: layer.amplitudes(row: 0))
        let sampler = Gaussian.Sampler()
        var est = RunningMoments()
        for _ in 0..<200_000 {
            let reading = m.readingScale * beta.real + m.readingVariance.squareRoot() * sampler.next(&rng)
            est.add(m.innerProductEstimate(reading: reading, layer: layer))
        }
        let norm = z.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        var dot = 0.0
        for k in 0..<784 { dot += Double(w[0, k]) * Double(z[k]) / norm }
        let expectedSigma = rms(w) / amp.inferenceSNR(photonsPerMode: 4).squareRoot()
        #expect(abs(m.innerProductNoise(layer: layer) - expectedSigma) < 1e-9 * expectedSigma)
        #expect(abs(est.mean - dot) < 5 * expectedSigma / 200_000.0.squareRoot())
        #expect(abs(est.standardDeviation / expectedSigma - 1) < 5 * (0.5 / 200_000.0).squareRoot())
    }
}
