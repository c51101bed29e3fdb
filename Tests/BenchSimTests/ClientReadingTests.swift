import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// The client's reading (PROTOCOL.md §3.3): mean 2√(G−1) Re β, variance (2G² − 3G + 2)/G.
@Suite("Client readings")
struct ClientReadingTests {
    static let xi: [ComplexSymbol] = [.init(0.5, 0), .init(0, 0.5), .init(-0.5, 0), .init(0.3, 0.4)]
    static let fields: [Complex<Double>] = [.init(0.3, 0.1), .init(-0.2, 0.25), .init(0.1, -0.35), .init(0.4, 0.0)]

    /// 1000 rows × 1000 shots = 1e6 readings, ideal client receiver aligned with the arriving light.
    @Test(arguments: [1.3, 2.0, 2 + 2.0.squareRoot(), 3.0])
    func readingMeanAndVarianceFollowTheAmplifier(gain: Double) async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: 21))
        let scale = 3.0
        try await TestBench.start(bench, engine: engine, attenuation: TestBench.attenuation(engine, scale: scale), path: .client)
        try await bench.amplifier().setGain(gain)
        try await bench.splitter().setKeptFraction(1 - 1 / gain)
        let rows = 1000, shots = 1000
        let layout = FrameLayout(rows: rows, modesPerRow: 4, vacuumSlotsPerRow: 0)
        let encoder = TruthEncoder(engine: engine)
        let d = encoder.drives(for: Array((0..<rows).map { _ in Self.fields }.joined()))
        try await bench.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        try await bench.clientProcessor().program([[ComplexSymbol]](repeating: Self.xi, count: shots), layout: layout)
        let phases = engine.truePhases
        let client = try bench.receiver(.clientReceiver)
        try await client.setLocalOscillatorPhase(.radians(phases.linkForward - phases.localOscillator[.clientReceiver]!))
        try await client.arm(shots: shots)
        try await bench.trigger().fire(shots: shots)
        let readings = try await client.fetch(timeout: .seconds(10)).volts
        #expect(readings.count == rows * shots)

        let t = engine.truth
        let g = t.clientReceiver.shotNoiseVariance(loPower: engine.deliveredLocalOscillatorPower(.clientReceiver)).squareRoot()
        let a = Forward.fieldScale(t, current: 0.06, attenuation: try await bench.attenuator().attenuation().dB, symbolRate: 1e9)
        let b = (try await bench.modulator().bias(.i).si, try await bench.modulator().bias(.q).si, try await bench.modulator().bias(.phase).si)
        var beta = Complex<Double>.zero
        for j in 0..<4 {
            let f = Forward.field(t, phases, driveI: Double(d.i[j]), driveQ: Double(d.q[j]), biasI: b.0, biasQ: b.1, biasPhase: b.2)
            beta = beta + Complex(Double(Self.xi[j].re), -Double(Self.xi[j].im)) * f * Complex(a)
        }
        let m = groupedMoments(readings, groups: 1, group: { _ in 0 }) { $0 / g }[0]
        let meanExpected = 2 * (gain - 1).squareRoot() * beta.real
        let varianceExpected = (2 * gain * gain - 3 * gain + 2) / gain
        #expect(abs(m.mean - meanExpected) < 5 * m.standardError, "mean \(m.mean) vs 2√(G−1) Re β = \(meanExpected)")
        #expect(abs(m.variance - varianceExpected) < varianceTolerance(varianceExpected, count: m.count),
                "variance \(m.variance) vs (2G²−3G+2)/G = \(varianceExpected)")
    }
}
