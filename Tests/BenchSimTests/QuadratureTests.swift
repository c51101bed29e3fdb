import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// Vacuum noise and coherent-state means against PROTOCOL.md §2: vacuum variance 1 SNU after
/// scaling by the true shot-noise unit; ⟨X⟩ = 2 Re α, ⟨P⟩ = 2 Im α.
@Suite("Homodyne quadratures")
struct QuadratureTests {
    enum VacuumCapture: String, CaseIterable, CustomTestStringConvertible {
        case serverBlockedInput, clientFreeRunning, serverVacuumSlots
        var testDescription: String { rawValue }
    }

    /// ≥ 1e6 samples per case with the realistic hidden receivers (η < 1, electronic noise, offset,
    /// 14-bit digitiser): (s² − σ_el² − lsb²/12)/N0 = 1 within 5 standard errors, mean = offset.
    @Test(arguments: VacuumCapture.allCases)
    func vacuumVarianceIsOneShotNoiseUnit(capture: VacuumCapture) async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: 11, constants: TestBench.frozen))
        try await TestBench.start(bench, engine: engine, attenuation: Decibels(50))
        let role: Role = capture == .clientFreeRunning ? .clientReceiver : .serverReceiver
        let rx = try bench.receiver(role)
        let samples: [Float]
        switch capture {
        case .serverBlockedInput:
            try await rx.setInputBlocked(true)
            try await bench.modulator().setStaticDrive(i: .volts(1), q: .volts(-0.5))
            samples = try await rx.acquire(count: 1 << 20).volts
        case .clientFreeRunning:
            samples = try await rx.acquire(count: 1 << 20).volts
        case .serverVacuumSlots:
            let frame = [Float](repeating: 0.8, count: 1024)
            try await bench.modulator().loadDrive(i: TestBench.waveform(frame, engine), q: TestBench.waveform(frame, engine))
            try await rx.loadSlotPattern([SlotKind](repeating: .vacuum, count: 1024))
            try await rx.arm(shots: 1024)
            try await bench.trigger().fire(shots: 1024)
            samples = try await rx.fetch(timeout: .seconds(10)).volts
        }
        #expect(samples.count >= 1_000_000)
        let t = engine.truth.receiver(role)
        let n0 = t.shotNoiseVariance(loPower: engine.deliveredLocalOscillatorPower(role))
        let m = groupedMoments(samples, groups: 1) { _ in 0 }[0]
        let expected = n0 + t.electronicNoise.si * t.electronicNoise.si + t.lsb * t.lsb / 12
        #expect(abs(m.mean - t.offset.si) < 5 * m.standardError)
        let snu = (m.variance - t.electronicNoise.si * t.electronicNoise.si - t.lsb * t.lsb / 12) / n0
        #expect(abs(snu - 1) < varianceTolerance(expected, count: m.count) / n0, "vacuum variance \(snu) SNU")
    }

    /// Back-to-back, ideal receiver, LO aligned with the arriving light: 64 coherent states, each
    /// on X in one slot and on P in another, 8192 shots (1,048,576 samples). Every slot's mean is
    /// 2 Re α (X) or 2 Im α (P) within 5 standard errors (8192 samples each), α from the hidden
    /// constants through PROTOCOL.md §8's transfer; the pooled variance is 1 SNU.
    @Test func coherentMeansAreTwiceTheAmplitude() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: 12))
        let scale = 5.0
        try await TestBench.start(bench, engine: engine, attenuation: TestBench.attenuation(engine, scale: scale))
        let encoder = TruthEncoder(engine: engine)
        let fields: [Complex<Double>] = (0..<64).map { s in
            let r: Double = 0.1 * Double(s % 4 + 1)
            let angle: Double = 2 * Double.pi * Double(s) / 64
            return Complex(r * cos(angle), r * sin(angle))
        }
        let d = encoder.drives(for: fields + fields)
        try await bench.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        let rx = try bench.receiver(.serverReceiver)
        let phases = engine.truePhases
        let path = encoder.backToBack
        // LO angle 0 relative to the transmitter frame: set phase = −(hidden offset).
        try await rx.setLocalOscillatorPhase(.radians(-phases.localOscillator[.serverReceiver]!))
        try await rx.loadSlotPattern([SlotKind](repeating: .x, count: 64) + [SlotKind](repeating: .p, count: 64))
        let shots = 8192
        try await rx.arm(shots: shots)
        try await bench.trigger().fire(shots: shots)
        let y = try await rx.fetch(timeout: .seconds(10)).volts
        #expect(y.count == 1_048_576)

        let t = engine.truth
        let g = t.serverReceiver.shotNoiseVariance(loPower: engine.deliveredLocalOscillatorPower(.serverReceiver)).squareRoot()
        let m = groupedMoments(y, groups: 128, group: { $0 % 128 }) { $0 / g }
        let b = (try await bench.modulator().bias(.i).si, try await bench.modulator().bias(.q).si, try await bench.modulator().bias(.phase).si)
        let a = Forward.fieldScale(t, current: 0.06, attenuation: try await bench.attenuator().attenuation().dB, symbolRate: 1e9)
        var pooled = RunningMoments()
        for s in 0..<128 {
            let f = Forward.field(t, phases, driveI: Double(d.i[s]), driveQ: Double(d.q[s]), biasI: b.0, biasQ: b.1, biasPhase: b.2)
            let alpha = path * f * Complex(a)
            let expected = s < 64 ? 2 * alpha.real : 2 * alpha.imaginary
            #expect(abs(m[s].mean - expected) < 5 * m[s].standardError, "slot \(s): mean \(m[s].mean), 2α component \(expected)")
            pooled.merge(m[s])
        }
        // Pooled within-slot variance: 1 SNU.
        var within = 0.0
        for s in 0..<128 { within += m[s].m2 }
        let variance = within / Double(y.count - 128)
        #expect(abs(variance - 1) < varianceTolerance(1, count: y.count), "pooled variance \(variance) SNU")
    }
}
