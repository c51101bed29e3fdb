import BenchKit
import Foundation
import Numerics

/// Drive voltages computed from the twin's hidden constants: what a perfectly calibrated encoder
/// would upload. FOR TESTS AND BENCHMARKS ONLY (it reads `SimulationEngine.truth`); the protocol's
/// encoder must work from calibration records instead.
///
/// Operating point: both arms at null (ϕ(0) = π/2, where the field is linear in a small drive) and
/// the outer phase at θ = π/2, so that with x = πV/(2Vπ) per arm
///     2f = (−sin x_I − δ_Q cos x_Q) + i(δ_I cos x_I − sin x_Q),
/// which `drives(for:)` inverts exactly, leakage δ included, by a few fixed-point steps.
public struct TruthEncoder: Sendable {
    public let truth: SimulationTruth
    public let phases: TruePhases

    public init(engine: SimulationEngine) {
        truth = engine.truth
        phases = engine.truePhases
    }

    /// Bias voltages (nearest 0 V) for the operating point, with the phases drifted to now.
    public var operatingBiases: (i: Voltage, q: Voltage, phase: Voltage) {
        func nearest(_ target: Double, phase0: Double, period: Double, perRadian: Double) -> Double {
            let v = (target - phase0) * perRadian
            return v - (v / period).rounded() * period
        }
        let m = truth.modulator
        let vi = nearest(.pi / 2, phase0: phases.modulator[.i]!, period: 4 * m.i.vPi.si, perRadian: 2 * m.i.vPi.si / .pi)
        let vq = nearest(.pi / 2, phase0: phases.modulator[.q]!, period: 4 * m.q.vPi.si, perRadian: 2 * m.q.vPi.si / .pi)
        let vp = nearest(.pi / 2, phase0: phases.modulator[.phase]!, period: 2 * m.phase.vPi.si, perRadian: m.phase.vPi.si / .pi)
        return (.volts(vi), .volts(vq), .volts(vp))
    }

    /// Largest |Re f| or |Im f| `drives(for:)` accepts (the arms then swing to |sin x| ≤ 0.9).
    public static let maximumComponent = 0.45

    /// I and Q drive voltages that make the modulator's field transmission equal `fields`
    /// (each component within ±`maximumComponent`), at the operating biases.
    public func drives(for fields: [Complex<Double>]) -> (i: [Float], q: [Float]) {
        let m = truth.modulator
        let dI = m.i.leakage, dQ = m.q.leakage
        let kI = 2 * m.i.vPi.si / .pi, kQ = 2 * m.q.vPi.si / .pi
        var vi = [Float](repeating: 0, count: fields.count), vq = vi
        for (s, f) in fields.enumerated() {
            // The twin workload designs these fields itself (|t| ≤ 0.3 by construction): internal.
            precondition(abs(f.real) <= Self.maximumComponent + 1e-9 && abs(f.imaginary) <= Self.maximumComponent + 1e-9,
                         "field \(f) is beyond the encoder's linear range ±\(Self.maximumComponent)")
            var cI = 1.0, cQ = 1.0, xI = 0.0, xQ = 0.0
            for _ in 0..<6 {
                xI = asin(max(-1, min(1, -2 * f.real - dQ * cQ)))
                xQ = asin(max(-1, min(1, dI * cI - 2 * f.imaginary)))
                cI = cos(xI); cQ = cos(xQ)
            }
            vi[s] = Float(kI * xI); vq[s] = Float(kQ * xQ)
        }
        return (vi, vq)
    }

    /// The attenuator setting that gives `fieldScale` √photons per mode for unit field at the
    /// server's output, for a laser `current` and TEC `temperature` (all losses and the attenuator's
    /// hidden offset included).
    public func attenuation(fieldScale: Double, current: Current, temperature: Temperature = .celsius(25),
                            symbolRate: Frequency) -> Decibels {
        let t = truth
        let power = TransmitterPhysics.laserPower(t.laser, current: current.si, emitting: true)
            * Decibels(-t.modulator.insertionLoss.dB).linear * (1 - t.tap.fraction) * Decibels(-t.tap.outputLoss.dB).linear
        let hv = PhysicalConstants.planck * PhysicalConstants.speedOfLight / TransmitterPhysics.wavelength(t.laser, temperature: temperature.si)
        let photons = power / symbolRate.si / hv
        return Decibels(10 * log10(photons / (fieldScale * fieldScale)) - t.tap.attenuatorOffset.dB)
    }

    /// √T e^{iφ} of the forward link now.
    public var forwardLink: Complex<Double> { SimulationEngine.path(loss: truth.link.lossForward.dB, phase: phases.linkForward) }
    /// √T e^{iφ} of the return link now.
    public var backLink: Complex<Double> { SimulationEngine.path(loss: truth.link.lossBack.dB, phase: phases.linkBack) }
    /// √T e^{iφ} of the back-to-back path.
    public var backToBack: Complex<Double> {
        SimulationEngine.path(loss: truth.opticalSwitch.backToBackLoss.dB, phase: truth.opticalSwitch.backToBackPhase.si)
    }
}
