import BenchIO
import BenchKit

/// A MEMS variable optical attenuator set by a control voltage (a Thorlabs V1550A-class VOA, 0–5 V),
/// the voltage held as a DC level by one channel of a Keysight 33500B (docs/hardware.md §6.5). The
/// VOA has no interface of its own: its attenuation is the A(V) table measured on this VOA at this
/// wavelength and written in the bench file, interpolated by monotone cubics (`CalibrationTable`).
///
/// - MEMS VOAs show hysteresis, so every setpoint is approached from the same side: a move to a
///   lower voltage first goes down to the table's lowest voltage, then up to the setpoint.
/// - A normally-open MEMS VOA is at its least attenuation with no control voltage, so the safe state
///   holds the table's highest-attenuation voltage instead of switching the output off.
/// - The attenuation read back is the table at the voltage the AWG reports holding: it says what
///   was asked of the VOA; `calibrate attenuation` measures what the light does.
public actor DACVariableAttenuator: VariableAttenuator {
    public nonisolated var family: DeviceFamily { .attenuator }
    public nonisolated let device: String
    let channel: Keysight33500BChannel
    let table: CalibrationTable
    /// The control voltage this session last set (restored by `reconnect`); nil before the first.
    private(set) var heldVoltage: Double?

    init(channel: Keysight33500BChannel, table: CalibrationTable, device: String) {
        self.channel = channel; self.table = table; self.device = device
    }

    /// Opens on the channel, checks every table voltage is one the channel can hold into its load,
    /// and leaves the VOA at its safe (highest) attenuation.
    public static func open(channel: Keysight33500BChannel, table: CalibrationTable, device: String) async throws -> DACVariableAttenuator {
        for v in [table.xRange.lowerBound, table.xRange.upperBound] { try channel.checkLevel(.volts(v), device, what: "VOA control voltage") }
        let voa = DACVariableAttenuator(channel: channel, table: table, device: device)
        try await voa.configure()
        return voa
    }

    /// What opening does, and reconnecting again: the channel's load, then the control voltage
    /// this session holds (the safe, highest attenuation before any was set).
    func configure() async throws {
        try await channel.configureLoad(device)
        try await hold(heldVoltage ?? safeVoltage)
    }

    /// Reopens the AWG by its address (USB serial number) and configures the channel as opening
    /// does, at the attenuation this session set: a power-cycled AWG comes back with its output
    /// off, which leaves a normally-open VOA at its least attenuation.
    public func reconnect() async throws {
        try await channel.link.reopen(device)
        try await configure()
    }

    public func identify() async throws -> InstrumentIdentity { try await channel.identify(device) }

    /// The voltage of the table's highest attenuation.
    var safeVoltage: Double { table.increasing ? table.xRange.upperBound : table.xRange.lowerBound }

    public func makeSafe() async throws { try await hold(safeVoltage) }

    public func setAttenuation(_ attenuation: Decibels) async throws {
        guard let v = table.x(for: attenuation.dB) else {
            throw DeviceError(.invalidRequest, device: device,
                              message: "\(attenuation) is outside the VOA's measured table (\(Decibels(table.yRange.lowerBound)) … \(Decibels(table.yRange.upperBound)))",
                              remedy: "ask for an attenuation inside the table, or measure the table further and add the points to the bench file")
        }
        try await hold(v)
    }

    public func attenuation() async throws -> Decibels {
        let v = try await controlVoltage()
        guard let a = table.y(at: v) else {
            throw DeviceError(.notReady, device: device, message: "the AWG holds \(Voltage.volts(v)), outside the VOA's table (\(Voltage.volts(table.xRange.lowerBound)) … \(Voltage.volts(table.xRange.upperBound)))",
                              remedy: "set an attenuation (or enter the safe state) before reading it")
        }
        return Decibels(a)
    }

    public func settings() async throws -> [String: String] {
        let v = try await controlVoltage()
        return ["channel": channel.name, "control": "\(Voltage.volts(v))",
                "attenuation": table.y(at: v).map { "\(Decibels($0))" } ?? "outside the table",
                "table": "\(table.points.count) points, \(Decibels(table.yRange.lowerBound)) … \(Decibels(table.yRange.upperBound))"]
    }

    /// The voltage on the VOA: the channel's DC offset with its output on, 0 V with it off.
    func controlVoltage() async throws -> Double {
        guard try await channel.isOutputOn(device) else { return 0 }
        return try await channel.offset(device).si
    }

    /// Moves to `v` from below (hysteresis), holding each level with the output on.
    func hold(_ v: Double) async throws {
        let lowest = table.xRange.lowerBound
        if try await controlVoltage() > v, v > lowest {
            try await channel.holdLevel(.volts(lowest), enableOutput: true, device)
        }
        try await channel.holdLevel(.volts(v), enableOutput: true, device)
        heldVoltage = v
    }
}

/// `driver: dac-voa`, `address: usbtmc://…` (the Keysight 33500B holding the control voltage).
/// Options: `channel: N`, `load: 50 Ω | high-z`, and `table:` the measured A(V), one `[V, dB]` pair
/// per line with the voltages rising, e.g. `- [0 V, 0.6 dB]` (at least two points).
public struct DACVariableAttenuatorDriver: DriverFactory {
    public let name = "dac-voa"
    public let families: [DeviceFamily] = [.attenuator]
    public let limits: Keysight33500BLimits
    let connector: any InstrumentConnector

    public init(awg: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        limits = try Keysight33500BLimits(awg)
        self.connector = connector
    }

    public var summary: String { "voltage-controlled MEMS VOA (0–5 V class) on a Keysight 33500B channel's DC level, attenuation from a measured A(V) table" }

    func parse(_ binding: RoleBinding) throws(BenchFileError) -> (AWGChannelOption, CalibrationTable) {
        guard let o = try binding.options(allowed: AWGChannelOption.keys + ["table"]) else {
            throw binding.fail(binding.benchFile, "driver dac-voa needs 'options:' with the AWG channel and the VOA's measured table, e.g. {channel: 2, load: high-z, table: [[0 V, 0.6 dB], [5 V, 62 dB]]}")
        }
        let channel = try AWGChannelOption.parse(o, defaultAWG: binding.address, limits: limits, extraKeys: ["table"])
        let t = try o.required("table", "the VOA's measured attenuation against control voltage, one [V, dB] pair per point (docs/hardware.md §6.5)")
        let items = try t.items
        var volts: [Double] = [], decibels: [Double] = []
        for item in items {
            let pair = try item.items
            guard pair.count == 2 else { throw item.fail("a table point is a pair [voltage, attenuation], e.g. [2.5 V, 14.2 dB]") }
            volts.append(try pair[0].quantity(Voltage.self).si)
            do { decibels.append(try Decibels.parse(try pair[1].string).dB) } catch { throw pair[1].fail("bad unit: \(error)") }
        }
        let table: CalibrationTable
        do {
            table = try CalibrationTable(zip(volts, decibels).map { CalibrationTable.Point(x: $0, y: $1) }, source: "\(t.file):\(t.tree.line)",
                                         interpolation: .monotoneCubic)
        } catch {
            switch error {
            case let .notFinite(i), let .xNotIncreasing(i), let .yNotMonotone(i): throw items[i].fail("the voltage-to-attenuation table \(error)")
            case .tooShort: throw t.fail("the voltage-to-attenuation table \(error)")
            }
        }
        let window = limits.window(channel.load)
        for (i, v) in volts.enumerated() where !window.contains(.volts(v)) {
            throw items[i].fail("\(Voltage.volts(v)) is outside what channel \(channel.channel) can hold into \(channel.load == .fiftyOhm ? "50 Ω" : "high-Z") (\(window.text), \(window.source))")
        }
        return (channel, table)
    }

    public func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] { [:] }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try parse(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] {
        let line = try AWGChannelOption.channelLine(binding, extraKeys: ["table"])
        return [try parse(binding).0.claim("control voltage", line: line)]
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let (option, table) = try parse(context.binding)
        let channel = try await option.open(context, connector: connector, limits: limits)
        return try await DACVariableAttenuator.open(channel: channel, table: table, device: context.binding.deviceName)
    }
}
