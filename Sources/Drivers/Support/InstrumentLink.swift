import BenchIO
import BenchKit
import Synchronization

/// One message-based instrument as the drivers see it: its SCPI session and the lock that makes
/// each exchange atomic. Devices of one bench that use the same instrument share one link
/// (`DriverContext.link(to:using:)`), so their commands queue instead of interleaving.
///
/// A link opened through a connector (`open(_:quirks:using:)`) remembers how: after an unplug or
/// a power cycle, `reopen(_:)` opens a new transport to the same address (for USB the same
/// VID:PID and serial number, whatever bus address the instrument re-enumerated at) and replaces
/// the session, once the instrument answering there reports the serial number it had before.
public final class InstrumentLink: Sendable {
    /// How to open the instrument again: a description of where it is (for messages) and the opening.
    public struct Opener: Sendable {
        public let address: String
        let open: @Sendable () async throws -> any MessageTransport
        public init(address: String, open: @escaping @Sendable () async throws -> any MessageTransport) {
            self.address = address; self.open = open
        }
    }

    /// The session in use, how many times it was replaced, and whether an exchange on it found
    /// the instrument gone since.
    struct State: Sendable {
        var session: SCPISession
        var generation = 0
        var broken = false
    }
    private let state: Mutex<State>
    private let knownSerial: String?
    let lock = AsyncLock()
    let options: SCPISession.Options
    /// Nil for a link built over a fixed transport: it cannot be reopened.
    public let opener: Opener?

    public init(session: SCPISession) {
        state = Mutex(State(session: session)); knownSerial = nil; options = SCPISession.Options(); opener = nil
    }

    /// A link over any transport (USBTMC, `ScriptedTransport`, `SimulatedTransport`).
    public convenience init(transport: any MessageTransport, options: SCPISession.Options = SCPISession.Options()) {
        self.init(session: SCPISession(transport: transport, options: options), options: options, opener: nil, serial: nil)
    }

    init(session: SCPISession, options: SCPISession.Options, opener: Opener?, serial: String?) {
        state = Mutex(State(session: session)); knownSerial = serial; self.options = options; self.opener = opener
    }

    /// Opens the instrument through `opener` and reads its `*IDN?`, whose serial number a
    /// `reopen` must find again.
    public static func open(_ opener: Opener, options: SCPISession.Options = SCPISession.Options()) async throws -> InstrumentLink {
        let session = SCPISession(transport: try await opener.open(), options: options)
        let idn = try await session.identify()
        return InstrumentLink(session: session, options: options, opener: opener, serial: idn.serialNumber)
    }

    /// The instrument at `address` through `connector`, with the binding's transport quirks.
    public static func open(_ address: DeviceAddress, quirks: TransportQuirks, using connector: any InstrumentConnector) async throws -> InstrumentLink {
        try await open(Opener(address: "\(address)") { try await connector.openMessageTransport(address, quirks: quirks) },
                       options: connector.sessionOptions)
    }

    /// The session in use (replaced by `reopen`).
    public var session: SCPISession { state.withLock { $0.session } }

    /// How many times `reopen` replaced the session.
    public var generation: Int { state.withLock { $0.generation } }

    /// Whether an exchange found the instrument gone since the session was opened.
    public var isBroken: Bool { state.withLock { $0.broken } }

    public var resourceName: String { session.resourceName }

    /// The serial number the instrument reported in `*IDN?` when the link was opened (nil for a
    /// link over a fixed transport).
    public var serialNumber: String? { knownSerial }

    /// Runs one exchange (or a short sequence that must not be split) with the lock held; SCPI and
    /// transport failures become `DeviceError`s naming `device` and the command.
    public func run<T>(_ device: String, isolation: isolated (any Actor)? = #isolation,
                       _ body: (SCPISession) async throws -> T) async throws -> T {
        do {
            return try await lock.withLock { try await body(session) }
        } catch {
            let e = DeviceError.from(error, device: device)
            if e.kind == .disconnected { state.withLock { $0.broken = true } }
            throw e
        }
    }

    /// Opens a new transport to the address the link was opened at, checks that the instrument
    /// answering there reports the serial number it had, and makes its session the link's; under
    /// the lock, so no exchange runs on the old session meanwhile. Only a link on which an
    /// exchange found the instrument gone is reopened: the other roles sharing the instrument (and
    /// a reconnect of a role whose loss was elsewhere) keep the session in use, so a healthy
    /// instrument is never opened twice. The instrument's settings are the driver's business
    /// (`BenchDevice.reconnect()`).
    /// - Returns: the generation of the session now in use.
    /// - Throws: `DeviceError` `.disconnected` (or `.timeout`) while it is still gone,
    ///   `.wrongInstrument` when another instrument answers, `.invalidRequest` for a link that
    ///   was not opened through a connector.
    @discardableResult
    public func reopen(_ device: String, isolation: isolated (any Actor)? = #isolation) async throws -> Int {
        guard let opener else {
            throw DeviceError(.invalidRequest, device: device, message: "its link was built over a fixed transport, so it cannot be reopened",
                              remedy: "open the bench again")
        }
        do {
            return try await lock.withLock {
                let now = state.withLock { $0 }
                guard now.broken else { return now.generation }
                let fresh = SCPISession(transport: try await opener.open(), options: options)
                let idn = try await fresh.identify()
                if let expected = knownSerial, idn.serialNumber != expected {
                    throw DeviceError(.wrongInstrument, device: device,
                                      message: "the instrument now answering at \(opener.address) reports serial number \(idn.serialNumber) (\(idn.manufacturer) \(idn.model)), not \(expected) as when the bench was opened; it was not used",
                                      remedy: "connect the instrument with serial number \(expected) again, or bind the role to the new instrument in the bench file, calibrate it and open the bench again")
                }
                return state.withLock { s in
                    s = State(session: fresh, generation: s.generation + 1, broken: false)
                    return s.generation
                }
            }
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
                try await InstrumentLink.open(address, quirks: quirks, using: connector)
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
