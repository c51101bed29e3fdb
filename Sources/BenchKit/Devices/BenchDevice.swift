/// Who an instrument says it is (`*IDN?` on SCPI instruments; the twin reports "qbench-sim").
/// Calibration records name the identity they were measured on; a run refuses a record measured on
/// another instrument.
public struct InstrumentIdentity: Sendable, Codable, Hashable, CustomStringConvertible {
    public var manufacturer: String
    public var model: String
    public var serial: String
    public var firmware: String

    public init(manufacturer: String, model: String, serial: String, firmware: String) {
        self.manufacturer = manufacturer; self.model = model; self.serial = serial; self.firmware = firmware
    }

    public var description: String { "\(manufacturer) \(model) s/n \(serial) fw \(firmware)" }
}

/// Every device on a bench, real or simulated. Implementations are actors: each serialises its own
/// I/O, and the devices of a bench can be driven concurrently.
public protocol BenchDevice: Actor {
    /// The device family this implementation belongs to.
    nonisolated var family: DeviceFamily { get }
    func identify() async throws -> InstrumentIdentity
    /// Brings the device to its safe state (laser off, drive zeroed, shutter closed, …). Must be
    /// idempotent and must not fail on a device that is already safe.
    func makeSafe() async throws
    /// Current settings, for run records and `qbench devices` (parameter → value with unit).
    func settings() async throws -> [String: String]
    /// After an unplug or a power cycle: opens the instrument again at the same address (for USB
    /// the same serial number) and restores what this session set on it, what opening configured
    /// and the setpoints the driver holds. Never switches light on by itself (a laser's emission
    /// comes back only through the station's warm-up). Throws `.disconnected` while the instrument
    /// is still gone (the caller retries), `.wrongInstrument` when another one answers there.
    func reconnect() async throws
}

extension BenchDevice {
    /// Drivers that cannot reopen their instrument say so.
    public func reconnect() async throws {
        throw DeviceError(.invalidRequest, device: "the \(family.rawValue) driver \(type(of: self))",
                          message: "cannot reconnect to its instrument", remedy: "reconnect the instrument, then open the bench again (and resume the run)")
    }
}

/// The device families of a secure-inference bench (PROTOCOL.md §8).
public enum DeviceFamily: String, Sendable, Codable, CaseIterable {
    case laser, modulator, attenuator, powerMeter = "power-meter", fiberLink = "fiber-link"
    case clientProcessor = "client-processor", amplifier, splitter
    case homodyneReceiver = "homodyne-receiver", opticalSwitch = "optical-switch"
    case trigger, shutter, interlock
}

/// A device error the operator can act on: what happened, on which device, and what to do next.
public struct DeviceError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case timeout, disconnected, instrumentError = "instrument-error", invalidRequest = "invalid-request", notReady = "not-ready"
        /// Another instrument than the bench was opened with answers at the role's address (a
        /// reconnect found a different serial number).
        case wrongInstrument = "wrong-instrument"
    }
    public let kind: Kind
    public let device: String
    public let message: String
    public let remedy: String

    public init(_ kind: Kind, device: String, message: String, remedy: String) {
        self.kind = kind; self.device = device; self.message = message; self.remedy = remedy
    }

    public var description: String { "\(device): \(message): \(remedy)" }
}
