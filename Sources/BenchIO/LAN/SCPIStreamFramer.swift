/// Finds where a message ends in a byte stream without end-of-message marks (SCPI over a raw
/// TCP socket, docs/hardware.md §2.4): a newline ends a message unless it is inside a quoted
/// string (IEEE 488.2 §7.7.5) or inside a definite-length block (`#<n><length><bytes>`,
/// IEEE 488.2 §7.7.6 / §8.7.9), whose payload may hold any byte. `#0` (indefinite block) runs to
/// the newline. Used by the socket transport for replies and by the emulated LAN instrument for
/// program messages (which carry blocks too, e.g. `DATA:ARB:DAC name,#…`).
public struct SCPIStreamFramer: Sendable, Equatable {
    enum State: Sendable, Equatable {
        case normal
        case quoted(UInt8)
        case hash
        case lengthDigits(remaining: Int, value: Int)
        case payload(remaining: Int)
    }

    private(set) var state = State.normal

    public init() {}

    /// True while the framer is inside a message (some bytes seen, no end yet) — or rather,
    /// inside a string or block where a newline would not end it.
    public var isInsideDataElement: Bool { state != .normal }

    /// Consumes one byte; true when it ends the message (the framer is then ready for the next).
    public mutating func consume(_ byte: UInt8) -> Bool {
        switch state {
        case .normal:
            switch byte {
            case 0x0A: return true
            case 0x22, 0x27: state = .quoted(byte)
            case 0x23: state = .hash
            default: break
            }
        case .quoted(let quote):
            if byte == quote { state = .normal }   // a doubled quote reopens at once
        case .hash:
            switch byte {
            case 0x31...0x39: state = .lengthDigits(remaining: Int(byte - 0x30), value: 0)
            case 0x0A: state = .normal; return true
            default: state = .normal   // #0 (indefinite, ends at NL) or #H/#Q/#B numbers
            }
        case let .lengthDigits(remaining, value):
            guard (0x30...0x39).contains(byte) else {
                state = .normal   // malformed header: fall back to newline framing
                return consumeNormal(byte)
            }
            let v = value &* 10 &+ Int(byte - 0x30)
            if remaining > 1 {
                state = .lengthDigits(remaining: remaining - 1, value: v)
            } else {
                state = v > 0 ? .payload(remaining: v) : .normal
            }
        case .payload(let remaining):
            state = remaining > 1 ? .payload(remaining: remaining - 1) : .normal
        }
        return false
    }

    private mutating func consumeNormal(_ byte: UInt8) -> Bool { consume(byte) }

    /// Back to the start of a message (after a device clear or a dropped reply).
    public mutating func reset() { state = .normal }
}
