import BenchIO
import BenchKit
import Synchronization

/// Opens the hardware behind device addresses. Drivers only ever ask for a `MessageTransport`
/// or a GPIO chip, so tests substitute scripted or simulated transports and the same driver code
/// runs on a real bench, in scripted byte-level tests and against umockdev-emulated buses.
public protocol InstrumentConnector: Sendable {
    /// A message transport to the instrument at `address` (for `usbtmc://`: a claimed USBTMC
    /// interface).
    func openMessageTransport(_ address: DeviceAddress) async throws -> any MessageTransport
    /// The same with the binding's transport quirks (docs/hardware.md §1.3); connectors without
    /// quirk support ignore them.
    func openMessageTransport(_ address: DeviceAddress, quirks: TransportQuirks) async throws -> any MessageTransport
    /// The GPIO chip with this name (`gpiochip0`) or label.
    func openGPIOChip(_ chip: String) throws -> GPIOChip
    /// The SCPI session options for the instruments it opens (timeouts, error-queue policy).
    var sessionOptions: SCPISession.Options { get }
}

extension InstrumentConnector {
    public var sessionOptions: SCPISession.Options { SCPISession.Options() }
    public func openMessageTransport(_ address: DeviceAddress, quirks: TransportQuirks) async throws -> any MessageTransport {
        try await openMessageTransport(address)
    }
}

/// The real bench: USBTMC through libusb (one context, created on first use), LAN instruments
/// over a TCP socket (SCPI raw socket, docs/hardware.md §2.4), serial instruments through
/// termios, and GPIO through libgpiod.
public final class SystemConnector: InstrumentConnector, Sendable {
    public let configuration: USBTMCInstrument.Configuration
    public let sessionOptions: SCPISession.Options
    private let context = Mutex<USBContext?>(nil)

    /// `sessionOptions` default to the SCPI defaults with the USBTMC timeout.
    public init(configuration: USBTMCInstrument.Configuration = USBTMCInstrument.Configuration(), sessionOptions: SCPISession.Options? = nil) {
        self.configuration = configuration
        var options = SCPISession.Options()
        options.timeout = configuration.timeout
        self.sessionOptions = sessionOptions ?? options
    }

    /// The libusb context of this connector.
    public func usbContext() throws(USBError) -> USBContext {
        try context.withLock { (c: inout USBContext?) throws(USBError) -> USBContext in
            if let c { return c }
            let made = try USBContext()
            c = made
            return made
        }
    }

    public func openMessageTransport(_ address: DeviceAddress) async throws -> any MessageTransport {
        try await openMessageTransport(address, quirks: TransportQuirks())
    }

    public func openMessageTransport(_ address: DeviceAddress, quirks: TransportQuirks) async throws -> any MessageTransport {
        switch address {
        case let .usbtmc(vendor, product, serial):
            let ctx: USBContext
            do { ctx = try usbContext() } catch { throw TransportError.usb(error) }
            return try await USBTMCInstrument.open(USBTMCDeviceMatch(vendorID: vendor, productID: product, serialNumber: serial),
                                                   context: ctx, configuration: quirks.applied(to: configuration))
        case let .tcpip(host, port):
            return try await SocketTransport.open(host: host, port: port, connectTimeout: configuration.timeout)
        case let .serial(path, baud):
            return try SerialTransport.open(path: path, baudRate: baud)
        default:
            throw DeviceError(.invalidRequest, device: "\(address)", message: "is not a usbtmc:// or tcpip:// address",
                              remedy: "bind this role to usbtmc://VID:PID?serial=S (see `qbench scan`) or tcpip://HOST[:PORT]")
        }
    }

    public func openGPIOChip(_ chip: String) throws -> GPIOChip {
        if chip.hasPrefix("/") { return try GPIOChip.open(path: chip) }
        if chip.hasPrefix("gpiochip") || GPIOChip.availableChipNames().contains(chip) { return try GPIOChip.open(name: chip) }
        return try GPIOChip.open(label: chip)
    }
}
