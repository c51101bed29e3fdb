import BenchIO
import BenchKit
import Foundation

/// Thorlabs CLD1015 laser-diode and TEC controller (USBTMC, 1313:804F) as a BenchKit `Laser`.
///
/// Commands from the Thorlabs CLD101x programmer's reference, which uses the Series 4000 SCPI
/// command set (Thorlabs "Series 4000 SCPI Programmer's Reference Manual" v3.3: §3.4.1 LD output
/// state, §3.7.2 LD current limit, §3.7.3 LD current setpoint, §3.3.6 simple measurement, and the
/// TEC source/output commands on suffix 2):
/// - `SOURce[1]:CURRent:LIMit[:AMPLitude]?`: the controller's own current limit, read when opened;
/// - `SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude] <A>` and `?`: the LD setpoint;
/// - `OUTPut1[:STATe] ON|OFF` and `?`: the LD output;
/// - `OUTPut2[:STATe]?`: the TEC output; `SOURce2:TEMPerature <°C>` and `?`: the TEC setpoint, a
///   bare number (§2.6.1 allows only multiplier suffixes such as m or k, no unit names; every
///   peer driver sends `SOUR2:TEMP:SPO 25.00`);
/// - `SOURce[1]:FUNCtion:MODE?` / `CURRent` (§3.7.1 LD Source Function) and
///   `SOURce[1]:AM[:STATe]?` / `OFF` (§3.7.6 LD Amplitude Modulation): checked, and forced, before
///   every switch-on, because in constant-power mode or with the modulation input on the diode
///   current is not the setpoint this driver bounds;
/// - `STATus:MEASurement:CONDition?` (§3.14.3 Measurement Register Group: keylock, LD interlock,
///   current limit reached, output inhibit, TEC window, sensor and connection failures) and
///   `OUTPut1[:STATe]?`, read right after switching on;
/// - `MEASure[:SCALar]:TEMPerature?`: the measured temperature (°C);
/// - `*IDN?`, `SYSTem:ERRor?`.
///
/// Safety (docs/hardware.md §6.6): a current above min(bench soft limit, the controller's limit read
/// back when opened, the instrument file's limit) is refused before a byte is sent; emission is
/// refused while the TEC is off or outside its window, and unless the setpoint is at most the
/// switch-on current (ramp up afterwards with `Laser.ramp(to:)`); `makeSafe` ramps down
/// (`Laser.rampDown`) and switches the output off.
public actor ThorlabsCLD1015: Laser {
    /// What the hardware allows, from `Devices/instruments/thorlabs-cld1015.yaml`.
    public struct Limits: Sendable {
        public var current: InstrumentRange<CurrentDimension>
        public var tecSetpoint: InstrumentRange<TemperatureDimension>

        public init(_ d: InstrumentDescription) throws(BenchFileError) {
            current = try d.range("current", Current.self)
            tecSetpoint = try d.range("tec-setpoint", Temperature.self)
        }
    }

    /// Per-bench settings: the bench file's options and soft limits.
    public struct Configuration: Sendable {
        /// The diode's emission wavelength (the controller cannot know it).
        public var wavelength: Length
        /// |T − T_set| allowed before emission may start.
        public var tecWindow: Temperature = .kelvin(0.1)
        /// The highest setpoint at which the output may be switched on.
        public var switchOnCurrent: Current = .milliamperes(10)
        /// The bench file's soft limits (SI), if any.
        public var softCurrent: LimitRange?
        public var softTemperature: LimitRange?

        public init(wavelength: Length) { self.wavelength = wavelength }
    }

    public nonisolated var family: DeviceFamily { .laser }
    public nonisolated let device: String
    let link: InstrumentLink
    let limits: Limits
    let configuration: Configuration
    /// The controller's current limit as read back when it was opened.
    public private(set) var hardwareCurrentLimit: Current

    init(link: InstrumentLink, device: String, limits: Limits, configuration: Configuration, hardwareCurrentLimit: Current) {
        self.link = link
        self.device = device
        self.limits = limits
        self.configuration = configuration
        self.hardwareCurrentLimit = hardwareCurrentLimit
    }

    /// Opens the controller and reads back its hardware current limit.
    public static func open(link: InstrumentLink, device: String, limits: Limits, configuration: Configuration) async throws -> ThorlabsCLD1015 {
        let amps = try await link.run(device) { s in try await s.queryDouble("SOUR:CURR:LIM:AMPL?") }
        guard amps.isFinite, amps >= 0 else {
            throw DeviceError(.instrumentError, device: device, message: "the controller reports a current limit of \(amps) A",
                              remedy: "set the LD current limit on the controller's front panel")
        }
        return ThorlabsCLD1015(link: link, device: device, limits: limits, configuration: configuration, hardwareCurrentLimit: .amperes(amps))
    }

    /// The highest current this driver will ever send: min(soft, hardware read-back, instrument file).
    public var currentCeiling: Current {
        var ceiling = min(hardwareCurrentLimit, limits.current.max)
        if let soft = configuration.softCurrent?.max { ceiling = min(ceiling, .amperes(soft)) }
        return ceiling
    }

    public func identify() async throws -> InstrumentIdentity {
        let idn = try await link.run(device) { s in try await s.identify() }
        return InstrumentIdentity(manufacturer: idn.manufacturer, model: idn.model, serial: idn.serialNumber, firmware: idn.firmware)
    }

    /// Ramps the current down and switches the LD output off; with the output already off, zeroes
    /// the setpoint and switches it off again (idempotent). The TEC stays on.
    public func makeSafe() async throws {
        if try await isEmitting() {
            try await rampDown()
        } else {
            try await link.run(device) { s in
                try await s.write("SOUR:CURR 0")
                try await s.write("OUTP1:STAT OFF")
            }
        }
    }

    public func settings() async throws -> [String: String] {
        try await link.run(device) { s in
            let setpoint = try await s.queryDouble("SOUR:CURR?")
            let emitting = try await s.queryBool("OUTP1:STAT?")
            let tec = try await s.queryBool("OUTP2:STAT?")
            let tset = try await s.queryDouble("SOUR2:TEMP?")
            let t = try await s.queryDouble("MEAS:TEMP?")
            return ["current": "\(Current.amperes(setpoint))", "current-limit": "\(hardwareCurrentLimit)", "ceiling": "\(currentCeiling)",
                    "emission": emitting ? "on" : "off", "tec": tec ? "on" : "off",
                    "tec-setpoint": String(format: "%.3f °C", tset), "temperature": String(format: "%.3f °C", t),
                    "wavelength": "\(configuration.wavelength)"]
        }
    }

    public func setCurrent(_ current: Current) async throws {
        guard current.si.isFinite, current.si >= 0 else {
            throw DeviceError.refused(device, "current \(current) is not a non-negative value", remedy: "request 0 A or more")
        }
        if let soft = configuration.softCurrent, !soft.contains(current.si) {
            throw DeviceError.refused(device, "current \(current) is outside the bench limit (declared at \(soft.source))",
                                      remedy: "stay within the bench file's current limit")
        }
        guard current <= currentCeiling else {
            throw DeviceError.refused(device, "current \(current) exceeds the ceiling \(currentCeiling) = min(bench limit, controller limit \(hardwareCurrentLimit), instrument file \(limits.current.max))",
                                      remedy: "request at most \(currentCeiling); raise the controller's limit only if the diode allows it")
        }
        try await link.run(device) { s in try await s.write("SOUR:CURR \(SCPINumber.format(current.amperes))") }
    }

    public func current() async throws -> Current {
        .amperes(try await link.run(device) { s in try await s.queryDouble("SOUR:CURR?") })
    }

    /// Switches the LD output. On: only with the TEC on and settled within the window, and with
    /// the setpoint at most the switch-on current.
    public func setEmission(_ on: Bool) async throws {
        guard on else {
            try await link.run(device) { s in try await s.write("OUTP1:STAT OFF") }
            return
        }
        try await link.run(device) { s in
            guard try await s.queryBool("OUTP2:STAT?") else {
                throw DeviceError(.notReady, device: device, message: "emission refused: the TEC is off",
                                  remedy: "switch the TEC on (OUTP2 / front panel) and wait for the temperature to settle")
            }
            let setpoint = try await s.queryDouble("SOUR2:TEMP?"), measured = try await s.queryDouble("MEAS:TEMP?")
            guard abs(measured - setpoint) <= configuration.tecWindow.si else {
                throw DeviceError(.notReady, device: device,
                                  message: String(format: "emission refused: the diode is at %.3f °C, %.3f K from the TEC setpoint %.3f °C (window %.3f K)",
                                                  measured, abs(measured - setpoint), setpoint, configuration.tecWindow.si),
                                  remedy: "wait for the TEC to settle, or check the TEC connection")
            }
            let current = try await s.queryDouble("SOUR:CURR?")
            guard current <= configuration.switchOnCurrent.si + 1e-12 else {
                throw DeviceError(.notReady, device: device,
                                  message: "emission refused: the setpoint is \(Current.amperes(current)), above the switch-on current \(configuration.switchOnCurrent)",
                                  remedy: "set the current to at most \(configuration.switchOnCurrent), switch on, then ramp with Laser.ramp(to:)")
            }
            try await ensureConstantCurrent(s)
            try await s.write("OUTP1:STAT ON")
            // §3.14.3: a keylock, an open interlock or a TEC fault keeps the output off or trips
            // it; neither shows in the error queue, so read the output state and the register.
            let on = try await s.queryBool("OUTP1:STAT?")
            let condition = try await s.queryInt("STAT:MEAS:COND?")
            let problems = Self.blockingConditions.filter { condition & $0.bit != 0 }.map(\.text)
            if !on || !problems.isEmpty {
                try await s.write("OUTP1:STAT OFF")
                throw DeviceError(.notReady, device: device,
                                  message: "emission did not start: the LD output reads \(on ? "on" : "off") and STAT:MEAS:COND? is \(condition)"
                                      + (problems.isEmpty ? "" : " (\(problems.joined(separator: ", ")))") + "; the output was switched off again",
                                  remedy: "check the keylock and the LD interlock plug, the TEC and its cable, then switch on again")
            }
        }
    }

    /// STATus:MEASurement bits that mean the LD must not (or cannot) emit (§3.14.3 table).
    static let blockingConditions: [(bit: Int, text: String)] = [
        (1, "keylock protection active"), (4, "LD interlock active"), (8, "LD current limit reached"), (16, "LD output inhibit active"),
        (256, "temperature protection active"), (512, "temperature window failure"), (1024, "temperature sensor failure"),
        (4096, "TEC connection failure"), (16384, "over temperature"),
    ]

    /// Constant-current mode and analog modulation off (§3.7.1, §3.7.6), forced when another
    /// program or the front panel left them otherwise, then read back.
    private func ensureConstantCurrent(_ s: SCPISession) async throws {
        if try await s.query("SOUR:FUNC:MODE?").uppercased().hasPrefix("CURR") == false {
            try await s.write("SOUR:FUNC:MODE CURR")
            guard try await s.query("SOUR:FUNC:MODE?").uppercased().hasPrefix("CURR") else {
                throw DeviceError(.instrumentError, device: device, message: "emission refused: the LD source stays out of constant-current mode",
                                  remedy: "select constant current on the controller's front panel")
            }
        }
        if try await s.queryBool("SOUR:AM:STAT?") {
            try await s.write("SOUR:AM:STAT OFF")
            guard try await !s.queryBool("SOUR:AM:STAT?") else {
                throw DeviceError(.instrumentError, device: device, message: "emission refused: analog modulation stays on, so the diode current is not the setpoint",
                                  remedy: "switch modulation off on the controller's front panel")
            }
        }
    }

    public func isEmitting() async throws -> Bool {
        try await link.run(device) { s in try await s.queryBool("OUTP1:STAT?") }
    }

    public func wavelength() async throws -> Length { configuration.wavelength }

    public func setTemperature(_ setpoint: Temperature) async throws {
        guard limits.tecSetpoint.contains(setpoint) else {
            throw DeviceError.refused(device, String(format: "TEC setpoint %.3f °C is outside the controller's %.3f…%.3f °C",
                                                     setpoint.celsius, limits.tecSetpoint.min.celsius, limits.tecSetpoint.max.celsius)
                                          + " (\(limits.tecSetpoint.source))",
                                      remedy: "choose a setpoint inside the range")
        }
        if let soft = configuration.softTemperature, !soft.contains(setpoint.si) {
            throw DeviceError.refused(device, String(format: "TEC setpoint %.3f °C is outside the bench limit", setpoint.celsius) + " (declared at \(soft.source))",
                                      remedy: "stay within the bench file's temperature limit")
        }
        try await link.run(device) { s in try await s.write("SOUR2:TEMP \(String(format: "%.3f", setpoint.celsius))") }
    }

    /// The measured diode temperature.
    public func temperature() async throws -> Temperature {
        .celsius(try await link.run(device) { s in try await s.queryDouble("MEAS:TEMP?") })
    }
}

/// `driver: thorlabs-cld1015`. Options: `wavelength` (required), `tec-window`, `switch-on-current`.
public struct ThorlabsCLD1015Driver: DriverFactory {
    public let name = "thorlabs-cld1015"
    public let families: [DeviceFamily] = [.laser]
    public let description: InstrumentDescription
    public let limits: ThorlabsCLD1015.Limits
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        self.description = description
        self.limits = try ThorlabsCLD1015.Limits(description)
        self.connector = connector
    }

    public var summary: String { "\(description.manufacturer) \(description.name) over USBTMC; commands: \(description.manual)" }

    public func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] {
        family == .laser ? ["current": limits.current.limitRange, "temperature": limits.tecSetpoint.limitRange] : [:]
    }

    func configuration(_ binding: RoleBinding) throws(BenchFileError) -> ThorlabsCLD1015.Configuration {
        guard let o = try binding.options(allowed: ["wavelength", "tec-window", "switch-on-current"]) else {
            throw binding.fail(binding.benchFile, "driver thorlabs-cld1015 needs 'options: {wavelength: 1550 nm}': the controller cannot know the diode's wavelength")
        }
        var c = ThorlabsCLD1015.Configuration(wavelength: try o.required("wavelength", "the diode's wavelength, e.g. 'wavelength: 1550 nm'").positive(Length.self, "wavelength"))
        if let w = try o.optional("tec-window") { c.tecWindow = try w.positive(Temperature.self, "tec-window") }
        if let s = try o.optional("switch-on-current") {
            c.switchOnCurrent = try s.quantity(Current.self)
            guard c.switchOnCurrent.si >= 0, c.switchOnCurrent <= limits.current.max else {
                throw s.fail("switch-on-current must be 0 … \(limits.current.max)")
            }
        }
        c.softCurrent = binding.softLimit("current")
        c.softTemperature = binding.softLimit("temperature")
        return c
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try configuration(binding)
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let configuration = try configuration(binding)
        let link = try await context.link(to: try binding.usbtmcAddress(), using: connector, device: binding.deviceName)
        return try await ThorlabsCLD1015.open(link: link, device: binding.deviceName, limits: limits, configuration: configuration)
    }
}
