/// A USBTMC frame that breaks USBTMC 1.0 (what the device sent, not what the host did).
public enum USBTMCCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    case shortHeader(received: Int)
    case unexpectedMessageID(UInt8)
    case tagInverseMismatch(tag: UInt8, inverse: UInt8)
    case tagMismatch(expected: UInt8, received: UInt8)
    case transferSizeTooLarge(requested: UInt32, announced: UInt32)
    case truncatedPayload(announced: UInt32, received: Int)
    case shortControlResponse(request: String, expected: Int, received: Int)
    case unexpectedControlTag(request: String, expected: UInt8, received: UInt8)

    public var description: String {
        switch self {
        case .shortHeader(let n):
            return "a Bulk-IN transfer began with \(n) bytes, fewer than the 12-byte DEV_DEP_MSG_IN header (USBTMC 1.0 Table 9)"
        case .unexpectedMessageID(let id):
            return "a Bulk-IN header had MsgID \(id) instead of 2 (DEV_DEP_MSG_IN); old firmware does this: if the instrument otherwise works, set the quirk switch `usbtmc-quirks: [lenient-bulk-in-header]` in its bench-file binding options (docs/hardware.md §1.3)"
        case .tagInverseMismatch(let tag, let inverse):
            return "a Bulk-IN header had bTag \(tag) with bTagInverse \(inverse) instead of \(tag.bTagInverse): the transfer is corrupted or not a header (firmware known to get only the inverse wrong needs `usbtmc-quirks: [lenient-bulk-in-header]`, docs/hardware.md §1.3)"
        case .tagMismatch(let expected, let received):
            return "a DEV_DEP_MSG_IN answered bTag \(received) but the pending REQUEST_DEV_DEP_MSG_IN had bTag \(expected): a stale reply from an earlier request"
        case .transferSizeTooLarge(let requested, let announced):
            return "a DEV_DEP_MSG_IN announced \(announced) bytes although only \(requested) were requested"
        case .truncatedPayload(let announced, let received):
            return "a DEV_DEP_MSG_IN announced \(announced) payload bytes but the transfer ended after \(received)"
        case .shortControlResponse(let request, let expected, let received):
            return "\(request) returned \(received) bytes instead of \(expected)"
        case .unexpectedControlTag(let request, let expected, let received):
            return "\(request) answered bTag \(received) instead of \(expected)"
        }
    }
}
