/// The GET_CAPABILITIES response (USBTMC 1.0 Table 37, USB488 1.0 Table 8), 24 bytes.
///
/// The USB488 bits come from bytes 14 and 15 (python-usbtmc wrongly reads them from byte 4,
/// docs/hardware.md §1.5).
public struct USBTMCCapabilities: Sendable, Equatable {
    public var status: USBTMCStatus
    /// bcdUSBTMC, e.g. 0x0100 for USBTMC 1.00.
    public var bcdUSBTMC: UInt16
    /// Byte 4 bit 2: accepts INDICATOR_PULSE.
    public var acceptsIndicatorPulse: Bool
    /// Byte 4 bit 1: talk-only device.
    public var talkOnly: Bool
    /// Byte 4 bit 0: listen-only device.
    public var listenOnly: Bool
    /// Byte 5 bit 0: supports bmTransferAttributes.TermCharEnabled on Bulk-IN.
    public var supportsTermChar: Bool
    /// bcdUSB488 (0 for a plain USBTMC interface).
    public var bcdUSB488: UInt16
    /// Byte 14 bit 2: an IEEE 488.2 (USB488.2) interface.
    public var isUSB4882Interface: Bool
    /// Byte 14 bit 1: accepts REN_CONTROL, GO_TO_LOCAL and LOCAL_LOCKOUT.
    public var acceptsRemoteLocal: Bool
    /// Byte 14 bit 0: accepts the USB488 TRIGGER message.
    public var acceptsTrigger: Bool
    /// Byte 15 bit 3: understands SCPI.
    public var understandsSCPI: Bool
    /// Byte 15 bit 2: SR1, can request service (SRQ on Interrupt-IN).
    public var serviceRequestCapable: Bool
    /// Byte 15 bit 1: RL1, remote/local capable.
    public var remoteLocalCapable: Bool
    /// Byte 15 bit 0: DT1, device trigger capable.
    public var deviceTriggerCapable: Bool

    /// Parses the 24-byte response. Throws when fewer than 24 bytes arrived.
    public init(response bytes: [UInt8]) throws(USBTMCCodecError) {
        guard bytes.count >= 24 else {
            throw .shortControlResponse(request: "GET_CAPABILITIES", expected: 24, received: bytes.count)
        }
        status = USBTMCStatus(rawValue: bytes[0])
        bcdUSBTMC = UInt16(bytes[2]) | UInt16(bytes[3]) << 8
        acceptsIndicatorPulse = bytes[4] & 0x04 != 0
        talkOnly = bytes[4] & 0x02 != 0
        listenOnly = bytes[4] & 0x01 != 0
        supportsTermChar = bytes[5] & 0x01 != 0
        bcdUSB488 = UInt16(bytes[12]) | UInt16(bytes[13]) << 8
        isUSB4882Interface = bytes[14] & 0x04 != 0
        acceptsRemoteLocal = bytes[14] & 0x02 != 0
        acceptsTrigger = bytes[14] & 0x01 != 0
        understandsSCPI = bytes[15] & 0x08 != 0
        serviceRequestCapable = bytes[15] & 0x04 != 0
        remoteLocalCapable = bytes[15] & 0x02 != 0
        deviceTriggerCapable = bytes[15] & 0x01 != 0
    }

    /// The packed form the Linux driver keeps: `(b[14] & 0x07) | ((b[15] & 0x0f) << 4)`.
    public var usb488Bits: UInt8 {
        var bits: UInt8 = 0
        if acceptsTrigger { bits |= 0x01 }
        if acceptsRemoteLocal { bits |= 0x02 }
        if isUSB4882Interface { bits |= 0x04 }
        if deviceTriggerCapable { bits |= 0x10 }
        if remoteLocalCapable { bits |= 0x20 }
        if serviceRequestCapable { bits |= 0x40 }
        if understandsSCPI { bits |= 0x80 }
        return bits
    }
}
