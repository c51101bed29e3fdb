/// A failure of a `MessageTransport`. Every message says what happened and what to do next.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No (complete) reply, or the device did not accept data, within `limit`. `recovery` says
    /// what the transport did about it (e.g. aborted the transfer and cleared the device).
    case timeout(resource: String, operation: String, limit: Duration, recovery: String)
    /// The device disappeared (unplugged, powered off, reset). It must be reopened.
    case deviceGone(resource: String, detail: String)
    /// An endpoint stalled; `recovered` tells whether clear-halt and device clear succeeded.
    case stalled(resource: String, operation: String, recovered: Bool)
    /// The device broke the USBTMC protocol (bad header, wrong bTag, short transfer...).
    case protocolViolation(resource: String, detail: String)
    /// A USBTMC/USB488 class request was answered with a status other than SUCCESS.
    case requestFailed(resource: String, request: String, status: String)
    /// The device lacks something the caller asked for (USB488 TRIGGER, Interrupt-IN...).
    case unsupported(resource: String, feature: String, hint: String)
    /// Another USB failure (access rights, busy interface, I/O error).
    case usb(USBError)
    /// The transport was closed.
    case closed(resource: String)
    /// A reply longer than the caller's limit.
    case responseTooLong(resource: String, limit: Int)
    /// `ScriptedTransport`: the code under test did not follow the script.
    case scriptMismatch(String)
    /// A LAN instrument could not be reached (name lookup, connection refused or timed out).
    case connectionFailed(resource: String, detail: String)

    public var description: String {
        switch self {
        case let .timeout(resource, operation, limit, recovery):
            return "\(resource) did not complete \(operation) within \(limit.benchDescription) (\(recovery)): is it powered and connected, does the command really produce a reply, and does a slow operation need a longer timeout?"
        case let .deviceGone(resource, detail):
            return "\(resource) is gone (\(detail)): it was unplugged, powered off or reset; reconnect it and open it again (select it by serial number)"
        case let .stalled(resource, operation, recovered):
            return recovered
                ? "\(resource) stalled during \(operation); the halt was cleared and the device cleared, so that command and its reply are lost: send it again"
                : "\(resource) stalled during \(operation) and clearing the halt failed: power-cycle the instrument and open it again"
        case let .protocolViolation(resource, detail):
            return "\(resource) broke the USBTMC protocol: \(detail); the transfer was aborted and the device cleared. If this repeats with a header that is wrong only in MsgID or bTagInverse, set `usbtmc-quirks: [lenient-bulk-in-header]` in the binding's options (docs/hardware.md §1.3); otherwise update the instrument's firmware"
        case let .requestFailed(resource, request, status):
            return "\(resource) refused \(request) with status \(status): retry after a device clear; if it persists, power-cycle the instrument"
        case let .unsupported(resource, feature, hint):
            return "\(resource) does not support \(feature): \(hint)"
        case let .usb(error):
            return error.description
        case let .closed(resource):
            return "\(resource) was closed; open it again before using it"
        case let .responseTooLong(resource, limit):
            return "\(resource) sent a reply longer than \(limit) bytes: check the query, or read it with a larger limit"
        case let .scriptMismatch(message):
            return message
        case let .connectionFailed(resource, detail):
            return "\(resource) cannot be reached (\(detail)): check the host name or IP address, that the instrument is on the network with its SCPI socket (usually port 5025) enabled, and that no firewall blocks it"
        }
    }

    /// True for `.timeout`.
    public var isTimeout: Bool {
        if case .timeout = self { return true }
        return false
    }

    /// True for `.deviceGone`.
    public var isDeviceGone: Bool {
        if case .deviceGone = self { return true }
        return false
    }
}
