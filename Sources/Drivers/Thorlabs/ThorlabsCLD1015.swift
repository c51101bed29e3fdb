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
/// switch-on current (ramp up afterwards with `Laser.ramp(to:)`); `makeSafe` ramps down in 10 mA
/// steps and switches the output off. The SCPI exchanges are `CLD1015Controller`'s, shared with
/// the client's amplifier driver (`ThorlabsCLD1015SOA`).
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
    /// The controller's current limit as read back when it was opened (or reconnected).
    public private(set) var hardwareCurrentLimit: Current
    /// The setpoints this session sent (restored by `reconnect`); nil until one was set.
    public private(set) var heldCurrent: Current?
    public private(set) var heldTemperature: Temperature?

    init(link: InstrumentLink, device: String, limits: Limits, configuration: Configuration, hardwareCurrentLimit: Current) {
        self.link = link
        self.device = device
        self.limits = limits
        self.configuration = configuration
        self.hardwareCurrentLimit = hardwareCurrentLimit
    }

    /// Opens the controller and reads back its hardware current limit.
    public static func open(link: InstrumentLink, device: String, limits: Limits, configuration: Configuration) async throws -> ThorlabsCLD1015 {
        let limit = try await opening(CLD1015Controller(link: link, device: device))
        return ThorlabsCLD1015(link: link, device: device, limits: limits, configuration: configuration, hardwareCurrentLimit: limit)
    }

    /// What opening does, and reconnecting again: the controller's current limit, read back.
    static func opening(_ controller: CLD1015Controller) async throws -> Current { try await controller.currentLimit() }

    /// Reopens the controller by its address (USB serial number), reads its current limit back
    /// as opening does, and restores the TEC setpoint and the LD current setpoint this session
    /// set, through the same checks as setting them (the ceiling with the limit read now). The
    /// LD output is never switched on here: emission comes back only through `setEmission`
    /// (the station's warm-up).
    public func reconnect() async throws {
        try await link.reopen(device)
        hardwareCurrentLimit = try await Self.opening(controller)
        if let t = heldTemperature { try await setTemperature(t) }
        if let c = heldCurrent { try await setCurrent(c) }
    }

    /// The highest current this driver will ever send: min(soft, hardware read-back, instrument file).
    public var currentCeiling: Current {
        var ceiling = min(hardwareCurrentLimit, limits.current.max)
        if let soft = configuration.softCurrent?.max { ceiling = min(ceiling, .amperes(soft)) }
        return ceiling
    }

    var controller: CLD1015Controller { CLD1015Controller(link: link, device: device) }

    public func identify() async throws -> InstrumentIdentity { try await controller.identify() }

    /// Ramps the current down in 10 mA steps and switches the LD output off; with the output
    /// already off, zeroes the setpoint and switches it off again (idempotent). The TEC stays on.
    public func makeSafe() async throws {
        try await controller.rampDownAndSwitchOff(step: .milliamperes(10), interval: .milliseconds(20))
        heldCurrent = .zero
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
        try await controller.writeSetpoint(current)
        heldCurrent = current
    }

    public func current() async throws -> Current { try await controller.setpoint() }

    /// Switches the LD output. On: only with the TEC on and settled within the window, and with
    /// the setpoint at most the switch-on current (`CLD1015Controller.switchOn`).
    public func setEmission(_ on: Bool) async throws {
        if on {
            try await controller.switchOn(tecWindow: configuration.tecWindow, switchOnCurrent: configuration.switchOnCurrent)
        } else {
            try await controller.switchOff()
        }
    }

    public func isEmitting() async throws -> Bool { try await controller.isOutputOn() }

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
        heldTemperature = setpoint
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
