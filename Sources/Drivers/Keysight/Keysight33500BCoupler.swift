import BenchIO
import BenchKit
import Foundation

/// The client's tunable splitter as a voltage-controlled variable-ratio fibre coupler (or a
/// variable optical attenuator in the tap arm) whose analog control input is driven by one DC
/// output of a Keysight 33500B-series AWG (USBTMC 0957:2807), as a BenchKit `TunableSplitter`.
///
/// The bench file gives the kept fraction measured at a list of control voltages
/// (`kept-fraction-table`, measured on this coupler with a power meter on both outputs);
/// `setKeptFraction` interpolates the voltage (piecewise linear, `CalibrationTable`) and holds it as
/// the channel's DC level; `keptFraction()` reads the level back and maps it through the same
/// table. Fractions outside the table, and voltages outside the channel's output window or the
/// table, are refused before any byte is sent.
///
/// Commands (33500B/33600A Operating and Service Guide, SCPI Programming Reference, through
/// `Keysight33500BChannel`): `OUTPut<n>:LOAD 50|INFinity` when opened (OUTPut subsystem: the
/// programmed level is right only for the real load); `SOURce<n>:BURSt:STATe?`/`OFF` and
/// `SOURce<n>:FUNCtion DC` (BURSt subsystem: "DC is not allowed" in burst mode);
/// `SOURce<n>:VOLTage:OFFSet <V>` (VOLTage subsystem: in DC the output level is the offset) and its
/// query; `SOURce<n>:FUNCtion?`; `OUTPut<n> ON|OFF` and `?`.
///
/// Safe state: the control input held at 0 V (the coupler's rest state, a point the table must
/// contain), driven rather than left floating. With the output off, the input is open and the
/// coupler is taken to be at its 0 V state (check that its input has a pull-down).
public actor Keysight33500BCoupler: TunableSplitter {
    public nonisolated var family: DeviceFamily { .splitter }
    public nonisolated let device: String
    let channel: Keysight33500BChannel
    /// Kept fraction against control voltage (x in V).
    let table: CalibrationTable
    var outputOn: Bool
    /// The control voltage this session set (the safe state's 0 V included), restored by
    /// `reconnect`; nil before the first.
    private(set) var heldVoltage: Voltage?

    init(device: String, channel: Keysight33500BChannel, table: CalibrationTable, outputOn: Bool) {
        self.device = device
        self.channel = channel
        self.table = table
        self.outputOn = outputOn
    }

    /// Opens the channel: sets its load and reads its output state. Nothing else changes.
    public static func open(device: String, channel: Keysight33500BChannel, table: CalibrationTable) async throws -> Keysight33500BCoupler {
        try await channel.configureLoad(device)
        let on = try await channel.isOutputOn(device)
        return Keysight33500BCoupler(device: device, channel: channel, table: table, outputOn: on)
    }

    /// The control voltage for `fraction`, checked against the table and the channel (no I/O).
    public func voltage(forKeptFraction fraction: Double) throws -> Voltage {
        guard fraction.isFinite, let volts = table.x(for: fraction) else {
            throw DeviceError.refused(device, String(format: "kept fraction %.6g is outside the coupler's measured table %.6g … %.6g", fraction, table.yRange.lowerBound, table.yRange.upperBound)
                                          + " (\(table.source))",
                                      remedy: "request a fraction inside the table, or measure the coupler further and extend kept-fraction-table")
        }
        let v = Voltage.volts(volts)
        try channel.checkLevel(v, device, what: "the coupler's control voltage")
        return v
    }

    public func identify() async throws -> InstrumentIdentity { try await channel.identify(device) }

    /// 0 V held, output on (idempotent).
    public func makeSafe() async throws {
        try await channel.holdLevel(.zero, enableOutput: !outputOn, device)
        outputOn = true
        heldVoltage = .zero
    }

    /// Reopens the AWG by its address (USB serial number), sets the channel's load as opening
    /// does and holds the control voltage this session set: a power-cycled AWG comes back with
    /// its output off, which leaves the coupler at its 0 V state whatever fraction the run asked
    /// for. Before any was set, it reads the output state as opening does.
    public func reconnect() async throws {
        try await channel.link.reopen(device)
        try await channel.configureLoad(device)
        if let v = heldVoltage {
            try await channel.holdLevel(v, enableOutput: true, device)
            outputOn = true
        } else {
            outputOn = try await channel.isOutputOn(device)
        }
    }

    public func settings() async throws -> [String: String] {
        ["kept-fraction": String(format: "%.6g", try await keptFraction()),
         "control": "\(channel.name), load \(channel.load == .fiftyOhm ? "50 Ω" : "high-Z"), output \(outputOn ? "on" : "off")",
         "kept-fraction-table": "\(table.points.count) points, \(String(format: "%.6g … %.6g", table.yRange.lowerBound, table.yRange.upperBound)) (\(table.source))"]
    }

    public func setKeptFraction(_ fraction: Double) async throws {
        let v = try voltage(forKeptFraction: fraction)
        try await channel.holdLevel(v, enableOutput: !outputOn, device)
        outputOn = true
        heldVoltage = v
    }

    /// The kept fraction at the channel's DC level, read back; at the table's 0 V point with the
    /// output off.
    public func keptFraction() async throws -> Double {
        outputOn = try await channel.isOutputOn(device)
        guard outputOn else {
            guard let rest = table.y(at: 0) else {
                throw DeviceError(.instrumentError, device: device, message: "the control output is off and the table has no 0 V point",
                                  remedy: "add the coupler's 0 V point to kept-fraction-table")
            }
            return rest
        }
        let function = try await channel.function(device)
        guard function == "DC" else {
            throw DeviceError(.instrumentError, device: device, message: "\(channel.name) plays function \(function), not a DC level: something other than qbench set it",
                              remedy: "call makeSafe and set the kept fraction again; check that no other role or program uses this AWG channel")
        }
        let level = try await channel.offset(device)
        guard let fraction = table.y(at: level.si) else {
            throw DeviceError(.instrumentError, device: device, message: "\(channel.name) holds \(level), outside the kept-fraction table's \(Voltage.volts(table.xRange.lowerBound)) … \(Voltage.volts(table.xRange.upperBound)) (\(table.source))",
                              remedy: "call makeSafe and set the kept fraction again")
        }
        return fraction
    }
}

/// `driver: keysight-33500b-coupler`. Options: `channel` (required), `awg` (defaults to the role's
/// address), `load` (`50 Ω` or `high-z`), `kept-fraction-table` (required, with a 0 V point).
public struct Keysight33500BCouplerDriver: DriverFactory {
    public let name = "keysight-33500b-coupler"
    public let families: [DeviceFamily] = [.splitter]
    public let description: InstrumentDescription
    public let limits: Keysight33500BLimits
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        self.description = description
        self.limits = try Keysight33500BLimits(description)
        self.connector = connector
    }

    public var summary: String { "voltage-controlled coupler on a \(description.manufacturer) \(description.name) DC output over USBTMC; commands: \(description.manual)" }

    public func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] {
        family == .splitter ? ["kept-fraction": LimitRange(min: 0, max: 1, source: "a kept fraction")] : [:]
    }

    func options(_ binding: RoleBinding) throws(BenchFileError) -> (AWGChannelOption, CalibrationTable) {
        guard let o = try binding.options(allowed: AWGChannelOption.keys + ["kept-fraction-table"]) else {
            throw binding.fail(binding.benchFile, "driver keysight-33500b-coupler needs options: 'channel' (the AWG output wired to the coupler's control input) and 'kept-fraction-table', see docs/real-bench.md")
        }
        let option = try AWGChannelOption.parse(o, defaultAWG: binding.address, limits: limits, extraKeys: ["kept-fraction-table", TransportQuirks.optionKey])
        let r = try o.required("kept-fraction-table", "the kept fraction measured at each control voltage, e.g. '[{voltage: 0 V, kept-fraction: 0.02}, {voltage: 5 V, kept-fraction: 0.98}]'")
        let table = try r.calibrationTable(x: "voltage", Voltage.self, y: "kept-fraction")
        let window = limits.window(option.load)
        for (k, p) in table.points.enumerated() {
            let item = try r.items[k]
            guard (0...1).contains(p.y) else { throw item.fail("the kept fraction \(p.y) at \(Voltage.volts(p.x)) is outside 0 … 1") }
            guard window.contains(.volts(p.x)) else {
                throw item.fail("the control voltage \(Voltage.volts(p.x)) is outside channel \(option.channel)'s output window \(window.text) into \(option.load == .fiftyOhm ? "50 Ω" : "high-Z") (\(window.source))")
            }
        }
        guard table.y(at: 0) != nil else {
            throw r.fail("the table must contain 0 V: the coupler's state at rest, which the safe state holds")
        }
        if let soft = binding.softLimit("kept-fraction") {
            for bound in [soft.min, soft.max].compactMap({ $0 }) where !table.yRange.contains(bound) {
                throw BenchFileError(file: r.file, line: Int(soft.source.split(separator: ":").last ?? "") ?? r.tree.line,
                                     message: "\(binding.role.rawValue): the kept-fraction limit \(bound) lies outside the table's \(table.yRange.lowerBound) … \(table.yRange.upperBound) (\(table.source)); measure the coupler there or narrow the limit")
            }
        }
        return (option, table)
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try options(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] {
        let line = try AWGChannelOption.channelLine(binding, extraKeys: ["kept-fraction-table"])
        return [try options(binding).0.claim("control voltage", line: line)]
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        _ = try binding.usbtmcAddress()
        let (option, table) = try options(binding)
        let channel = try await option.open(context, connector: connector, limits: limits)
        return try await Keysight33500BCoupler.open(device: binding.deviceName, channel: channel, table: table)
    }
}
