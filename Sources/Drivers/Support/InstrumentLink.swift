import BenchIO
import BenchKit

/// One message-based instrument as the drivers see it: its SCPI session and the lock that makes
/// each exchange atomic. Devices of one bench that use the same instrument share one link
/// (`DriverContext.link(to:using:)`), so their commands queue instead of interleaving.
public final class InstrumentLink: Sendable {
    public let session: SCPISession
    let lock = AsyncLock()

    public init(session: SCPISession) { self.session = session }

    /// A link over any transport (USBTMC, `ScriptedTransport`, `SimulatedTransport`).
    public convenience init(transport: any MessageTransport, options: SCPISession.Options = SCPISession.Options()) {
        self.init(session: SCPISession(transport: transport, options: options))
    }

    public var resourceName: String { session.resourceName }

    /// Runs one exchange (or a short sequence that must not be split) with the lock held; SCPI and
    /// transport failures become `DeviceError`s naming `device` and the command.
    public func run<T>(_ device: String, isolation: isolated (any Actor)? = #isolation,
                       _ body: (SCPISession) async throws -> T) async throws -> T {
        do {
            return try await lock.withLock { try await body(session) }
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }
}

extension DriverContext {
    /// The link to the instrument at `address`, opened once per bench and shared by every role
    /// that names it.
    /// The binding's `usbtmc-quirks` apply (the first binding to open a shared instrument sets them).
    public func link(to address: DeviceAddress, using connector: any InstrumentConnector, device: String) async throws -> InstrumentLink {
        do {
            let quirks = try TransportQuirks(binding: binding)
            return try await shared.resource("scpi \(address)") {
                InstrumentLink(transport: try await connector.openMessageTransport(address, quirks: quirks), options: connector.sessionOptions)
            }
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    /// The GPIO chip named in a `gpio://` address, opened once per bench.
    public func gpioChip(_ chip: String, using connector: any InstrumentConnector, device: String) async throws -> GPIOChip {
        do {
            return try await shared.resource("gpiochip \(chip)") { try connector.openGPIOChip(chip) }
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    /// "server.laser (thorlabs-cld1015 at usbtmc://1313:804f?serial=M01)": how errors name a device.
    public var deviceName: String { binding.deviceName }
}

extension RoleBinding {
    public var deviceName: String { "\(role.rawValue) (\(driver) at \(address))" }
}
