import BenchIO
import BenchKit
import Foundation

/// Thorlabs PM100USB optical power meter (USBTMC, 1313:8072) as a BenchKit `PowerMeter`.
///
/// Commands from the Thorlabs PM100USB Operation Manual, chapter 7 "Computer Interface" (the SCPI
/// command set shared with the PM100D and PM400; PM400 manual §5.5 lists the same SENSe tree):
/// - `SENSe:CORRection:WAVelength <nm>`, `SENSe:CORRection:WAVelength? MINimum|MAXimum`:
///   responsivity correction; the range depends on the connected sensor head;
/// - `SENSe:AVERage:COUNt <n>`: averaging, one sample takes about 3 ms;
/// - `SENSe:POWer:DC:UNIT W`, `SENSe:POWer:DC:RANGe:AUTO ON`;
/// - `MEASure:POWer?`: one averaged, corrected reading in W;
/// - `SENSe:CORRection:COLLect:ZERO[:INITiate]`, `…:ZERO:STATe?` (1 while the dark adjustment
///   runs), `…:ZERO:MAGNitude?` (the dark offset, W), `…:ZERO:ABORt`;
/// - `SYSTem:SENSor:IDN?`: the connected head, `<name>,<serial>,<calibration date>,<type>,<subtype>,<flags>`
///   (pymeasure `configure_sensor` and InstrumentKit `PM100USB.Sensor` read it the same way; flag
///   1 = power head, 32 = wavelength settable); read first when opened: "no sensor" is refused, an
///   energy-only head is refused, and a head whose wavelength cannot be set keeps its fixed
///   correction (a different wavelength is refused, `SENS:CORR:WAV` is never sent to it);
/// - `*IDN?`, `SYSTem:ERRor?` (read after every set command by `SCPISession`).
/// The short forms sent are the manual's upper-case abbreviations (mixed forms are rejected).
public actor ThorlabsPM100USB: PowerMeter {
    /// What the hardware allows, from `Devices/instruments/thorlabs-pm100usb.yaml`.
    public struct Limits: Sendable {
        public var wavelength: InstrumentRange<LengthDimension>
        public var averagingCount: ClosedRange<Int>
        public var sampleTime: Duration
        public var zeroTimeout: Duration
        public var zeroPollInterval: Duration

        public init(_ d: InstrumentDescription) throws(BenchFileError) {
            wavelength = try d.range("wavelength", Length.self)
            averagingCount = try d.countRange("averaging-count")
            sampleTime = try d.duration("sample-time")
            zeroTimeout = try d.duration("zero-timeout")
            zeroPollInterval = try d.duration("zero-poll-interval")
        }
    }

    public nonisolated var family: DeviceFamily { .powerMeter }
    public nonisolated let device: String
    let link: InstrumentLink
    let limits: Limits
    /// The settable wavelength range (nm): the instrument file's range intersected with what the
    /// sensor head reports when the meter is opened.
    public private(set) var wavelengthRange: ClosedRange<Double>
    /// The head as `SYST:SENS:IDN?` reports it (nil until opened).
    public private(set) var sensor: Sensor?
    private var averageCount: Int?
    private var zeroInProgress = false
    /// The correction wavelength this session set (at opening or later), restored by `reconnect`.
    private var heldWavelength: Length?

    public init(link: InstrumentLink, device: String, limits: Limits) {
        self.link = link
        self.device = device
        self.limits = limits
        wavelengthRange = limits.wavelength.min.nanometres...limits.wavelength.max.nanometres
    }

    /// Opens the meter: reads the sensor's wavelength range, selects W and auto range, and sets
    /// the correction wavelength when one is given.
    public static func open(link: InstrumentLink, device: String, limits: Limits, wavelength: Length? = nil) async throws -> ThorlabsPM100USB {
        let meter = ThorlabsPM100USB(link: link, device: device, limits: limits)
        try await meter.prepare(wavelength: wavelength)
        return meter
    }

    /// The sensor head (`SYST:SENS:IDN?`).
    public struct Sensor: Sendable, Equatable {
        public var name: String
        public var serial: String
        public var type: Int
        public var flags: Int
        public var isPowerSensor: Bool { flags & 1 != 0 }
        public var isWavelengthSettable: Bool { flags & 32 != 0 }

        /// Parses `S155C,1234567,01-Jan-2024,1,18,289`; nil when it is not six fields.
        public init?(reply: String) {
            let f = reply.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces.union(["\""])) }
            guard f.count >= 6, let type = Int(f[3]), let flags = Int(f[5]) else { return nil }
            name = f[0]; serial = f[1]; self.type = type; self.flags = flags
        }
    }

    func prepare(wavelength: Length?) async throws {
        let reply = try await link.run(device) { s in try await s.query("SYST:SENS:IDN?") }
        guard let head = Sensor(reply: reply) else {
            throw DeviceError(.instrumentError, device: device, message: "SYST:SENS:IDN? answered '\(reply)', not name,serial,date,type,subtype,flags",
                              remedy: "check that this is a Thorlabs PM100-series meter (*IDN?) and update its firmware")
        }
        guard head.name.lowercased() != "no sensor", !head.name.isEmpty else {
            throw DeviceError(.notReady, device: device, message: "no sensor head is connected to the meter",
                              remedy: "plug the photodiode head into the meter's sensor connector, then open the bench again")
        }
        guard head.isPowerSensor else {
            throw DeviceError(.notReady, device: device, message: "the sensor head \(head.name) is not a power head (flags \(head.flags))",
                              remedy: "connect a photodiode or thermal power head; energy heads cannot read CW power")
        }
        sensor = head
        let (lo, hi) = try await link.run(device) { s in
            (try await s.queryDouble("SENS:CORR:WAV? MIN"), try await s.queryDouble("SENS:CORR:WAV? MAX"))
        }
        let low = max(lo, limits.wavelength.min.nanometres), high = min(hi, limits.wavelength.max.nanometres)
        guard low <= high else {
            throw DeviceError(.notReady, device: device, message: "the sensor head reports \(SCPINumber.format(lo))…\(SCPINumber.format(hi)) nm, outside the meter's \(limits.wavelength.text)",
                              remedy: "connect a sensor head for this wavelength band")
        }
        wavelengthRange = low...high
        try await link.run(device) { s in
            try await s.write("SENS:POW:UNIT W")
            try await s.write("SENS:POW:RANG:AUTO ON")
        }
        if let wavelength { try await setWavelength(wavelength) }
    }

    public func identify() async throws -> InstrumentIdentity {
        let idn = try await link.run(device) { s in try await s.identify() }
        return InstrumentIdentity(manufacturer: idn.manufacturer, model: idn.model, serial: idn.serialNumber, firmware: idn.firmware)
    }

    /// A power meter has no hazardous state; a dark adjustment still running is aborted.
    public func makeSafe() async throws {
        guard zeroInProgress else { return }
        try await link.run(device) { s in try await s.write("SENS:CORR:COLL:ZERO:ABOR") }
        zeroInProgress = false
    }

    public func settings() async throws -> [String: String] {
        try await link.run(device) { s in
            let wavelength = try await s.queryDouble("SENS:CORR:WAV?")
            let count = try await s.queryInt("SENS:AVER:COUN?")
            let dark = try await s.queryDouble("SENS:CORR:COLL:ZERO:MAGN?")
            let averaging = DurationText.seconds(limits.sampleTime) * Double(count)
            return ["wavelength": "\(Length.nanometres(wavelength))", "averaging": "\(count) samples (\(Duration.seconds(averaging).benchDescription))",
                    "dark-offset": "\(Power.watts(dark))"]
        }
    }

    public func setWavelength(_ wavelength: Length) async throws {
        let nm = wavelength.nanometres
        guard nm.isFinite, wavelengthRange.contains(nm) else {
            throw DeviceError.refused(device, "wavelength \(wavelength) is outside what this meter and sensor correct for (\(SCPINumber.format(wavelengthRange.lowerBound))…\(SCPINumber.format(wavelengthRange.upperBound)) nm)",
                                      remedy: "use a sensor head for this band, or check the wavelength")
        }
        if let sensor, !sensor.isWavelengthSettable {
            // A fixed-correction head: accept only the wavelength it is calibrated for.
            let fixed = try await link.run(device) { s in try await s.queryDouble("SENS:CORR:WAV?") }
            guard abs(fixed - nm) <= 0.5 else {
                throw DeviceError.refused(device, "the sensor head \(sensor.name) has a fixed correction at \(SCPINumber.format(fixed)) nm and cannot be set to \(wavelength)",
                                          remedy: "use a head whose wavelength can be set, or work at \(SCPINumber.format(fixed)) nm")
            }
            return
        }
        try await link.run(device) { s in try await s.write("SENS:CORR:WAV \(SCPINumber.format(nm))") }
        heldWavelength = wavelength
    }

    /// Reopens the meter by its address (USB serial number) and prepares it as opening does, at
    /// the correction wavelength this session set: the head is read again (another head may have
    /// been plugged in while it was off), W and auto range are selected. A power-cycled meter is
    /// back at its default averaging, so the next reading sends its count again; its dark
    /// adjustment (`zero`) is lost with the power, and one still running when the meter went is
    /// over.
    public func reconnect() async throws {
        try await link.reopen(device)
        averageCount = nil
        zeroInProgress = false
        try await prepare(wavelength: heldWavelength)
    }

    /// Averages over about `averaging` (a whole number of 3 ms samples, at least one) and
    /// returns the corrected power.
    public func readPower(averaging: Duration) async throws -> Power {
        let samples = max(1, Int((DurationText.seconds(averaging) / DurationText.seconds(limits.sampleTime)).rounded()))
        guard limits.averagingCount.contains(samples) else {
            throw DeviceError.refused(device, "averaging over \(averaging.benchDescription) needs \(samples) samples; the meter averages \(limits.averagingCount.lowerBound)…\(limits.averagingCount.upperBound)",
                                      remedy: "average over at most \((limits.sampleTime * limits.averagingCount.upperBound).benchDescription), or average several readings")
        }
        let timeout = await link.session.options.timeout + averaging * 2
        let watts = try await link.run(device) { s in
            if averageCount != samples {
                try await s.write("SENS:AVER:COUN \(samples)")
                averageCount = samples
            }
            return try await s.queryDouble("MEAS:POW?", timeout: timeout)
        }
        guard watts.isFinite else {
            throw DeviceError(.instrumentError, device: device, message: "the reading is over range (\(watts))",
                              remedy: "reduce the power on the head: it is above the sensor's maximum")
        }
        return .watts(watts)
    }

    /// Dark adjustment: starts it, polls its state until it ends, then reads the new offset.
    /// Cover the sensor first.
    public func zero() async throws {
        try await link.run(device) { s in try await s.write("SENS:CORR:COLL:ZERO:INIT") }
        zeroInProgress = true
        let clock = ContinuousClock()
        let deadline = clock.now + limits.zeroTimeout
        while true {
            let running = try await link.run(device) { s in try await s.queryInt("SENS:CORR:COLL:ZERO:STAT?") }
            if running == 0 { break }
            guard clock.now < deadline else {
                try? await makeSafe()
                throw DeviceError(.timeout, device: device, message: "the dark adjustment did not finish within \(limits.zeroTimeout.benchDescription); it was aborted",
                                  remedy: "make sure the sensor is covered and the head is connected, then zero again")
            }
            try await Task.sleep(for: limits.zeroPollInterval)
        }
        zeroInProgress = false
        _ = try await link.run(device) { s in try await s.queryDouble("SENS:CORR:COLL:ZERO:MAGN?") }
    }
}

/// `driver: thorlabs-pm100usb`. Options: `wavelength` (set when the bench opens).
public struct ThorlabsPM100USBDriver: DriverFactory {
    public let name = "thorlabs-pm100usb"
    public let families: [DeviceFamily] = [.powerMeter]
    public let description: InstrumentDescription
    public let limits: ThorlabsPM100USB.Limits
    let connector: any InstrumentConnector

    public init(description: InstrumentDescription, connector: any InstrumentConnector) throws(BenchFileError) {
        self.description = description
        self.limits = try ThorlabsPM100USB.Limits(description)
        self.connector = connector
    }

    public var summary: String { "\(description.manufacturer) \(description.name) over USBTMC; commands: \(description.manual)" }

    /// The wavelength option, checked against the instrument file's range.
    func wavelengthOption(_ binding: RoleBinding) throws(BenchFileError) -> Length? {
        guard let o = try binding.options(allowed: ["wavelength"]), let w = try o.optional("wavelength") else { return nil }
        let l = try w.quantity(Length.self)
        guard limits.wavelength.contains(l) else { throw w.fail("wavelength \(l) is outside the PM100USB's \(limits.wavelength.text) (\(limits.wavelength.source))") }
        return l
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.usbtmcAddress()
        _ = try wavelengthOption(binding)
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let wavelength = try wavelengthOption(binding)
        let link = try await context.link(to: try binding.usbtmcAddress(), using: connector, device: binding.deviceName)
        return try await ThorlabsPM100USB.open(link: link, device: binding.deviceName, limits: limits, wavelength: wavelength)
    }
}
