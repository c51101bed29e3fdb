/// The class-specific control requests on endpoint 0 (USBTMC 1.0 Table 15, USB488 1.0 Table 9).
/// All are device-to-host requests whose data stage starts with a `USBTMCStatus`.
public enum USBTMCControlRequest: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case initiateAbortBulkOut = 1
    case checkAbortBulkOutStatus = 2
    case initiateAbortBulkIn = 3
    case checkAbortBulkInStatus = 4
    case initiateClear = 5
    case checkClearStatus = 6
    case getCapabilities = 7
    case indicatorPulse = 64
    /// USB488.
    case readStatusByte = 128
    case renControl = 160
    case goToLocal = 161
    case localLockout = 162

    /// bmRequestType: 0xA2 (class, endpoint recipient) for the abort requests, whose wIndex is
    /// the endpoint address; 0xA1 (class, interface recipient) for the others.
    public var requestType: UInt8 {
        switch self {
        case .initiateAbortBulkOut, .checkAbortBulkOutStatus, .initiateAbortBulkIn, .checkAbortBulkInStatus:
            return 0xA2
        default:
            return 0xA1
        }
    }

    /// wLength, the size of the response (USBTMC 1.0 Tables 18–37, USB488 1.0 Tables 11–17).
    public var responseLength: UInt16 {
        switch self {
        case .initiateAbortBulkOut, .initiateAbortBulkIn, .checkClearStatus: return 2
        case .checkAbortBulkOutStatus, .checkAbortBulkInStatus: return 8
        case .initiateClear, .indicatorPulse, .renControl, .goToLocal, .localLockout: return 1
        case .getCapabilities: return 0x18
        case .readStatusByte: return 3
        }
    }

    public var description: String {
        switch self {
        case .initiateAbortBulkOut: return "INITIATE_ABORT_BULK_OUT"
        case .checkAbortBulkOutStatus: return "CHECK_ABORT_BULK_OUT_STATUS"
        case .initiateAbortBulkIn: return "INITIATE_ABORT_BULK_IN"
        case .checkAbortBulkInStatus: return "CHECK_ABORT_BULK_IN_STATUS"
        case .initiateClear: return "INITIATE_CLEAR"
        case .checkClearStatus: return "CHECK_CLEAR_STATUS"
        case .getCapabilities: return "GET_CAPABILITIES"
        case .indicatorPulse: return "INDICATOR_PULSE"
        case .readStatusByte: return "READ_STATUS_BYTE"
        case .renControl: return "REN_CONTROL"
        case .goToLocal: return "GO_TO_LOCAL"
        case .localLockout: return "LOCAL_LOCKOUT"
        }
    }
}
