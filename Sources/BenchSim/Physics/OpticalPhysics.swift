import BenchKit
import CKernels
import Foundation
import Numerics

/// The server's transmitter physics: laser L-I, the IQ modulator's field transfer, the power
/// budget that turns a field into photons per mode.
enum TransmitterPhysics {
    /// Emitted power: η_s (I − I_th) above threshold, 0 below or with emission off.
    static func laserPower(_ truth: SimulationTruth.Laser, current: Double, emitting: Bool) -> Double {
        emitting ? truth.slopeEfficiency.si * max(0, current - truth.thresholdCurrent.si) : 0
    }

    /// True wavelength at a TEC temperature.
    static func wavelength(_ truth: SimulationTruth.Laser, temperature: Double) -> Double {
        truth.wavelength.si + truth.tuning.si * (temperature - 298.15)
    }

    /// Field transmission of one MZM arm: cos ϕ + iδ sin ϕ with ϕ = π(V + V_bias)/(2Vπ) + φ0, so the
    /// power transmission is cos²ϕ + δ² sin²ϕ (finite extinction 1/δ²).
    static func armField(drive: Double, bias: Double, vPi: Double, phase0: Double, leakage: Double) -> Complex<Double> {
        let phi = Double.pi * (drive + bias) / (2 * vPi) + phase0
        return Complex(cos(phi), leakage * sin(phi))
    }

    /// Outer phase θ = π V / Vπ + θ0 of the IQ modulator's phase section.
    static func outerPhase(bias: Double, vPi: Double, phase0: Double) -> Double {
        Double.pi * bias / vPi + phase0
    }

    /// IQ field transmission (t_I + e^{iθ} t_Q)/2: 1 with both arms at peak and θ = 0.
    static func iqField(_ tI: Complex<Double>, _ tQ: Complex<Double>, theta: Double) -> Complex<Double> {
        (tI + Complex(cos(theta), sin(theta)) * tQ) * Complex(0.5)
    }
}

/// The digitiser of a homodyne receiver: the offset is added before quantisation to `bits` over
/// ±range, with clipping at the rails. The transfer itself is the C kernels' (`qk_quantise`,
/// `qk_returned_row`): one rounding rule for every sample the twin digitises.
struct Digitiser: Sendable {
    /// Offset, LSB, its inverse and the two rail codes, as the C kernels take them.
    let transfer: qk_digitiser
    var offset: Float { transfer.offset }
    var lsb: Float { transfer.lsb }
    var lowestCode: Float { transfer.lowestCode }
    var highestCode: Float { transfer.highestCode }

    init(_ r: SimulationTruth.Receiver) {
        let lsb = Float(r.lsb)
        transfer = qk_digitiser(offset: Float(r.offset.si), lsb: lsb, inverseLSB: 1 / lsb,
                                lowestCode: -Float(1 << (r.bits - 1)), highestCode: Float((1 << (r.bits - 1)) - 1))
    }

    /// Rounds to the nearest code (ties to even, by the 1.5·2²³ trick, exact for |code| < 2²²),
    /// clips to the rails, returns volts.
    func quantise(_ v: Float) -> Float {
        var t = transfer, x = v
        qk_quantise(&x, 1, &t, QK_BEST)
        return x
    }

    /// How many of `volts` sit at a rail (the lowest or highest code): clipped samples.
    func clippedCount(_ volts: [Float]) -> Int {
        let lo = lowestCode * lsb, hi = highestCode * lsb
        var n = 0
        for v in volts where v <= lo || v >= hi { n += 1 }
        return n
    }

    /// Quantises `buffer` in place; returns how many samples sit at a rail (as `clippedCount` counts them).
    @discardableResult
    func quantise(_ buffer: UnsafeMutableBufferPointer<Float>) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var t = transfer
        return Int(qk_quantise(base, buffer.count, &t, QK_BEST))
    }
}
