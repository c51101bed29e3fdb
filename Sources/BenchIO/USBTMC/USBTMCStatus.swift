/// USBTMC_status, the first byte of every class control response (USBTMC 1.0 Table 16;
/// STATUS_INTERRUPT_IN_BUSY from USB488 1.0 Table 10).
public struct USBTMCStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let success = USBTMCStatus(rawValue: 0x01)
    public static let pending = USBTMCStatus(rawValue: 0x02)
    /// USB488: a READ_STATUS_BYTE reply is still queued on Interrupt-IN.
    public static let interruptInBusy = USBTMCStatus(rawValue: 0x20)
    public static let failed = USBTMCStatus(rawValue: 0x80)
    public static let transferNotInProgress = USBTMCStatus(rawValue: 0x81)
    public static let splitNotInProgress = USBTMCStatus(rawValue: 0x82)
    public static let splitInProgress = USBTMCStatus(rawValue: 0x83)

    public var description: String {
        switch self {
        case .success: return "SUCCESS"
        case .pending: return "PENDING"
        case .interruptInBusy: return "STATUS_INTERRUPT_IN_BUSY"
        case .failed: return "FAILED"
        case .transferNotInProgress: return "TRANSFER_NOT_IN_PROGRESS"
        case .splitNotInProgress: return "SPLIT_NOT_IN_PROGRESS"
        case .splitInProgress: return "SPLIT_IN_PROGRESS"
        default:
            let hex = String(rawValue, radix: 16, uppercase: true)
            return "0x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
}
