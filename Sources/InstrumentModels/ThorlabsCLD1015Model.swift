import BenchIO

/// The SCPI behaviour of a Thorlabs CLD1015 laser-diode and TEC controller (Series 4000 command
/// set, "Series 4000 SCPI Programmer's Reference Manual" v3.3): LD setpoint bounded by the
/// controller's own current limit, LD and TEC outputs, TEC setpoint 5…45 °C, measured
/// temperature, and what the real controller does that a careless driver would miss:
/// - numeric parameters take no unit names (§2.6.1 lists only multiplier suffixes): a suffix
///   such as `C` queues -131 "Invalid suffix";
/// - the LD source function (§3.7.1, `SOURce[1]:FUNCtion:MODE {CURRent|POWer}`): in POWer mode
///   the diode current is set by the photodiode loop, not by `SOUR:CURR`;
/// - amplitude modulation (§3.7.6, `SOURce[1]:AM[:STATe] {ON|OFF}`): with AM on, the rear
///   modulation input adds `modulationInputCurrent` to the setpoint;
/// - keylock and LD interlock keep the LD output off when it is switched on, and the
///   Measurement register group (§3.14.3, `STATus:MEASurement:CONDition?`) reports them.
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
    /// §3.7.1: "CURR" (constant current) or "POW" (constant power).
    public var sourceMode = "CURR"
    /// §3.7.6: analog modulation on.
    public var amplitudeModulation = false
    /// The current the rear modulation input adds with AM on, A.
    public var modulationInputCurrent: Double = 0.05
    /// The diode current the power loop settles to in POWer mode, A.
    public var powerLoopCurrent: Double = 0.11
    /// Front-panel keylock engaged (register bit 0) and LD interlock open (bit 2).
    public var keylock = false
    public var interlockOpen = false
    /// TEC window failure (bit 9) and TEC connection failure (bit 12).
    public var tecWindowFailure = false
    public var tecConnectionFailure = false

    public init(serialNumber: String = "M00443953", firmware: String = "1.4.0") {
        identity = SCPIIdentity(manufacturer: "THORLABS", model: "CLD1015", serialNumber: serialNumber, firmware: firmware)
    }

    public mutating func reset() {
        setpoint = 0
        laserOn = false
        tecOn = false
        sourceMode = "CURR"
        amplitudeModulation = false
    }

    public var temperature: Double { tecOn ? tecSetpoint + temperatureError : ambient }

    /// The current through the diode: what a safety check must bound.
    public var diodeCurrent: Double {
        guard laserOn else { return 0 }
        if sourceMode == "POW" { return powerLoopCurrent }
        return setpoint + (amplitudeModulation ? modulationInputCurrent : 0)
    }

    /// STATus:MEASurement:CONDition (§3.14.3 table): 1 keylock, 4 LD interlock, 8 LD current
    /// limit reached, 512 temperature window failure, 4096 TEC connection failure.
    public var measurementCondition: Int {
        (keylock ? 1 : 0) | (interlockOpen ? 4 : 0) | (laserOn && diodeCurrent >= currentLimit ? 8 : 0)
            | (tecWindowFailure ? 512 : 0) | (tecConnectionFailure ? 4096 : 0)
    }

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
            if suffix == [1] {
                // Keylock or an open interlock keeps the output off (reported in the register).
                laserOn = on && !keylock && !interlockOpen
            } else { tecOn = on; if !on { laserOn = false } }
            return .done
        }
        if c.match("[SOURce#]:FUNCtion:MODE") == [1] {
            if c.isQuery { return .text(sourceMode) }
            guard let m = c.arguments.first?.mnemonic else { return .missingParameter }
            let mode: String
            if m == "CURR" || m == "CURRENT" { mode = "CURR" } else if m == "POW" || m == "POWER" { mode = "POW" } else { return .illegalParameterValue }
            // Model assumption (check on hardware): the mode cannot change under a running output.
            guard !laserOn || mode == sourceMode else { return .settingsConflict }
            sourceMode = mode
            return .done
        }
        if c.match("[SOURce#]:AM[:STATe]") == [1] {
            if c.isQuery { return .integer(amplitudeModulation ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            amplitudeModulation = on
            return .done
        }
        if c.isQuery && c.matches("STATus:MEASurement:CONDition") { return .integer(measurementCondition) }
        if c.match("SOURce#:TEMPerature[:SPOint]") == [2] {
            if c.isQuery { return .number(tecSetpoint) }
            // §2.6.1: numbers take multiplier suffixes only, never a unit name such as C.
            guard let v = c.number(at: 0) else { return c.suffixError(at: 0, otherwise: .missingParameter) }
            guard v >= 5, v <= 45 else { return .dataOutOfRange }
            tecSetpoint = v
            return .done
        }
        if c.isQuery && c.matches("MEASure[:SCALar]:TEMPerature") { return .number(temperature) }
        if c.isQuery && c.matches("MEASure[:SCALar]:CURRent[:DC]") { return .number(diodeCurrent) }
        return .undefinedHeader
    }
}
