/// Parsers for the data stages of the USBTMC/USB488 class requests.
public enum USBTMCControlResponse {
    /// INITIATE_ABORT_BULK_OUT / INITIATE_ABORT_BULK_IN (USBTMC 1.0 Table 19 / Table 25):
    /// `[USBTMC_status, bTag]`.
    public struct InitiateAbort: Sendable, Equatable {
        public var status: USBTMCStatus
        public var tag: UInt8
        public init(status: USBTMCStatus, tag: UInt8) { self.status = status; self.tag = tag }

        public init(response b: [UInt8], request: USBTMCControlRequest) throws(USBTMCCodecError) {
            guard b.count >= 2 else { throw .shortControlResponse(request: request.description, expected: 2, received: b.count) }
            self.init(status: USBTMCStatus(rawValue: b[0]), tag: b[1])
        }
    }

    /// CHECK_ABORT_BULK_OUT_STATUS (USBTMC 1.0 Table 22): `[status, 0, 0, 0, NBYTES_RXD u32]`.
    public struct CheckAbortBulkOut: Sendable, Equatable {
        public var status: USBTMCStatus
        /// Bytes the device received of the aborted transfer.
        public var bytesReceived: UInt32

        public init(response b: [UInt8]) throws(USBTMCCodecError) {
            guard b.count >= 8 else {
                throw .shortControlResponse(request: "CHECK_ABORT_BULK_OUT_STATUS", expected: 8, received: b.count)
            }
            status = USBTMCStatus(rawValue: b[0])
            bytesReceived = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
        }
    }

    /// CHECK_ABORT_BULK_IN_STATUS (USBTMC 1.0 Table 28):
    /// `[status, bmAbortBulkIn, 0, 0, NBYTES_TXD u32]`; bmAbortBulkIn.D0 = data still queued.
    public struct CheckAbortBulkIn: Sendable, Equatable {
        public var status: USBTMCStatus
        public var moreDataQueued: Bool
        public var bytesTransmitted: UInt32

        public init(response b: [UInt8]) throws(USBTMCCodecError) {
            guard b.count >= 8 else {
                throw .shortControlResponse(request: "CHECK_ABORT_BULK_IN_STATUS", expected: 8, received: b.count)
            }
            status = USBTMCStatus(rawValue: b[0])
            moreDataQueued = b[1] & 0x01 != 0
            bytesTransmitted = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
        }
    }

    /// CHECK_CLEAR_STATUS (USBTMC 1.0 Table 34): `[status, bmClear]`; bmClear.D0 = Bulk-IN
    /// data still queued (the host must read it before the clear completes).
    public struct CheckClear: Sendable, Equatable {
        public var status: USBTMCStatus
        public var bulkInDataQueued: Bool

        public init(response b: [UInt8]) throws(USBTMCCodecError) {
            guard b.count >= 2 else { throw .shortControlResponse(request: "CHECK_CLEAR_STATUS", expected: 2, received: b.count) }
            status = USBTMCStatus(rawValue: b[0])
            bulkInDataQueued = b[1] & 0x01 != 0
        }
    }

    /// USB488 READ_STATUS_BYTE (USB488 1.0 Table 12): `[status, bTag, STB]`. The STB byte is
    /// meaningful only when the interface has no Interrupt-IN endpoint; otherwise the status
    /// byte arrives as an Interrupt-IN notification (`USB488Notification`).
    public struct ReadStatusByte: Sendable, Equatable {
        public var status: USBTMCStatus
        public var tag: UInt8
        public var statusByte: UInt8

        public init(response b: [UInt8], expectedTag: UInt8) throws(USBTMCCodecError) {
            guard b.count >= 3 else { throw .shortControlResponse(request: "READ_STATUS_BYTE", expected: 3, received: b.count) }
            status = USBTMCStatus(rawValue: b[0])
            tag = b[1]
            statusByte = b[2]
            guard tag == expectedTag else { throw .unexpectedControlTag(request: "READ_STATUS_BYTE", expected: expectedTag, received: tag) }
        }
    }

    /// A response whose only content is the status byte (INITIATE_CLEAR, INDICATOR_PULSE,
    /// REN_CONTROL, GO_TO_LOCAL, LOCAL_LOCKOUT).
    public static func status(_ b: [UInt8], request: USBTMCControlRequest) throws(USBTMCCodecError) -> USBTMCStatus {
        guard let first = b.first else { throw .shortControlResponse(request: request.description, expected: 1, received: 0) }
        return USBTMCStatus(rawValue: first)
    }
}

/// A USB488 Interrupt-IN notification (USB488 1.0 §3.4, Tables 6 and 7): two bytes.
public enum USB488Notification: Sendable, Equatable {
    /// bNotify1 = 0x80 | bTag (bTag 2…127): the reply to READ_STATUS_BYTE with that bTag.
    case statusByte(tag: UInt8, statusByte: UInt8)
    /// bNotify1 = 0x81: a service request; bNotify2 is the status byte.
    case serviceRequest(statusByte: UInt8)
    /// bNotify1 with D7 = 0: vendor specific.
    case vendorSpecific(UInt8, UInt8)

    /// Parses a notification; nil for fewer than 2 bytes.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        let b1 = bytes[0], b2 = bytes[1]
        if b1 == 0x81 {
            self = .serviceRequest(statusByte: b2)
        } else if b1 & 0x80 != 0 {
            self = .statusByte(tag: b1 & 0x7F, statusByte: b2)
        } else {
            self = .vendorSpecific(b1, b2)
        }
    }
}
