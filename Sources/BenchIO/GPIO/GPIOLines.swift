import CGPIOD
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A GPIO line requested as an output (shutters, trigger outputs, interlock relays).
/// Released by `release()` or when the object goes away.
public final class GPIOOutputLine: @unchecked Sendable {
    public let chip: GPIOChip
    public let offset: Int
    public let consumer: String
    private let state: Mutex<(line: CHandle?, value: Bool)>

    init(chip: GPIOChip, line: OpaquePointer, offset: Int, consumer: String, value: Bool) {
        self.chip = chip
        self.offset = offset
        self.consumer = consumer
        self.state = Mutex((CHandle(line), value))
    }

    deinit { release() }

    /// Drives the line (logical value; inverted on the wire for active-low lines).
    public func set(_ value: Bool) throws(GPIOError) {
        let chipName = chip.name, offset = offset
        try state.withLock { s throws(GPIOError) in
            guard let line = s.line?.pointer else { throw .released(chip: chipName, offset: offset) }
            guard gpiod_line_set_value(line, value ? 1 : 0) == 0 else {
                throw .ioFailed(chip: chipName, offset: offset, operation: "setting the value", errno: errno)
            }
            s.value = value
        }
    }

    /// The value the kernel reports for the line.
    public func value() throws(GPIOError) -> Bool {
        let chipName = chip.name, offset = offset
        return try state.withLock { s throws(GPIOError) -> Bool in
            guard let line = s.line?.pointer else { throw .released(chip: chipName, offset: offset) }
            let v = gpiod_line_get_value(line)
            guard v >= 0 else { throw .ioFailed(chip: chipName, offset: offset, operation: "reading the value", errno: errno) }
            return v == 1
        }
    }

    /// Drives the line to `level` for `width`, then back to the opposite level. Blocks the
    /// calling thread for `width` (software timing: jitter of tens of µs to ms; use hardware
    /// triggers for anything tighter).
    public func pulse(width: Duration, level: Bool = true) throws(GPIOError) {
        try set(level)
        blockingSleep(width)
        try set(!level)
    }

    /// Releases the line (gpioinfo then shows it unused).
    public func release() {
        state.withLock { s in
            if let line = s.line?.pointer { gpiod_line_release(line) }
            s.line = nil
        }
    }
}

/// A GPIO line requested for edge events (trigger inputs, interlock monitors).
public final class GPIOEdgeLine: @unchecked Sendable {
    public let chip: GPIOChip
    public let offset: Int
    public let consumer: String
    private let state: Mutex<CHandle?>

    init(chip: GPIOChip, line: OpaquePointer, offset: Int, consumer: String) {
        self.chip = chip
        self.offset = offset
        self.consumer = consumer
        self.state = Mutex(CHandle(line))
    }

    deinit { release() }

    /// Waits until an edge is queued or `timeout` passes (`gpiod_line_event_wait`). Returns
    /// true when an edge can be read. Blocks the calling thread.
    public func waitForEdge(timeout: Duration) throws(GPIOError) -> Bool {
        let chipName = chip.name, offset = offset
        return try state.withLock { line throws(GPIOError) -> Bool in
            guard let line = line?.pointer else { throw .released(chip: chipName, offset: offset) }
            var ts = timeout.timespecValue
            let rc = gpiod_line_event_wait(line, &ts)
            guard rc >= 0 else { throw .ioFailed(chip: chipName, offset: offset, operation: "waiting for an edge", errno: errno) }
            return rc == 1
        }
    }

    /// Reads one queued edge with its kernel timestamp (`gpiod_line_event_read`); blocks if
    /// none is queued, so call `waitForEdge` first or use `nextEdge(timeout:)`.
    public func readEdge() throws(GPIOError) -> GPIOEdgeEvent {
        let chipName = chip.name, offset = offset
        return try state.withLock { line throws(GPIOError) -> GPIOEdgeEvent in
            guard let line = line?.pointer else { throw .released(chip: chipName, offset: offset) }
            var event = gpiod_line_event()
            guard gpiod_line_event_read(line, &event) == 0 else {
                throw .ioFailed(chip: chipName, offset: offset, operation: "reading an edge event", errno: errno)
            }
            let timestamp = Duration.seconds(event.ts.tv_sec) + Duration.nanoseconds(event.ts.tv_nsec)
            return GPIOEdgeEvent(kind: event.event_type == GPIODConstants.eventRisingEdge ? .rising : .falling,
                                 timestamp: timestamp)
        }
    }

    /// The line's current level, read through the event request (`gpiod_line_get_value`:
    /// GPIOHANDLE_GET_LINE_VALUES_IOCTL on the event fd); logical, so inverted for active-low.
    /// Edges say when the line changed; this says what it is now (the kernel's 16-event FIFO
    /// can drop edges).
    public func value() throws(GPIOError) -> Bool {
        let chipName = chip.name, offset = offset
        return try state.withLock { line throws(GPIOError) -> Bool in
            guard let line = line?.pointer else { throw .released(chip: chipName, offset: offset) }
            let v = gpiod_line_get_value(line)
            guard v >= 0 else { throw .ioFailed(chip: chipName, offset: offset, operation: "reading the value", errno: errno) }
            return v == 1
        }
    }

    /// The next edge, or nil if none arrives within `timeout`.
    public func nextEdge(timeout: Duration) throws(GPIOError) -> GPIOEdgeEvent? {
        guard try waitForEdge(timeout: timeout) else { return nil }
        return try readEdge()
    }

    /// Releases the line.
    public func release() {
        state.withLock { line in
            if let l = line?.pointer { gpiod_line_release(l) }
            line = nil
        }
    }
}
