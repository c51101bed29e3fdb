import BenchKit
import Foundation

/// The server's transmitter as calibration knows it: the IQ modulator's Vπ and bias points, the
/// attenuation chain to the client input, and (after the back-to-back calibration) whether the Q
/// arm comes out conjugated. It turns intended coherent amplitudes α (√photons at the client
/// input) into drive waveforms and a VOA setting; the only place the run's light is designed.
public struct TransmitterModel: Sendable, Equatable {
    public let vpiI: Double
    public let vpiQ: Double
    /// Photons per slot at the client input for unit arm field (|t_I| = 1, Q dark) with the VOA set
    /// to 0 dB, and its relative (1σ) uncertainty.
    public let unitFieldPhotonsAtZero: Double
    public let unitFieldPhotonsRelativeUncertainty: Double
    /// Actual attenuation per dB set (the VOA curve's slope).
    public let voaSlope: Double
    public let attenuationRange: ClosedRange<Double>
    /// Largest arm field |t| used when encoding.
    public let maximumField: Double
    /// The Q drive sign that gives α rather than conj(α) (from the back-to-back calibration).
    public var qSign: Double
    /// Field of the Q arm per unit drive field relative to the I arm (√ of their power scales):
    /// real IQ modulators split unevenly.
    public var qBalance: Double = 1
    public let symbolRate: Frequency

    public init(vpiI: Double, vpiQ: Double, unitFieldPhotonsAtZero: Double, unitFieldPhotonsRelativeUncertainty: Double,
                voaSlope: Double, attenuationRange: ClosedRange<Double>, maximumField: Double, qSign: Double, symbolRate: Frequency) {
        self.vpiI = vpiI; self.vpiQ = vpiQ; self.unitFieldPhotonsAtZero = unitFieldPhotonsAtZero
        self.unitFieldPhotonsRelativeUncertainty = unitFieldPhotonsRelativeUncertainty; self.voaSlope = voaSlope
        self.attenuationRange = attenuationRange; self.maximumField = maximumField; self.qSign = qSign; self.symbolRate = symbolRate
    }

    /// Builds the model from the active records; the drive limit of the bench caps the field.
    public init(modulator: CalibrationRecord, attenuation: CalibrationRecord, backToBack: CalibrationRecord?, bench: BenchDescription,
                maximumField requested: Double) throws {
        func value(_ r: CalibrationRecord, _ name: String) throws -> Double {
            guard let v = r[name]?.value else { throw CalibrationError.corrupt(path: r.id, reason: "it has no value '\(name)'") }
            return v
        }
        let vi = try value(modulator, "vpi.i"), vq = try value(modulator, "vpi.q")
        var field = requested
        if let driveLimit = bench.bindings[.serverModulator]?.limits["drive"] {
            let v = 0.98 * min(abs(driveLimit.min ?? .infinity), abs(driveLimit.max ?? .infinity))
            if v.isFinite { field = min(field, sin(Double.pi * v / (2 * max(vi, vq)))) }
        }
        let range = bench.bindings[.serverAttenuator]?.limits["attenuation"]
        let n0 = try value(attenuation, "photons.unit-field.0dB")
        self.init(vpiI: vi, vpiQ: vq, unitFieldPhotonsAtZero: n0,
                  unitFieldPhotonsRelativeUncertainty: (attenuation["photons.unit-field.0dB"]?.uncertainty ?? 0) / n0,
                  voaSlope: try value(attenuation, "voa.slope"), attenuationRange: (range?.min ?? 0)...(range?.max ?? 100),
                  maximumField: field, qSign: (backToBack?["conjugate"]?.value ?? 0) > 0.5 ? -1 : 1, symbolRate: bench.symbolRate)
        if let pi = modulator["power.i"]?.value, let pq = modulator["power.q"]?.value, pi > 0, pq > 0 { qBalance = (pq / pi).squareRoot() }
    }

    public func unitFieldPhotons(at a: Decibels) -> Double { unitFieldPhotonsAtZero * pow(10, -voaSlope * a.dB / 10) }
    public func attenuation(forUnitFieldPhotons n: Double) -> Decibels { Decibels(-10 * log10(n / unitFieldPhotonsAtZero) / voaSlope) }

    /// Drive voltage (relative to the null bias) for arm field t: V = −(2Vπ/π) arcsin t.
    public func drive(field t: Double, vpi: Double) -> Float { MachZehnder.drive(field: t, vPi: vpi) }

    public struct Encoded: Sendable {
        public let i: Waveform
        public let q: Waveform
        public let attenuation: Decibels
        /// Photons per slot at the client input per unit field at that attenuation.
        public let unitFieldPhotons: Double
    }

    public enum EncodingError: Error, CustomStringConvertible {
        case outOfRange(needed: Double, range: ClosedRange<Double>)
        public var description: String {
            switch self {
            case let .outOfRange(a, r):
                String(format: "these amplitudes need %.1f dB on the VOA, outside its allowed %.1f…%.1f dB: change μ or the bench's attenuation limits", a, r.lowerBound, r.upperBound)
            }
        }
    }

    /// The photons per unit field that make the largest quadrature amplitude of `re`/`im` use the
    /// `maximumField`.
    public func unitFieldPhotons(forPeakOf re: [Float], _ im: [Float]) -> Double {
        var peakRe: Float = 0, peakIm: Float = 0
        for k in re.indices { peakRe = max(peakRe, abs(re[k])); peakIm = max(peakIm, abs(im[k])) }
        let peak = max(Double(peakRe), Double(peakIm) / qBalance)
        return max(peak * peak, 1e-30) / (maximumField * maximumField)
    }

    /// Encodes amplitudes (re/im in √photons at the client input; zeros in vacuum slots) into drive
    /// waveforms and a VOA setting. With `unitFieldPhotons` nil, the setting makes the largest
    /// quadrature amplitude use the `maximumField`; frames that must share one VOA setting pass
    /// the largest of their `unitFieldPhotons(forPeakOf:)`.
    public func encode(re: [Float], im: [Float], unitFieldPhotons: Double? = nil) throws(EncodingError) -> Encoded {
        let n = unitFieldPhotons ?? self.unitFieldPhotons(forPeakOf: re, im)
        let a = attenuation(forUnitFieldPhotons: n)
        guard attenuationRange.contains(a.dB) else { throw .outOfRange(needed: a.dB, range: attenuationRange) }
        let scale = 1 / n.squareRoot()
        var vi = [Float](repeating: 0, count: re.count), vq = vi
        for k in re.indices {
            vi[k] = drive(field: Double(re[k]) * scale, vpi: vpiI)
            vq[k] = drive(field: qSign * Double(im[k]) * scale / qBalance, vpi: vpiQ)
        }
        return Encoded(i: Waveform(volts: vi, sampleRate: symbolRate), q: Waveform(volts: vq, sampleRate: symbolRate),
                       attenuation: a, unitFieldPhotons: n)
    }
}
