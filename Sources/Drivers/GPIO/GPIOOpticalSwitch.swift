import BenchIO
import BenchKit

/// The server's calibration switch, a 1×2 (or 2×2 used as 1×2) fibre switch whose position follows
/// a TTL control input, driven by a GPIO output line (libgpiod v1, docs/hardware.md §4.1): a
/// non-latching MEMS or opto-mechanical switch holds the position the control level selects for as
/// long as the level is held. `backToBackLevel` is the level that routes the transmitter into the
/// server's own receiver. Requesting the line drives it to back-to-back: a bench opens with its
/// light kept at home, and back-to-back is also the safe state (nothing reaches the client).
///
/// The position read back is the line's level as the kernel holds it, not an optical
/// measurement: the back-to-back calibration (docs/calibration.md) is what shows the light went
/// where the switch was told.
public actor GPIOOpticalSwitch: OpticalSwitch {
    public nonisolated var family: DeviceFamily { .opticalSwitch }
    public nonisolated let device: String
    let line: GPIOOutputLine
    let backToBackLevel: Bool

    public init(line: GPIOOutputLine, device: String, backToBackLevel: Bool) {
        self.line = line
        self.device = device
        self.backToBackLevel = backToBackLevel
    }

    public static func open(chip: GPIOChip, offset: Int, consumer: String, device: String, backToBackLevel: Bool) throws -> GPIOOpticalSwitch {
        do {
            let line = try chip.requestOutput(offset: offset, consumer: consumer, initialValue: backToBackLevel)
            return GPIOOpticalSwitch(line: line, device: device, backToBackLevel: backToBackLevel)
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    public func identify() async throws -> InstrumentIdentity { line.chip.identity(line: line.offset) }

    public func makeSafe() async throws { try await route(.backToBack) }

    public func settings() async throws -> [String: String] {
        ["line": "\(line.chip.name)/\(line.offset)", "consumer": line.consumer, "back-to-back-level": backToBackLevel ? "high" : "low",
         "path": try await path().rawValue]
    }

    public func route(_ path: SwitchPath) async throws {
        do { try line.set((path == .backToBack) == backToBackLevel) } catch { throw DeviceError.from(error, device: device) }
    }

    /// The path the line's level selects, as the kernel reports the level.
    public func path() async throws -> SwitchPath {
        do { return try line.value() == backToBackLevel ? .backToBack : .client } catch { throw DeviceError.from(error, device: device) }
    }
}

/// `driver: gpio-optical-switch`, `address: gpio://chip/line`. Options: `back-to-back-level: high | low`
/// (low: an unpowered or undriven non-latching switch rests in its default position, wired as
/// back-to-back).
public struct GPIOOpticalSwitchDriver: DriverFactory {
    public let name = "gpio-optical-switch"
    public let families: [DeviceFamily] = [.opticalSwitch]
    public let summary = "calibration fibre switch on a TTL control input, driven by a GPIO output line (libgpiod v1); back-to-back when the bench opens"
    let connector: any InstrumentConnector

    public init(connector: any InstrumentConnector) { self.connector = connector }

    func backToBackLevel(_ binding: RoleBinding) throws(BenchFileError) -> Bool {
        guard let o = try binding.options(allowed: ["back-to-back-level"]), let l = try o.optional("back-to-back-level") else { return false }
        return try l.level()
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.gpioLine()
        _ = try backToBackLevel(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] { try binding.gpioOutput("switch control line") }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let (chipName, offset) = try binding.gpioLine()
        let chip = try await context.gpioChip(chipName, using: connector, device: binding.deviceName)
        return try GPIOOpticalSwitch.open(chip: chip, offset: offset, consumer: gpioConsumer(binding.role), device: binding.deviceName,
                                          backToBackLevel: try backToBackLevel(binding))
    }
}
