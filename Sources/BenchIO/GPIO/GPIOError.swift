#if canImport(Glibc)
import Glibc
#endif

/// A failure of the GPIO layer (libgpiod 1.6, GPIO character device uAPI v1). Every message
/// names the chip and line and says what to do next.
public enum GPIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No chip with that name, label or path; `available` lists what exists.
    case chipNotFound(String, available: [String])
    /// The chip node exists but may not be opened (permissions).
    case permissionDenied(path: String)
    /// Opening the chip failed for another reason.
    case openFailed(chip: String, errno: Int32)
    /// The offset is not a line of this chip.
    case lineOutOfRange(chip: String, offset: Int, lineCount: Int)
    /// No line with that name.
    case lineNameNotFound(chip: String, name: String)
    /// EBUSY: the line is already requested, by `heldBy` if the kernel reports a consumer.
    case lineBusy(chip: String, offset: Int, lineName: String?, heldBy: String?)
    /// Requesting the line failed for another reason.
    case requestFailed(chip: String, offset: Int, operation: String, errno: Int32)
    /// Reading, writing or waiting on a requested line failed.
    case ioFailed(chip: String, offset: Int, operation: String, errno: Int32)
    /// The line was released.
    case released(chip: String, offset: Int)

    public var description: String {
        switch self {
        case let .chipNotFound(name, available):
            let list = available.isEmpty ? "no GPIO chips found under /dev" : "available: " + available.joined(separator: ", ")
            return "GPIO chip \"\(name)\" not found (\(list)): check the name or label with gpiodetect"
        case let .permissionDenied(path):
            return "permission denied opening \(path): add the user to the group that owns it (often \"gpio\") or install a udev rule"
        case let .openFailed(chip, code):
            return "cannot open GPIO chip \(chip): \(errnoText(code)); check gpiodetect and dmesg"
        case let .lineOutOfRange(chip, offset, count):
            return "\(chip) has \(count) lines, so line \(offset) does not exist: check the wiring table (gpioinfo \(chip))"
        case let .lineNameNotFound(chip, name):
            return "\(chip) has no line named \"\(name)\": list the names with gpioinfo \(chip)"
        case let .lineBusy(chip, offset, lineName, heldBy):
            let line = lineName.map { "line \(offset) (\"\($0)\")" } ?? "line \(offset)"
            let holder = heldBy.map { "held by \"\($0)\"" } ?? "held by another consumer"
            return "GPIO \(line) on \(chip) is busy, \(holder): stop that program or release the line (see gpioinfo \(chip)), or use another line"
        case let .requestFailed(chip, offset, operation, code):
            return "requesting GPIO line \(offset) on \(chip) as \(operation) failed: \(errnoText(code)); check the line's capabilities with gpioinfo \(chip)"
        case let .ioFailed(chip, offset, operation, code):
            return "\(operation) on GPIO line \(offset) of \(chip) failed: \(errnoText(code)); the chip may have gone away, reopen it"
        case let .released(chip, offset):
            return "GPIO line \(offset) on \(chip) was released; request it again before using it"
        }
    }
}

func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return "\(String(cString: text)) (errno \(code))"
}
