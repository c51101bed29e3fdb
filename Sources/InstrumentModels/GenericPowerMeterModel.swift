import BenchIO
#if canImport(Glibc)
import Glibc
#endif

/// A minimal optical power meter in the style of the Thorlabs PM100 series (docs/hardware.md
/// §2.3): wavelength correction, power readings in W or dBm, averaging, auto range, a
/// display text and a trace buffer read as an IEEE 488.2 block of float32 samples. Enough to
/// exercise every transport path; the real PM100USB model comes with its driver.
public struct GenericPowerMeterModel: SCPIInstrumentModel {
    public enum PowerUnit: Sendable, Equatable { case watt, dBm }

    public var identity: SCPIIdentity
    /// The optical power at the detector, W. Tests set it.
    public var opticalPower: Double = 1.0e-3
    /// Responsivity correction wavelength, nm (`SENS:CORR:WAV`).
    public var wavelength: Double = 1550
    public var wavelengthRange: ClosedRange<Double> = 400...1800
    public var averageCount = 1
    public var autoRange = true
    public var unit = PowerUnit.watt
    public var displayText = ""
    public var tracePoints = 16
    public private(set) var triggerCount = 0
    public private(set) var measurements = 0

    public init(manufacturer: String = "BenchSim", model: String = "PM-GENERIC", serialNumber: String = "P0000001",
                firmware: String = "1.0.0") {
        identity = SCPIIdentity(manufacturer: manufacturer, model: model, serialNumber: serialNumber, firmware: firmware)
    }

    public mutating func reset() {
        wavelength = 1550
        averageCount = 1
        autoRange = true
        unit = .watt
        displayText = ""
        tracePoints = 16
    }

    public mutating func trigger() { triggerCount += 1 }

    /// The reading in the selected unit.
    public var reading: Double {
        switch unit {
        case .watt: return opticalPower
        case .dBm: return opticalPower > 0 ? 10 * log10(opticalPower / 1e-3) : -.infinity
        }
    }

    /// Deterministic trace samples around the optical power.
    public var trace: [Float] {
        (0..<tracePoints).map { i in Float(opticalPower * (1 + 0.001 * Double(i % 7 - 3))) }
    }

    public mutating func execute(_ c: SCPICommand) -> SCPICommandOutcome {
        if c.matches("[SENSe#]:CORRection:WAVelength") {
            if c.isQuery {
                switch c.arguments.first?.mnemonic {
                case nil: return .number(wavelength)
                case "MIN"?, "MINIMUM"?: return .number(wavelengthRange.lowerBound)
                case "MAX"?, "MAXIMUM"?: return .number(wavelengthRange.upperBound)
                default: return .illegalParameterValue
                }
            }
            guard let argument = c.arguments.first else { return .missingParameter }
            // SCPI power meters take the wavelength in nm with an optional NM suffix.
            guard let value = argument.number(suffixes: ["NM"]) else { return c.suffixError(at: 0, suffixes: ["NM"], otherwise: .dataTypeError) }
            guard wavelengthRange.contains(value) else { return .dataOutOfRange }
            wavelength = value
            return .done
        }
        if c.isQuery && (c.matches("MEASure[:SCALar]:POWer") || c.matches("READ") || c.matches("FETCh")) {
            measurements += 1
            return .number(reading)
        }
        if !c.isQuery && (c.matches("CONFigure[:SCALar]:POWer") || c.matches("INITiate[:IMMediate]")) {
            return .done
        }
        if c.matches("[SENSe#]:AVERage[:COUNt]") {
            if c.isQuery { return .integer(averageCount) }
            guard let value = c.number(at: 0) else { return c.arguments.isEmpty ? .missingParameter : .dataTypeError }
            guard value >= 1, value <= 10_000, value == value.rounded() else { return .dataOutOfRange }
            averageCount = Int(value)
            return .done
        }
        if c.matches("[SENSe#]:POWer[:DC]:RANGe:AUTO") {
            if c.isQuery { return .integer(autoRange ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            autoRange = on
            return .done
        }
        if c.matches("[SENSe#]:POWer[:DC]:UNIT") {
            if c.isQuery { return .text(unit == .watt ? "W" : "DBM") }
            switch c.arguments.first?.mnemonic {
            case "W"?: unit = .watt
            case "DBM"?: unit = .dBm
            case nil: return .missingParameter
            default: return .illegalParameterValue
            }
            return .done
        }
        if c.matches("DISPlay:TEXT[:DATA]") {
            if c.isQuery { return .quoted(displayText) }
            guard case .string(let text)? = c.arguments.first else { return c.arguments.isEmpty ? .missingParameter : .dataTypeError }
            displayText = text
            return .done
        }
        if c.matches("TRACe:POINts") {
            if c.isQuery { return .integer(tracePoints) }
            guard let value = c.number(at: 0), value == value.rounded() else { return .dataTypeError }
            guard value >= 1, value <= 100_000 else { return .dataOutOfRange }
            tracePoints = Int(value)
            return .done
        }
        if c.isQuery && c.matches("TRACe:DATA") {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(tracePoints * 4)
            for sample in trace { withUnsafeBytes(of: sample.bitPattern.littleEndian) { bytes += $0 } }
            return .block(bytes)
        }
        return .undefinedHeader
    }
}
