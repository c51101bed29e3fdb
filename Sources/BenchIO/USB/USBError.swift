/// A failure of the USB layer (libusb 1.0, error codes of docs/hardware.md §3.4). Each message
/// names the device and the operation and says what to do next.
public enum USBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// LIBUSB_ERROR_TIMEOUT; `partial` holds bytes that did arrive before the timeout.
    case timeout(device: String, operation: String, limit: Duration, partial: [UInt8])
    /// LIBUSB_ERROR_PIPE: the endpoint stalled (halted).
    case stall(device: String, operation: String, endpoint: UInt8)
    /// LIBUSB_ERROR_NO_DEVICE: the device was unplugged, powered off or reset.
    case noDevice(device: String, operation: String)
    /// LIBUSB_ERROR_ACCESS: no permission on /dev/bus/usb.
    case accessDenied(device: String, operation: String)
    /// LIBUSB_ERROR_BUSY: another process or a kernel driver holds the interface.
    case busy(device: String, operation: String)
    /// LIBUSB_ERROR_OVERFLOW: the device sent more than the buffer could take.
    case overflow(device: String, operation: String)
    /// Any other libusb error code.
    case failed(device: String, operation: String, code: Int32, name: String)
    /// No USBTMC interface matched the selection.
    case noMatchingDevice(criteria: String, found: [String])
    /// More than one USBTMC interface matched; add a serial number.
    case ambiguousMatch(criteria: String, candidates: [String])
    /// A resource string that is neither VISA (`USB0::0x1313::0x8072::SERIAL::INSTR`) nor
    /// `usbtmc://1313:8072?serial=SERIAL`.
    case invalidResource(String, reason: String)
    /// The transport was closed.
    case closed(device: String)

    public var description: String {
        switch self {
        case let .timeout(device, operation, limit, partial):
            let got = partial.isEmpty ? "" : " (\(partial.count) bytes arrived)"
            return "\(device) did not complete \(operation) within \(limit.benchDescription)\(got): is it powered and connected, and is the udev rule installed?"
        case let .stall(device, operation, endpoint):
            return "\(device) stalled endpoint 0x\(String(endpoint, radix: 16)) during \(operation): clear the halt and device-clear the instrument before the next command"
        case let .noDevice(device, operation):
            return "\(device) is gone (\(operation) failed with LIBUSB_ERROR_NO_DEVICE): it was unplugged, powered off or reset; reconnect it and open it again"
        case let .accessDenied(device, operation):
            return "\(device): permission denied during \(operation): install a udev rule such as SUBSYSTEM==\"usb\", ATTRS{idVendor}==\"1313\", GROUP=\"plugdev\", MODE=\"0660\" and replug, or add the user to that group"
        case let .busy(device, operation):
            return "\(device) is busy during \(operation): another program (or the usbtmc kernel driver) has claimed the interface; close that program or detach the driver (rmmod usbtmc)"
        case let .overflow(device, operation):
            return "\(device) sent more data than requested during \(operation) (LIBUSB_ERROR_OVERFLOW): Bulk-IN buffers must be multiples of wMaxPacketSize; device-clear it and retry"
        case let .failed(device, operation, code, name):
            return "\(device): \(operation) failed with \(name) (\(code)); check the cable and hub, then device-clear or power-cycle the instrument"
        case let .noMatchingDevice(criteria, found):
            let list = found.isEmpty ? "no USBTMC interfaces at all" : "found: " + found.joined(separator: "; ")
            return "no USBTMC instrument matches \(criteria) (\(list)): check that it is connected and switched on, the VID:PID and serial number, and the udev rule"
        case let .ambiguousMatch(criteria, candidates):
            return "several USBTMC instruments match \(criteria): " + candidates.joined(separator: "; ") + "; add the serial number to the selection"
        case let .invalidResource(text, reason):
            return "\"\(text)\" is not a USBTMC resource (\(reason)): use USB0::0x1313::0x8072::SERIAL::INSTR or usbtmc://1313:8072?serial=SERIAL"
        case let .closed(device):
            return "\(device) was closed; open it again before using it"
        }
    }

    /// Maps a negative libusb return code.
    static func from(code: Int32, device: String, operation: String, timeout: Duration = .zero,
                     endpoint: UInt8 = 0, partial: [UInt8] = []) -> USBError {
        switch code {
        case LIBUSBCode.timeout: return .timeout(device: device, operation: operation, limit: timeout, partial: partial)
        case LIBUSBCode.pipe: return .stall(device: device, operation: operation, endpoint: endpoint)
        case LIBUSBCode.noDevice: return .noDevice(device: device, operation: operation)
        case LIBUSBCode.access: return .accessDenied(device: device, operation: operation)
        case LIBUSBCode.busy: return .busy(device: device, operation: operation)
        case LIBUSBCode.overflow: return .overflow(device: device, operation: operation)
        default: return .failed(device: device, operation: operation, code: code, name: LIBUSBCode.name(code))
        }
    }
}

/// libusb 1.0 error codes (libusb.h `enum libusb_error`).
enum LIBUSBCode {
    static let io: Int32 = -1
    static let invalidParam: Int32 = -2
    static let access: Int32 = -3
    static let noDevice: Int32 = -4
    static let notFound: Int32 = -5
    static let busy: Int32 = -6
    static let timeout: Int32 = -7
    static let overflow: Int32 = -8
    static let pipe: Int32 = -9
    static let interrupted: Int32 = -10
    static let noMemory: Int32 = -11
    static let notSupported: Int32 = -12
    static let other: Int32 = -99

    static func name(_ code: Int32) -> String {
        switch code {
        case io: return "LIBUSB_ERROR_IO"
        case invalidParam: return "LIBUSB_ERROR_INVALID_PARAM"
        case access: return "LIBUSB_ERROR_ACCESS"
        case noDevice: return "LIBUSB_ERROR_NO_DEVICE"
        case notFound: return "LIBUSB_ERROR_NOT_FOUND"
        case busy: return "LIBUSB_ERROR_BUSY"
        case timeout: return "LIBUSB_ERROR_TIMEOUT"
        case overflow: return "LIBUSB_ERROR_OVERFLOW"
        case pipe: return "LIBUSB_ERROR_PIPE"
        case interrupted: return "LIBUSB_ERROR_INTERRUPTED"
        case noMemory: return "LIBUSB_ERROR_NO_MEM"
        case notSupported: return "LIBUSB_ERROR_NOT_SUPPORTED"
        default: return "LIBUSB_ERROR_OTHER"
        }
    }
}
