import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// The IQ modulator's transfer (PROTOCOL.md §8, docs/hardware.md §6.1) seen through the power meter.
@Suite("Modulator transfer")
struct ModulatorTransferTests {
    /// Sweep the I arm's static drive over ±9 V (181 points, 10 ms averaging each) with the Q arm
    /// at null and the outer phase at 0: every reading matches the hidden-constant transfer within
    /// 5 σ of the meter noise, and the sweep-and-fit of docs/hardware.md §6.1
    /// (P ≈ a0 + a1 cos(πV/Vπ) + a2 sin(πV/Vπ), grid over Vπ) recovers the hidden Vπ within 0.2 %
    /// and the bias phase θ = 2(πV_b/(2Vπ) + φ0) within 0.01 rad.
    @Test func powerMeterFollowsCosineSquaredWithHiddenVPiAndBias() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: 51, constants: TestBench.frozen))
        let meter = try bench.powerMeter(), modulator = try bench.modulator(), laser = try bench.laser()
        try await meter.setWavelength(.nanometres(1550))
        try await meter.zero()                               // in the dark: laser off
        try await laser.setCurrent(.milliamperes(60))
        try await laser.setEmission(true)
        try await bench.attenuator().setAttenuation(Decibels(0))
        let t = engine.truth, phases = engine.truePhases
        let biasQ = TruthEncoder(engine: engine).operatingBiases.q
        let phaseBias = -phases.modulator[.phase]! * t.modulator.phase.vPi.si / .pi     // θ = 0
        try await modulator.setBias(.q, biasQ)
        try await modulator.setBias(.phase, .volts(phaseBias))
        try await modulator.setBias(.i, .volts(0))

        let volts = (0...180).map { -9 + 0.1 * Double($0) }
        var readings: [Double] = []
        for v in volts {
            try await modulator.setStaticDrive(i: .volts(v), q: .volts(0))
            readings.append(try await meter.readPower(averaging: .milliseconds(10)).si)
        }
        // Readings against the forward model.
        let peak = t.laser.slopeEfficiency.si * (0.06 - t.laser.thresholdCurrent.si) * pow(10, -t.modulator.insertionLoss.dB / 10)
            * pow(10, -t.tap.attenuatorOffset.dB / 10) * t.tap.fraction
        let correction = (1 + t.tap.responsivityError) * (1 + t.tap.responsivitySlope * (t.laser.wavelength.si - 1550e-9))
        let sigma = t.tap.noise.si / 0.01.squareRoot()
        for (v, p) in zip(volts, readings) {
            let f = Forward.field(t, phases, driveI: v, driveQ: 0, biasI: 0, biasQ: biasQ.si, biasPhase: phaseBias)
            let expected = peak * f.lengthSquared * correction
            #expect(abs(p - expected) < 5 * sigma * 1.05 + 1e-9 * expected, "V = \(v): \(p) W vs \(expected) W")
        }
        // Sweep-and-fit.
        var best = (residual: Double.infinity, vPi: 0.0, theta: 0.0)
        for step in 0...3000 {
            let vPi = 3.0 + 0.001 * Double(step)
            let fit = linearFit(volts.map { [1, cos(.pi * $0 / vPi), sin(.pi * $0 / vPi)] }, readings)
            if fit.residual < best.residual { best = (fit.residual, vPi, atan2(-fit.coefficients[2], fit.coefficients[1])) }
        }
        #expect(abs(best.vPi / t.modulator.i.vPi.si - 1) < 0.002, "fitted Vπ \(best.vPi) vs hidden \(t.modulator.i.vPi.si)")
        let theta = 2 * phases.modulator[.i]!
        let difference = remainder(best.theta - theta, 2 * .pi)
        #expect(abs(difference) < 0.01, "fitted bias phase \(best.theta) vs hidden \(theta)")
    }

    /// Least squares y ≈ X c (normal equations; 3 columns).
    func linearFit(_ x: [[Double]], _ y: [Double]) -> (coefficients: [Double], residual: Double) {
        let p = x[0].count
        var a = [[Double]](repeating: [Double](repeating: 0, count: p + 1), count: p)
        for (row, v) in zip(x, y) {
            for i in 0..<p {
                for j in 0..<p { a[i][j] += row[i] * row[j] }
                a[i][p] += row[i] * v
            }
        }
        for i in 0..<p {
            let pivot = a[i][i]
            for j in i...p { a[i][j] /= pivot }
            for k in 0..<p where k != i {
                let f = a[k][i]
                for j in i...p { a[k][j] -= f * a[i][j] }
            }
        }
        let c = (0..<p).map { a[$0][p] }
        var r = 0.0
        for (row, v) in zip(x, y) {
            let e = v - zip(row, c).reduce(0) { $0 + $1.0 * $1.1 }
            r += e * e
        }
        return (c, r)
    }
}
