/// The header of a DEV_DEP_MSG_IN Bulk-IN transfer (USBTMC 1.0 §3.3.1, Table 9).
public struct DevDepMsgInHeader: Sendable, Equatable {
    public var tag: UInt8
    /// Payload bytes in this transfer, without header and alignment bytes.
    public var transferSize: UInt32
    /// bmTransferAttributes.D0: this transfer ends the message.
    public var endOfMessage: Bool
    /// bmTransferAttributes.D1: the transfer ended because the TermChar was sent.
    public var endedOnTermChar: Bool

    public init(tag: UInt8, transferSize: UInt32, endOfMessage: Bool, endedOnTermChar: Bool = false) {
        self.tag = tag
        self.transferSize = transferSize
        self.endOfMessage = endOfMessage
        self.endedOnTermChar = endedOnTermChar
    }

    /// How strictly a header is checked (docs/hardware.md §1.3, the quirk switch).
    public enum Check: String, Sendable, Equatable, CaseIterable {
        /// MsgID must be 2 and bTagInverse the one's complement of bTag (USBTMC 1.0 Table 9).
        case strict
        /// MsgID and bTagInverse are not checked, as in the Linux driver (which never checks the
        /// inverse) and pyvisa-py's `from_quirky` path (firmware sending a wrong MsgID). The bTag
        /// and TransferSize checks stay.
        case lenient
    }

    /// Parses the first 12 bytes of a Bulk-IN transfer: at least 12 bytes, MsgID 2 and bTag's
    /// inverse (both skipped by `.lenient`), bTag equal to the REQUEST_DEV_DEP_MSG_IN being
    /// answered, TransferSize not above what was requested.
    public static func parse<C: Collection>(_ bytes: C, expectedTag: UInt8, requestedSize: UInt32, check: Check = .strict)
        throws(USBTMCCodecError) -> DevDepMsgInHeader where C.Element == UInt8 {
        let b = Array(bytes.prefix(12))
        guard b.count == 12 else { throw .shortHeader(received: b.count) }
        if check == .strict {
            guard b[0] == USBTMCMessageID.devDepMsgIn.rawValue else { throw .unexpectedMessageID(b[0]) }
            guard b[2] == b[1].bTagInverse else { throw .tagInverseMismatch(tag: b[1], inverse: b[2]) }
        }
        guard b[1] == expectedTag else { throw .tagMismatch(expected: expectedTag, received: b[1]) }
        let size = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
        guard size <= requestedSize else { throw .transferSizeTooLarge(requested: requestedSize, announced: size) }
        return DevDepMsgInHeader(tag: b[1], transferSize: size, endOfMessage: b[8] & 0x01 != 0,
                                 endedOnTermChar: b[8] & 0x02 != 0)
    }
}

/// A complete DEV_DEP_MSG_IN transfer: the header and its payload with the alignment bytes removed.
public struct DevDepMsgIn: Sendable, Equatable {
    public var header: DevDepMsgInHeader
    public var payload: [UInt8]

    /// Parses a whole transfer (header, payload, optional alignment bytes). Throws when fewer
    /// than `12 + TransferSize` bytes are present.
    public static func parse(_ bytes: [UInt8], expectedTag: UInt8, requestedSize: UInt32) throws(USBTMCCodecError) -> DevDepMsgIn {
        let header = try DevDepMsgInHeader.parse(bytes, expectedTag: expectedTag, requestedSize: requestedSize)
        let end = 12 + Int(header.transferSize)
        guard bytes.count >= end else { throw .truncatedPayload(announced: header.transferSize, received: bytes.count - 12) }
        return DevDepMsgIn(header: header, payload: Array(bytes[12..<end]))
    }
}
