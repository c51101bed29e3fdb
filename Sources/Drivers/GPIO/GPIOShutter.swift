import BenchIO
import BenchKit

/// A shutter driven by a GPIO output line (libgpiod v1, docs/hardware.md §4.1). `openLevel` is the
/// line level that opens it. Requesting the line drives it closed: a bench opens with its
/// shutter closed.
public actor GPIOShutter: Shutter {
    public nonisolated var family: DeviceFamily { .shutter }
    public nonisolated let device: String
    let line: GPIOOutputLine
    let openLevel: Bool

    public init(line: GPIOOutputLine, device: String, openLevel: Bool) {
        self.line = line
        self.device = device
        self.openLevel = openLevel
    }

    public static func open(chip: GPIOChip, offset: Int, consumer: String, device: String, openLevel: Bool) throws -> GPIOShutter {
        do {
            let line = try chip.requestOutput(offset: offset, consumer: consumer, initialValue: !openLevel)
            return GPIOShutter(line: line, device: device, openLevel: openLevel)
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    public func identify() async throws -> InstrumentIdentity { line.chip.identity(line: line.offset) }

    public func makeSafe() async throws { try await setOpen(false) }

    public func settings() async throws -> [String: String] {
        ["line": "\(line.chip.name)/\(line.offset)", "consumer": line.consumer, "open-level": openLevel ? "high" : "low",
         "open": try await isOpen() ? "open" : "closed"]
    }

    public func setOpen(_ open: Bool) async throws {
        do { try line.set(open == openLevel) } catch { throw DeviceError.from(error, device: device) }
    }

    /// What the kernel reports for the line.
    public func isOpen() async throws -> Bool {
        do { return try line.value() == openLevel } catch { throw DeviceError.from(error, device: device) }
    }
}

/// `driver: gpio-shutter`, `address: gpio://chip/line`. Options: `open-level: high | low` (high).
public struct GPIOShutterDriver: DriverFactory {
    public let name = "gpio-shutter"
    public let families: [DeviceFamily] = [.shutter]
    public let summary = "shutter on a GPIO output line (libgpiod v1); closed when the bench opens"
    let connector: any InstrumentConnector

    public init(connector: any InstrumentConnector) { self.connector = connector }

    func openLevel(_ binding: RoleBinding) throws(BenchFileError) -> Bool {
        guard let o = try binding.options(allowed: ["open-level"]), let l = try o.optional("open-level") else { return true }
        return try l.level()
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.gpioLine()
        _ = try openLevel(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] { try binding.gpioOutput("shutter line") }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let (chipName, offset) = try binding.gpioLine()
        let chip = try await context.gpioChip(chipName, using: connector, device: binding.deviceName)
        return try GPIOShutter.open(chip: chip, offset: offset, consumer: gpioConsumer(binding.role), device: binding.deviceName,
                                    openLevel: try openLevel(binding))
    }
}
