import BenchIO

/// The SCPI behaviour of a Thorlabs CLD1015 laser-diode and TEC controller (Series 4000 command
/// set): LD setpoint bounded by the controller's own current limit, LD and TEC outputs, TEC
/// setpoint 5…45 °C, measured temperature.
public struct ThorlabsCLD1015Model: SCPIInstrumentModel {
    public var identity: SCPIIdentity
    /// The controller's LD current limit, A (set on its front panel or by SOUR:CURR:LIM:AMPL).
    public var currentLimit: Double = 0.12
    public var setpoint: Double = 0
    public var laserOn = false
    public var tecOn = true
    public var tecSetpoint: Double = 25
    /// The diode temperature with the TEC off, °C.
    public var ambient: Double = 22
    /// |T − T_set| the TEC leaves, °C (tests raise it to simulate an unsettled TEC).
    public var temperatureError: Double = 0.02

    public init(serialNumber: String = "M00443953", firmware: String = "1.4.0") {
        identity = SCPIIdentity(manufacturer: "THORLABS", model: "CLD1015", serialNumber: serialNumber, firmware: firmware)
    }

    public mutating func reset() {
        setpoint = 0
        laserOn = false
        tecOn = false
    }

    public var temperature: Double { tecOn ? tecSetpoint + temperatureError : ambient }

    public mutating func execute(_ c: SCPICommand) -> SCPICommandOutcome {
        if c.match("[SOURce#]:CURRent:LIMit[:AMPLitude]") == [1] {
            if c.isQuery { return .number(currentLimit) }
            guard let v = c.number(at: 0) else { return .missingParameter }
            guard v >= 0, v <= 1.5 else { return .dataOutOfRange }
            currentLimit = v
            setpoint = min(setpoint, v)
            return .done
        }
        if c.match("[SOURce#]:CURRent[:LEVel][:IMMediate][:AMPLitude]") == [1] {
            if c.isQuery { return .number(setpoint) }
            guard let v = c.number(at: 0) else { return c.arguments.isEmpty ? .missingParameter : .dataTypeError }
            guard v >= 0, v <= currentLimit else { return .dataOutOfRange }
            setpoint = v
            return .done
        }
        if let suffix = c.match("OUTPut#[:STATe]") {
            guard suffix == [1] || suffix == [2] else { return .undefinedHeader }
            if c.isQuery { return .integer((suffix == [1] ? laserOn : tecOn) ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            if suffix == [1] { laserOn = on } else { tecOn = on; if !on { laserOn = false } }
            return .done
        }
        if c.match("SOURce#:TEMPerature[:SPOint]") == [2] {
            if c.isQuery { return .number(tecSetpoint) }
            guard let v = c.number(at: 0) else { return .missingParameter }
            guard v >= 5, v <= 45 else { return .dataOutOfRange }
            tecSetpoint = v
            return .done
        }
        if c.isQuery && c.matches("MEASure[:SCALar]:TEMPerature") { return .number(temperature) }
        if c.isQuery && c.matches("MEASure[:SCALar]:CURRent[:DC]") { return .number(laserOn ? setpoint : 0) }
        return .undefinedHeader
    }
}
