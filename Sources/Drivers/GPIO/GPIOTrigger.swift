import BenchIO
import BenchKit
import Foundation

/// The bench trigger on a GPIO output line (libgpiod v1, docs/hardware.md §4.1): one pulse of
/// `pulseWidth` at the active level per shot, shots at least `period` apart. Software timing on
/// a dedicated thread: jitter of tens of µs; drive a hardware pulse generator from it for
/// anything tighter.
public actor GPIOTrigger: TriggerOutput {
    public struct Configuration: Sendable, Equatable {
        public var pulseWidth: Duration = .microseconds(10)
        public var period: Duration = .milliseconds(1)
        public var activeHigh = true
        /// The most shots one `fire` may ask for.
        public var maxShots = 1_000_000
        public init() {}
    }

    public nonisolated var family: DeviceFamily { .trigger }
    public nonisolated let device: String
    let line: GPIOOutputLine
    let configuration: Configuration
    let lock = AsyncLock()
    public private(set) var shotsFired = 0

    public init(line: GPIOOutputLine, device: String, configuration: Configuration) {
        self.line = line
        self.device = device
        self.configuration = configuration
    }

    /// Requests the line as an output, driven to the inactive level.
    public static func open(chip: GPIOChip, offset: Int, consumer: String, device: String, configuration: Configuration) throws -> GPIOTrigger {
        do {
            let line = try chip.requestOutput(offset: offset, consumer: consumer, initialValue: !configuration.activeHigh)
            return GPIOTrigger(line: line, device: device, configuration: configuration)
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    public func identify() async throws -> InstrumentIdentity { line.chip.identity(line: line.offset) }

    /// The line back to its inactive level.
    public func makeSafe() async throws {
        try await lock.withLock {
            do { try line.set(!configuration.activeHigh) } catch { throw DeviceError.from(error, device: device) }
        }
    }

    public func settings() async throws -> [String: String] {
        ["line": "\(line.chip.name)/\(line.offset)", "consumer": line.consumer, "pulse-width": configuration.pulseWidth.benchDescription,
         "period": configuration.period.benchDescription, "active": configuration.activeHigh ? "high" : "low", "shots-fired": "\(shotsFired)"]
    }

    public func fire(shots: Int) async throws {
        guard shots >= 1, shots <= configuration.maxShots else {
            throw DeviceError.refused(device, "cannot fire \(shots) shots (1 … \(configuration.maxShots) per call)", remedy: "fire in blocks")
        }
        let line = line, c = configuration, device = device
        try await lock.withLock {
            try await BlockingWork.run("trigger \(device)") {
                do {
                    for k in 0..<shots {
                        try line.pulse(width: c.pulseWidth, level: c.activeHigh)
                        if k + 1 < shots { Thread.sleep(forTimeInterval: DurationText.seconds(c.period - c.pulseWidth)) }
                    }
                } catch {
                    throw DeviceError.from(error, device: device)
                }
            }
            shotsFired += shots
        }
    }
}

/// `driver: gpio-trigger`, `address: gpio://chip/line`. Options: `pulse-width` (10 µs),
/// `period` (1 ms, the shortest time from one shot to the next), `active: high | low`.
public struct GPIOTriggerDriver: DriverFactory {
    public let name = "gpio-trigger"
    public let families: [DeviceFamily] = [.trigger]
    public let summary = "bench trigger: a GPIO output line pulsed once per shot (libgpiod v1)"
    let connector: any InstrumentConnector

    public init(connector: any InstrumentConnector) { self.connector = connector }

    func configuration(_ binding: RoleBinding) throws(BenchFileError) -> GPIOTrigger.Configuration {
        var c = GPIOTrigger.Configuration()
        guard let o = try binding.options(allowed: ["pulse-width", "period", "active"]) else { return c }
        if let w = try o.optional("pulse-width") {
            c.pulseWidth = try w.duration()
            guard c.pulseWidth > .zero else { throw w.fail("pulse-width must be positive") }
        }
        if let p = try o.optional("period") {
            c.period = try p.duration()
            guard c.period > c.pulseWidth else { throw p.fail("period \(c.period.benchDescription) must be longer than the pulse width \(c.pulseWidth.benchDescription)") }
        } else if c.period <= c.pulseWidth {
            c.period = c.pulseWidth * 2
        }
        if let a = try o.optional("active") { c.activeHigh = try a.level() }
        return c
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.gpioLine()
        _ = try configuration(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] { try binding.gpioOutput("trigger line") }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let (chipName, offset) = try binding.gpioLine()
        let chip = try await context.gpioChip(chipName, using: connector, device: binding.deviceName)
        return try GPIOTrigger.open(chip: chip, offset: offset, consumer: gpioConsumer(binding.role), device: binding.deviceName,
                                    configuration: try configuration(binding))
    }
}
