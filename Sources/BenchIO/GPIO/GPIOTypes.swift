/// Which edges an event request reports.
public enum GPIOEdges: Sendable, Equatable {
    case rising, falling, both
}

/// One edge read from a line (libgpiod `struct gpiod_line_event`, uAPI v1 `gpioevent_data`).
public struct GPIOEdgeEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case rising, falling }
    public var kind: Kind
    /// Kernel timestamp of the edge: CLOCK_MONOTONIC on Linux ≥ 5.7, CLOCK_REALTIME before.
    public var timestamp: Duration

    public init(kind: Kind, timestamp: Duration) {
        self.kind = kind
        self.timestamp = timestamp
    }
}

/// What `gpioinfo` shows for one line.
public struct GPIOLineInfo: Sendable, Equatable {
    public var offset: Int
    public var name: String?
    public var consumer: String?
    public var isUsed: Bool
    public var isOutput: Bool
    public var isActiveLow: Bool
}

/// libgpiod v1 request flags and constants (gpiod.h, v1.6).
enum GPIODConstants {
    static let flagActiveLow: Int32 = 1 << 2
    static let eventRisingEdge: Int32 = 1
    static let directionOutput: Int32 = 2
    static let activeStateLow: Int32 = 2
}
