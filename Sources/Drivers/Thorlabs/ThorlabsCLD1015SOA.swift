import BenchIO
import BenchKit
import Foundation

/// The client's phase-insensitive amplifier as a butterfly semiconductor optical amplifier (e.g. a
/// Thorlabs SOA1013SXS) in the butterfly mount of a Thorlabs CLD1015 controller (USBTMC
/// 1313:804F), as a BenchKit `OpticalAmplifier`.
///
/// An SOA's small-signal gain is set by its drive current. The bench file gives the gain measured
/// at a list of currents (`gain-table`, measured on this SOA at the protocol's wavelength and input
/// power); `setGain` interpolates the current for a gain between two measured points (piecewise
/// linear, `CalibrationTable`) and `gain()` maps the measured diode current back through the same
/// table. Gains outside the table are refused: the SOA was never measured there.
///
/// Commands: the CLD1015's laser-diode commands (`CLD1015Controller`: Series 4000 SCPI
/// Programmer's Reference v3.3 §3.4.1 LD output, §3.7.1 source function, §3.7.2 current limit,
/// §3.7.3 current setpoint, §3.7.6 modulation, §3.14.3 measurement register), and
/// `MEASure[:SCALar]:CURRent[:DC]?` (§3.3.6 simple measurement) for the current actually flowing.
///
/// Safety (docs/hardware.md §6.6, as for a laser diode): no current above min(`current-limit` of
/// the bench file, the controller's limit read back when opened, the instrument file's 1.5 A) is
/// ever sent, and a gain needing more is refused before any byte is sent; the output is switched
/// on only with the TEC on and settled, at most the switch-on current, in constant-current mode
/// with modulation off, and the current is ramped in steps; `makeSafe` ramps the current to 0 and
/// switches the output off (the unpumped SOA absorbs: no light passes the client's mode 1).
public actor ThorlabsCLD1015SOA: OpticalAmplifier {
    public struct Configuration: Sendable {
        /// Small-signal gain (linear) against drive current (x in A).
        public var gainTable: CalibrationTable
        /// The SOA's maximum drive current (its datasheet), declared in the bench file.
        public var currentLimit: Current
        public var tecWindow: Temperature = .kelvin(0.1)
        public var switchOnCurrent: Current = .milliamperes(10)
        public var rampStep: Current = .milliamperes(10)
        public var rampInterval: Duration = .milliseconds(20)

        public init(gainTable: CalibrationTable, currentLimit: Current) {
            self.gainTable = gainTable
            self.currentLimit = currentLimit
        }
    }

    public nonisolated var family: DeviceFamily { .amplifier }
    public nonisolated let device: String
    let controller: CLD1015Controller
    let limits: ThorlabsCLD1015.Limits
    let configuration: Configuration
    /// The controller's current limit as read back when it was opened (or reconnected).
    public private(set) var hardwareCurrentLimit: Current

    init(controller: CLD1015Controller, limits: ThorlabsCLD1015.Limits, configuration: Configuration, hardwareCurrentLimit: Current) {
        self.controller = controller
        self.device = controller.device
        self.limits = limits
        self.configuration = configuration
        self.hardwareCurrentLimit = hardwareCurrentLimit
    }

    /// Opens the controller and reads back its current limit.
    public static func open(link: InstrumentLink, device: String, limits: ThorlabsCLD1015.Limits, configuration: Configuration) async throws -> ThorlabsCLD1015SOA {
        let controller = CLD1015Controller(link: link, device: device)
        return ThorlabsCLD1015SOA(controller: controller, limits: limits, configuration: configuration,
                                  hardwareCurrentLimit: try await ThorlabsCLD1015.opening(controller))
    }

    /// Reopens the controller by its address (USB serial number) and reads its current limit
    /// back as opening does. The only setpoint this driver holds is the gain, which needs the
    /// pump on: it comes back through `setGain` (the client's warm-up), never here.
    public func reconnect() async throws {
        try await controller.link.reopen(device)
        hardwareCurrentLimit = try await ThorlabsCLD1015.opening(controller)
    }

    /// The highest current this driver will ever send.
    public var currentCeiling: Current { min(configuration.currentLimit, hardwareCurrentLimit, limits.current.max) }

    /// The drive current for `gain`, checked against the table and the ceiling (no I/O).
    public func current(forGain gain: Double) throws -> Current {
        let table = configuration.gainTable
        guard let amps = table.x(for: gain) else {
            throw DeviceError.refused(device, String(format: "gain %.6g is outside the SOA's measured gain table %.6g … %.6g", gain, table.yRange.lowerBound, table.yRange.upperBound)
                                          + " (\(table.source))",
                                      remedy: "request a gain inside the table, or measure the SOA further and extend gain-table")
        }
        let current = Current.amperes(amps)
        guard current <= currentCeiling else {
            throw DeviceError.refused(device, String(format: "gain %.6g needs ", gain) + "\(current), above the ceiling \(currentCeiling) = min(current-limit \(configuration.currentLimit), controller limit \(hardwareCurrentLimit), instrument file \(limits.current.max))",
                                      remedy: "request a lower gain; raise the controller's limit only if the SOA allows it")
        }
        return current
    }

    public func identify() async throws -> InstrumentIdentity { try await controller.identify() }

    /// Current ramped to 0, output off (idempotent).
    public func makeSafe() async throws {
        try await controller.rampDownAndSwitchOff(step: configuration.rampStep, interval: configuration.rampInterval)
    }

    public func settings() async throws -> [String: String] {
        let on = try await controller.isOutputOn()
        let setpoint = try await controller.setpoint()
        var out = ["output": on ? "on" : "off", "current": "\(setpoint)", "ceiling": "\(currentCeiling)",
                   "gain-table": "\(configuration.gainTable.points.count) points, gain \(String(format: "%.6g … %.6g", configuration.gainTable.yRange.lowerBound, configuration.gainTable.yRange.upperBound)) (\(configuration.gainTable.source))"]
        out["gain"] = String(format: "%.6g", try await gain())
        return out
    }

    /// Sets the gain through the drive current. With the output off: the setpoint at most the
    /// switch-on current, the output switched on (checked), then ramped; with it on: ramped from
    /// the present setpoint.
    public func setGain(_ gain: Double) async throws {
        guard gain.isFinite else {
            throw DeviceError.refused(device, "gain \(gain) is not a finite number", remedy: "request a gain inside the SOA's gain table")
        }
        let target = try current(forGain: gain)
        let start: Current
        if try await controller.isOutputOn() {
            start = try await controller.setpoint()
        } else {
            start = min(target, configuration.switchOnCurrent)
            try await controller.writeSetpoint(start)
            try await controller.switchOn(tecWindow: configuration.tecWindow, switchOnCurrent: configuration.switchOnCurrent)
        }
        try await controller.ramp(from: start, to: target, step: configuration.rampStep, interval: configuration.rampInterval)
    }

    /// The gain at the measured diode current (§3.3.6 `MEAS:CURR?`), through the gain table. With
    /// the output off the SOA is unpumped: the table's gain at 0 A if it was measured, else 0
    /// (it absorbs).
    public func gain() async throws -> Double {
        let table = configuration.gainTable
        guard try await controller.isOutputOn() else { return table.y(at: 0) ?? 0 }
        let amps = try await controller.link.run(device) { s in try await s.queryDouble("MEAS:CURR?") }
        guard let g = table.y(at: amps) else {
            throw DeviceError(.instrumentError, device: device,
                              message: "the SOA current reads \(Current.amperes(amps)), outside the gain table's \(Current.amperes(table.xRange.lowerBound)) … \(Current.amperes(table.xRange.upperBound)) (\(table.source)): something other than qbench set it",
                              remedy: "call makeSafe and set the gain again; check the controller's front panel")
        }
        return g
    }
}

/// `driver: thorlabs-cld1015-soa`. Options: `gain-table` and `current-limit` (required),
/// `tec-window`, `switch-on-current`, `ramp-step`, `ramp-interval`.
public struct ThorlabsCLD1015SOADriver: DriverFactory {
    public let name = "thorlabs-cld1015-soa"
    public let families: [DeviceFamily] = [.amplifier]
    public let description: InstrumentDescription
    public let limits: ThorlabsCLD1015.Limits
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        self.description = description
        self.limits = try ThorlabsCLD1015.Limits(description)
        self.connector = connector
    }

    public var summary: String { "semiconductor optical amplifier on a \(description.manufacturer) \(description.name) over USBTMC; commands: \(description.manual)" }

    static let optionKeys = ["gain-table", "current-limit", "tec-window", "switch-on-current", "ramp-step", "ramp-interval"]

    func configuration(_ binding: RoleBinding) throws(BenchFileError) -> ThorlabsCLD1015SOA.Configuration {
        guard let o = try binding.options(allowed: Self.optionKeys) else {
            throw binding.fail(binding.benchFile, "driver thorlabs-cld1015-soa needs options: 'current-limit' (the SOA's maximum current) and 'gain-table' (the gain measured at each current), see docs/real-bench.md")
        }
        let limitReader = try o.required("current-limit", "the SOA's maximum drive current from its datasheet, e.g. 'current-limit: 400 mA'")
        let currentLimit = try limitReader.positive(Current.self, "current-limit")
        guard currentLimit <= limits.current.max else {
            throw limitReader.fail("current-limit \(currentLimit) is above what the CLD1015 can drive (\(limits.current.text), \(limits.current.source))")
        }
        let tableReader = try o.required("gain-table", "the gain measured at each drive current, e.g. '[{current: 60 mA, gain: 1}, {current: 150 mA, gain: 6}]'")
        let table = try tableReader.calibrationTable(x: "current", Current.self, y: "gain")
        guard table.points[1].y > table.points[0].y else {
            throw tableReader.fail("the gain table falls with current: an SOA's gain rises with its drive current; check the columns")
        }
        for (k, p) in table.points.enumerated() where p.x < 0 || p.y <= 0 || Current.amperes(p.x) > currentLimit {
            throw try tableReader.items[k].fail("the point at \(Current.amperes(p.x)) (gain \(p.y)) is outside 0 … current-limit \(currentLimit), or its gain is not positive")
        }
        if let soft = binding.softLimit("gain") {
            for bound in [soft.min, soft.max].compactMap({ $0 }) where !table.yRange.contains(bound) {
                throw BenchFileError(file: tableReader.file, line: Int(soft.source.split(separator: ":").last ?? "") ?? tableReader.tree.line,
                                     message: "\(binding.role.rawValue): the gain limit \(bound) lies outside the gain table's \(table.yRange.lowerBound) … \(table.yRange.upperBound) (\(table.source)); measure the SOA there or narrow the limit")
            }
        }
        var c = ThorlabsCLD1015SOA.Configuration(gainTable: table, currentLimit: currentLimit)
        if let w = try o.optional("tec-window") { c.tecWindow = try w.positive(Temperature.self, "tec-window") }
        if let s = try o.optional("switch-on-current") {
            c.switchOnCurrent = try s.positive(Current.self, "switch-on-current")
            guard c.switchOnCurrent <= currentLimit else { throw s.fail("switch-on-current must be at most current-limit \(currentLimit)") }
        }
        if let s = try o.optional("ramp-step") { c.rampStep = try s.positive(Current.self, "ramp-step") }
        if let s = try o.optional("ramp-interval") { c.rampInterval = try s.duration() }
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
        return try await ThorlabsCLD1015SOA.open(link: link, device: binding.deviceName, limits: limits, configuration: configuration)
    }
}
