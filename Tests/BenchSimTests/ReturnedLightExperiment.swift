import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit

/// A client-path experiment with structured ξ (|ξ_j|² = 0.1, 0.2, 0.3, 0.4, distinct phases):
/// `rows` inner products of 4 modes per shot, the same coherent states in every row, even rows
/// measured on X and odd rows on P by an ideal server receiver whose LO angle is 0 in the
/// transmitter frame. Gives per (mode, quadrature) the moments of the samples in SNU and the
/// expected mean from the hidden constants.
struct ReturnedLightExperiment {
    static let weights = [0.1, 0.2, 0.3, 0.4]
    static let angles = [0.0, 0.7, 2.0, -1.2]
    static var xi: [ComplexSymbol] {
        (0..<4).map { ComplexSymbol(Float(weights[$0].squareRoot() * cos(angles[$0])), Float(weights[$0].squareRoot() * sin(angles[$0]))) }
    }
    static let fields: [Complex<Double>] = [.init(0.3, 0.1), .init(-0.2, 0.25), .init(0.1, -0.35), .init(0.4, 0.0)]

    /// moments[2j] (X) and moments[2j + 1] (P) of mode j, in SNU.
    var moments: [RunningMoments]
    /// Expected returned amplitude of each mode at the receiver input for a return amplitude k of mode 1.
    var arrival: [Complex<Double>]
    var beta: Complex<Double>
    var back: Complex<Double>
    /// Client readings in SNU (when recorded).
    var readings: RunningMoments?
    var engine: SimulationEngine

    func expectedMean(mode j: Int, quadrature q: Int, k: Double) -> Double {
        let x = Complex(Double(Self.xi[j].re), Double(Self.xi[j].im))
        let r = back * (arrival[j] + Complex(k - 1) * beta * x)
        return q == 0 ? 2 * r.real : 2 * r.imaginary
    }

    static func run(seed: UInt64, constants: [String: [String: String]] = [:], client: String = "honest",
                    gain: Double, kept: Double? = nil, rows: Int = 5000, shots: Int = 200, recordClient: Bool = false) async throws -> ReturnedLightExperiment {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: seed, client: client, constants: TestBench.merge(TestBench.ideal, constants)))
        let scale = 3.0
        try await TestBench.start(bench, engine: engine, attenuation: TestBench.attenuation(engine, scale: scale), path: .client)
        try await bench.amplifier().setGain(gain)
        try await bench.splitter().setKeptFraction(kept ?? 1 - 1 / gain)
        let layout = FrameLayout(rows: rows, modesPerRow: 4, vacuumSlotsPerRow: 0)
        let encoder = TruthEncoder(engine: engine)
        let d = encoder.drives(for: Array((0..<rows).map { _ in fields }.joined()))
        try await bench.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        try await bench.clientProcessor().program([[ComplexSymbol]](repeating: xi, count: shots), layout: layout)
        let phases = engine.truePhases
        let server = try bench.receiver(.serverReceiver), client = try bench.receiver(.clientReceiver)
        try await server.setLocalOscillatorPhase(.radians(-phases.localOscillator[.serverReceiver]!))
        try await client.setLocalOscillatorPhase(.radians(phases.linkForward - phases.localOscillator[.clientReceiver]!))
        try await server.loadSlotPattern([SlotKind](repeating: .x, count: 4) + [SlotKind](repeating: .p, count: 4))
        try await server.arm(shots: shots)
        if recordClient { try await client.arm(shots: shots) }
        try await bench.trigger().fire(shots: shots)
        let y = try await server.fetch(timeout: .seconds(10)).volts

        let t = engine.truth
        let g = t.serverReceiver.shotNoiseVariance(loPower: engine.deliveredLocalOscillatorPower(.serverReceiver)).squareRoot()
        let moments = groupedMoments(y, groups: 8, group: { s in 2 * (s % 4) + (s / 4) % 2 }) { $0 / g }
        let a = Forward.fieldScale(t, current: 0.06, attenuation: try await bench.attenuator().attenuation().dB, symbolRate: 1e9)
        let b = (try await bench.modulator().bias(.i).si, try await bench.modulator().bias(.q).si, try await bench.modulator().bias(.phase).si)
        let forward = Forward.link(loss: t.link.lossForward.dB, phase: phases.linkForward)
        let arrival = (0..<4).map { j in
            forward * Forward.field(t, phases, driveI: Double(d.i[j]), driveQ: Double(d.q[j]), biasI: b.0, biasQ: b.1, biasPhase: b.2) * Complex(a)
        }
        var beta = Complex<Double>.zero
        for j in 0..<4 { beta = beta + Complex(Double(xi[j].re), -Double(xi[j].im)) * arrival[j] }
        var readings: RunningMoments?
        if recordClient {
            let gc = t.clientReceiver.shotNoiseVariance(loPower: engine.deliveredLocalOscillatorPower(.clientReceiver)).squareRoot()
            readings = groupedMoments(try await client.fetch(timeout: .seconds(10)).volts, groups: 1, group: { _ in 0 }) { $0 / gc }[0]
        }
        return ReturnedLightExperiment(moments: moments, arrival: arrival, beta: beta,
                                       back: Forward.link(loss: t.link.lossBack.dB, phase: phases.linkBack), readings: readings, engine: engine)
    }
}
