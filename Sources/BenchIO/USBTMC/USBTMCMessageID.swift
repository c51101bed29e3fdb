/// MsgID values of Bulk-OUT and Bulk-IN headers (USBTMC 1.0 Table 2 and Table 8;
/// USB488 1.0 Table 2 for TRIGGER).
public enum USBTMCMessageID: UInt8, Sendable {
    /// DEV_DEP_MSG_OUT (Bulk-OUT) — and DEV_DEP_MSG_IN on Bulk-IN uses 2.
    case devDepMsgOut = 1
    /// REQUEST_DEV_DEP_MSG_IN (Bulk-OUT) and DEV_DEP_MSG_IN (Bulk-IN).
    case devDepMsgIn = 2
    case vendorSpecificOut = 126
    /// REQUEST_VENDOR_SPECIFIC_IN (Bulk-OUT) and VENDOR_SPECIFIC_IN (Bulk-IN).
    case vendorSpecificIn = 127
    /// USB488 TRIGGER (USB488 1.0 §3.2.1.1).
    case trigger = 128

    /// REQUEST_DEV_DEP_MSG_IN shares its value with DEV_DEP_MSG_IN.
    public static let requestDevDepMsgIn = USBTMCMessageID.devDepMsgIn
}
