import BenchIO
#if canImport(Glibc)
import Glibc
#endif

/// The SCPI behaviour of a Thorlabs PM100USB with a photodiode head (PM100USB Operation Manual
/// ch. 7): wavelength correction within the head's range, averaging, W/dBm, auto range,
/// `MEAS:POW?`, and the dark adjustment (`SENS:CORR:COLL:ZERO[:INIT]`, `:STAT?` = 1 while it
/// runs, `:MAGN?`, `:ABOR`). Used by the driver tests in memory and over emulated USB.
public struct ThorlabsPM100USBModel: SCPIInstrumentModel {
    public var identity: SCPIIdentity
    /// Optical power on the head, W. Tests set it.
    public var opticalPower: Double = 1.0e-3
    /// The head's dark signal, W: what a reading carries until a dark adjustment removes it.
    public var darkSignal: Double = 2.0e-9
    /// The offset the last dark adjustment measured (`…:ZERO:MAGN?`).
    public private(set) var zeroOffset: Double = 0
    /// The connected head's wavelength range, nm (an InGaAs head such as the S155C).
    public var sensorRange: ClosedRange<Double> = 800...1700
    public var wavelength: Double = 1550
    /// The head's `SYST:SENS:IDN?` fields (name, serial, calibration date, type, subtype,
    /// flags). Flags as pymeasure and InstrumentKit decode them: 1 power sensor, 2 energy
    /// sensor, 16 response settable, 32 wavelength settable, 64 τ settable, 256 temperature
    /// sensor. With no head the meter names it "no sensor".
    public var sensorName = "S155C"
    public var sensorType = 1
    public var sensorFlags = 289
    public var averageCount = 1
    public var unitIsWatt = true
    public var autoRange = true
    /// How many `…:ZERO:STAT?` polls answer 1 after a dark adjustment starts.
    public var zeroPolls = 2
    public private(set) var zeroRemaining = 0
    public private(set) var zeroAdjustments = 0
    public private(set) var measurements = 0

    public init(serialNumber: String = "P2000001", firmware: String = "1.7.0") {
        identity = SCPIIdentity(manufacturer: "Thorlabs", model: "PM100USB", serialNumber: serialNumber, firmware: firmware)
    }

    public mutating func reset() {
        wavelength = 1550
        averageCount = 1
        unitIsWatt = true
        autoRange = true
        zeroRemaining = 0
    }

    /// The corrected reading in W.
    public var watts: Double { opticalPower + darkSignal - zeroOffset }

    public mutating func execute(_ c: SCPICommand) -> SCPICommandOutcome {
        if c.matches("[SENSe#]:CORRection:WAVelength") {
            if c.isQuery {
                switch c.arguments.first?.mnemonic {
                case nil: return .number(wavelength)
                case "MIN"?, "MINIMUM"?: return .number(sensorRange.lowerBound)
                case "MAX"?, "MAXIMUM"?: return .number(sensorRange.upperBound)
                default: return .illegalParameterValue
                }
            }
            guard let v = c.number(at: 0) else { return c.arguments.isEmpty ? .missingParameter : .dataTypeError }
            // A head without the wavelength-settable flag (32) has a fixed correction: refused.
            guard sensorFlags & 32 != 0, sensorName != "no sensor" else { return .settingsConflict }
            guard sensorRange.contains(v) else { return .dataOutOfRange }
            wavelength = v
            return .done
        }
        if c.matches("[SENSe#]:AVERage[:COUNt]") {
            if c.isQuery { return .integer(averageCount) }
            guard let v = c.number(at: 0), v == v.rounded() else { return .dataTypeError }
            guard v >= 1, v <= 10_000 else { return .dataOutOfRange }
            averageCount = Int(v)
            return .done
        }
        if c.matches("[SENSe#]:POWer[:DC]:UNIT") {
            if c.isQuery { return .text(unitIsWatt ? "W" : "DBM") }
            switch c.arguments.first?.mnemonic {
            case "W"?: unitIsWatt = true
            case "DBM"?: unitIsWatt = false
            default: return .illegalParameterValue
            }
            return .done
        }
        if c.matches("[SENSe#]:POWer[:DC]:RANGe:AUTO") {
            if c.isQuery { return .integer(autoRange ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            autoRange = on
            return .done
        }
        if c.isQuery && (c.matches("MEASure[:SCALar]:POWer") || c.matches("READ") || c.matches("FETCh")) {
            measurements += 1
            let w = watts
            return .number(unitIsWatt ? w : (w > 0 ? 10 * log10(w / 1e-3) : -.infinity))
        }
        if !c.isQuery && (c.matches("[SENSe#]:CORRection:COLLect:ZERO[:INITiate]")) {
            zeroRemaining = max(1, zeroPolls)
            return .done
        }
        if c.isQuery && c.matches("[SENSe#]:CORRection:COLLect:ZERO:STATe") {
            guard zeroRemaining > 0 else { return .integer(0) }
            zeroRemaining -= 1
            if zeroRemaining == 0 {
                zeroOffset = opticalPower + darkSignal
                zeroAdjustments += 1
            }
            return .integer(1)
        }
        if c.isQuery && c.matches("[SENSe#]:CORRection:COLLect:ZERO:MAGNitude") { return .number(zeroOffset) }
        if !c.isQuery && c.matches("[SENSe#]:CORRection:COLLect:ZERO:ABORt") {
            zeroRemaining = 0
            return .done
        }
        if c.isQuery && c.matches("SYSTem:SENSor:IDN") {
            if sensorName == "no sensor" { return .text("no sensor,,,0,0,0") }
            return .text("\(sensorName),1234567,01-Jan-2024,\(sensorType),18,\(sensorFlags)")
        }
        return .undefinedHeader
    }
}
