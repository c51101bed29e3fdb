import CGPIOD
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A GPIO chip opened through libgpiod 1.6 (v1 API, docs/hardware.md §4.1). Lines requested from
/// it keep it open. Not tied to v1: the public surface (`GPIOOutputLine`, `GPIOEdgeLine`)
/// would fit a libgpiod 2 backend too (docs/hardware.md §4.3).
///
/// Thread safety: libgpiod is not thread-safe per chip; requests and line info go through
/// the chip's lock, I/O on one line through that line's lock.
public final class GPIOChip: @unchecked Sendable {
    let pointer: OpaquePointer
    let lock = Mutex(())
    public let name: String
    public let label: String
    public let lineCount: Int
    public let path: String

    private init(pointer: OpaquePointer, path: String) {
        self.pointer = pointer
        self.path = path
        name = String(cString: gpiod_chip_name(pointer))
        label = String(cString: gpiod_chip_label(pointer))
        lineCount = Int(gpiod_chip_num_lines(pointer))
    }

    deinit { gpiod_chip_close(pointer) }

    /// Opens `/dev/<name>`, e.g. `gpiochip0`.
    public static func open(name: String) throws(GPIOError) -> GPIOChip {
        try open(path: name.hasPrefix("/") ? name : "/dev/" + name, displayName: name)
    }

    /// Opens the chip whose label matches (e.g. "pinctrl-bcm2711" or a board's FTDI label).
    /// Labels are stable across reboots where chip numbers are not.
    public static func open(label: String) throws(GPIOError) -> GPIOChip {
        var labels: [String] = []
        for name in availableChipNames() {
            guard let chip = try? open(name: name) else { continue }
            if chip.label == label { return chip }
            labels.append("\(name) (\"\(chip.label)\")")
        }
        throw .chipNotFound("with label \"\(label)\"", available: labels)
    }

    /// Opens a chip by device path.
    public static func open(path: String) throws(GPIOError) -> GPIOChip {
        try open(path: path, displayName: path)
    }

    private static func open(path: String, displayName: String) throws(GPIOError) -> GPIOChip {
        guard let pointer = gpiod_chip_open(path) else {
            let code = errno
            switch code {
            case ENOENT, ENOTTY, ENODEV: throw .chipNotFound(displayName, available: availableChipNames())
            case EACCES, EPERM: throw .permissionDenied(path: path)
            default: throw .openFailed(chip: displayName, errno: code)
            }
        }
        return GPIOChip(pointer: pointer, path: path)
    }

    /// Names of the `gpiochip*` nodes under /dev, sorted.
    public static func availableChipNames() -> [String] {
        guard let dir = opendir("/dev") else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix("gpiochip") { names.append(name) }
        }
        return names.sorted { $0.count == $1.count ? $0 < $1 : $0.count < $1.count }
    }

    func line(_ offset: Int) throws(GPIOError) -> OpaquePointer {
        guard offset >= 0, offset < lineCount else { throw .lineOutOfRange(chip: name, offset: offset, lineCount: lineCount) }
        guard let line = gpiod_chip_get_line(pointer, UInt32(offset)) else {
            throw .ioFailed(chip: name, offset: offset, operation: "looking up the line", errno: errno)
        }
        return line
    }

    /// What `gpioinfo` shows for a line (re-read from the kernel).
    public func lineInfo(offset: Int) throws(GPIOError) -> GPIOLineInfo {
        try lock.withLock { _ throws(GPIOError) -> GPIOLineInfo in
            let line = try self.line(offset)
            _ = gpiod_line_update(line)
            return GPIOLineInfo(
                offset: offset,
                name: gpiod_line_name(line).map { String(cString: $0) },
                consumer: gpiod_line_consumer(line).map { String(cString: $0) },
                isUsed: gpiod_line_is_used(line),
                isOutput: gpiod_line_direction(line) == GPIODConstants.directionOutput,
                isActiveLow: gpiod_line_active_state(line) == GPIODConstants.activeStateLow)
        }
    }

    /// The offset of the line with this name (`gpiod_chip_find_line`).
    public func offset(ofLineNamed lineName: String) throws(GPIOError) -> Int {
        try lock.withLock { _ throws(GPIOError) -> Int in
            guard let line = gpiod_chip_find_line(pointer, lineName) else { throw .lineNameNotFound(chip: name, name: lineName) }
            return Int(gpiod_line_offset(line))
        }
    }

    /// Requests a line as an output (`gpiod_line_request_output_flags`), driven to
    /// `initialValue` at once. `consumer` is what gpioinfo shows ("bench-shutter").
    public func requestOutput(offset: Int, consumer: String, initialValue: Bool = false,
                              activeLow: Bool = false) throws(GPIOError) -> GPIOOutputLine {
        try lock.withLock { _ throws(GPIOError) -> GPIOOutputLine in
            let line = try self.line(offset)
            let flags = activeLow ? GPIODConstants.flagActiveLow : 0
            guard gpiod_line_request_output_flags(line, consumer, flags, initialValue ? 1 : 0) == 0 else {
                throw requestError(line: line, offset: offset, operation: "an output for \"\(consumer)\"")
            }
            return GPIOOutputLine(chip: self, line: line, offset: offset, consumer: consumer, value: initialValue)
        }
    }

    /// Reads an input line once: requests it as an input (`gpiod_line_request_input_flags`),
    /// reads its value and releases it. A line requested for edge events reads its level through
    /// that request instead (`GPIOEdgeLine.value()`).
    public func readInput(offset: Int, consumer: String, activeLow: Bool = false) throws(GPIOError) -> Bool {
        try lock.withLock { _ throws(GPIOError) -> Bool in
            let line = try self.line(offset)
            let flags = activeLow ? GPIODConstants.flagActiveLow : 0
            guard gpiod_line_request_input_flags(line, consumer, flags) == 0 else {
                throw requestError(line: line, offset: offset, operation: "an input for \"\(consumer)\"")
            }
            defer { gpiod_line_release(line) }
            let v = gpiod_line_get_value(line)
            guard v >= 0 else { throw .ioFailed(chip: name, offset: offset, operation: "reading the input value", errno: errno) }
            return v == 1
        }
    }

    /// Requests edge events on a line (`gpiod_line_request_*_edge_events_flags`).
    public func requestEdgeEvents(offset: Int, consumer: String, edges: GPIOEdges = .both,
                                  activeLow: Bool = false) throws(GPIOError) -> GPIOEdgeLine {
        try lock.withLock { _ throws(GPIOError) -> GPIOEdgeLine in
            let line = try self.line(offset)
            let flags = activeLow ? GPIODConstants.flagActiveLow : 0
            let rc: Int32
            switch edges {
            case .rising: rc = gpiod_line_request_rising_edge_events_flags(line, consumer, flags)
            case .falling: rc = gpiod_line_request_falling_edge_events_flags(line, consumer, flags)
            case .both: rc = gpiod_line_request_both_edges_events_flags(line, consumer, flags)
            }
            guard rc == 0 else { throw requestError(line: line, offset: offset, operation: "an edge-event input for \"\(consumer)\"") }
            return GPIOEdgeLine(chip: self, line: line, offset: offset, consumer: consumer)
        }
    }

    /// EBUSY becomes `.lineBusy` naming the holder when the kernel reports one.
    private func requestError(line: OpaquePointer, offset: Int, operation: String) -> GPIOError {
        let code = errno
        guard code == EBUSY else { return .requestFailed(chip: name, offset: offset, operation: operation, errno: code) }
        _ = gpiod_line_update(line)
        let consumer = gpiod_line_consumer(line).map { String(cString: $0) }
        let lineName = gpiod_line_name(line).map { String(cString: $0) }
        return .lineBusy(chip: name, offset: offset, lineName: lineName, heldBy: consumer)
    }
}
