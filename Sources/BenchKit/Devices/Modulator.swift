import CKernels
import Foundation

/// A drive waveform for one AWG channel: voltages at a fixed sample rate (one sample per optical
/// mode on the secure-inference bench).
public struct Waveform: Sendable, Equatable {
    public var volts: [Float]
    public var sampleRate: Frequency
    public init(volts: [Float], sampleRate: Frequency) { self.volts = volts; self.sampleRate = sampleRate }

    /// Smallest and largest sample, in one pass (`qk_span`); both NaN if any sample is not a
    /// number, so that a limit check refuses the waveform (min and max alone would step over it).
    public var range: (minimum: Voltage, maximum: Voltage) {
        if volts.isEmpty { return (.zero, .zero) }
        var lo: Float = 0, hi: Float = 0
        let nonNumbers = volts.withUnsafeBufferPointer { qk_span($0.baseAddress!, $0.count, &lo, &hi, QK_BEST) }
        return nonNumbers > 0 ? (.volts(.nan), .volts(.nan)) : (.volts(Double(lo)), .volts(Double(hi)))
    }
    public var minimum: Voltage { range.minimum }
    public var maximum: Voltage { range.maximum }
    public var peak: Voltage { let r = range; return .volts(Swift.max(abs(r.minimum.volts), abs(r.maximum.volts))) }
}

/// The drive inputs of an electro-optic modulator.
public enum ModulatorChannel: String, Sendable, Codable, CaseIterable {
    /// In-phase and quadrature MZM arms of an IQ modulator.
    case i, q
    /// The outer phase section of an IQ modulator (bias only: sets the 90° between arms).
    case phase
}

/// One Mach–Zehnder arm biased at its null (docs/hardware.md §6.1): the field it transmits for a
/// drive V relative to the null bias is t = −sin(πV/(2Vπ)), so a field t needs
/// V = −(2Vπ/π)·arcsin t. The server's encoder and the client's processor driver both pre-distort
/// their drives with it.
public enum MachZehnder {
    /// The drive (volts from the null bias) for arm field `t` (clamped to −1 … 1).
    public static func drive(field t: Double, vPi: Double) -> Float { Float(-2 * vPi / Double.pi * asin(max(-1, min(1, t)))) }
}

/// An IQ Mach–Zehnder modulator driven by AWG channels (RF drive per arm) and DC bias supplies.
/// Each arm transmits field ∝ cos(π V/(2Vπ) + φ_bias); biased at null, a small drive gives a field
/// linear in the drive voltage. The encoder pre-distorts drives with the calibrated Vπ and bias.
public protocol Modulator: BenchDevice {
    /// Uploads drive waveforms (volts) for the I and Q arms; they play on each trigger.
    func loadDrive(i: Waveform, q: Waveform) async throws
    /// Drives both arms with constant voltages (calibration sweeps).
    func setStaticDrive(i: Voltage, q: Voltage) async throws
    func setBias(_ channel: ModulatorChannel, _ voltage: Voltage) async throws
    func bias(_ channel: ModulatorChannel) async throws -> Voltage
    /// Zeroes every drive (outputs off); biases stay.
    func zeroDrive() async throws
}
