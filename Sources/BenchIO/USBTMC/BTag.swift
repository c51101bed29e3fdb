/// The bTag sequence of Bulk-OUT headers (USBTMC 1.0 §3.2, Table 1): increments with every
/// Bulk-OUT transfer and wraps 255 → 1, never 0 (the Linux driver does `bTag++; if (!bTag) bTag++`).
public struct BTagGenerator: Sendable, Equatable {
    /// The tag most recently returned by `next()`; 0 before the first.
    public private(set) var last: UInt8

    public init(last: UInt8 = 0) { self.last = last }

    public mutating func next() -> UInt8 {
        last = last == 255 ? 1 : last + 1
        return last
    }
}

/// The bTag sequence of USB488 READ_STATUS_BYTE requests (USB488 1.0 §4.3.1, Table 11):
/// 2…127, wrapping 127 → 2, because the Interrupt-IN reply carries it as `0x80 | bTag` and
/// bNotify1 = 0x81 is reserved for SRQ.
public struct StatusByteTagGenerator: Sendable, Equatable {
    public private(set) var last: UInt8

    public init(last: UInt8 = 1) { self.last = last }

    public mutating func next() -> UInt8 {
        last = (last < 2 || last >= 127) ? 2 : last + 1
        return last
    }
}

extension UInt8 {
    /// bTagInverse (USBTMC 1.0 Table 1, offset 2): the one's complement of bTag.
    public var bTagInverse: UInt8 { ~self }
}
