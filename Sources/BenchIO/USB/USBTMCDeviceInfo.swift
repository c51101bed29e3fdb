/// A vendor and product ID pair, printed as `1313:8072`.
public struct USBDeviceID: Hashable, Sendable, CustomStringConvertible {
    public var vendorID: UInt16
    public var productID: UInt16
    public init(vendorID: UInt16, productID: UInt16) {
        self.vendorID = vendorID
        self.productID = productID
    }
    public var description: String { hex4(vendorID) + ":" + hex4(productID) }
}

func hex4(_ value: UInt16) -> String {
    let hex = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

/// An endpoint of the USBTMC interface.
public struct USBEndpoint: Hashable, Sendable {
    public var address: UInt8
    public var maxPacketSize: Int
    public init(address: UInt8, maxPacketSize: Int) {
        self.address = address
        self.maxPacketSize = maxPacketSize
    }
}

/// bInterfaceProtocol of a USBTMC interface (USBTMC 1.0 Table 43, USB488 1.0 §4.1).
public enum USBTMCInterfaceProtocol: Hashable, Sendable {
    case usbtmc
    case usb488
    case other(UInt8)

    public init(rawValue: UInt8) {
        switch rawValue {
        case 0: self = .usbtmc
        case 1: self = .usb488
        default: self = .other(rawValue)
        }
    }
}

/// A USBTMC interface (class 0xFE, subclass 0x03) and its endpoints (docs/hardware.md §1.1).
public struct USBTMCInterface: Hashable, Sendable {
    public var number: UInt8
    public var alternateSetting: UInt8
    public var interfaceProtocol: USBTMCInterfaceProtocol
    public var bulkOut: USBEndpoint
    public var bulkIn: USBEndpoint
    /// USB488 Interrupt-IN (READ_STATUS_BYTE replies and SRQ); optional.
    public var interruptIn: USBEndpoint?

    public init(number: UInt8, alternateSetting: UInt8 = 0, interfaceProtocol: USBTMCInterfaceProtocol,
                bulkOut: USBEndpoint, bulkIn: USBEndpoint, interruptIn: USBEndpoint?) {
        self.number = number
        self.alternateSetting = alternateSetting
        self.interfaceProtocol = interfaceProtocol
        self.bulkOut = bulkOut
        self.bulkIn = bulkIn
        self.interruptIn = interruptIn
    }
}

/// One USBTMC interface found on the bus.
public struct USBTMCDeviceInfo: Hashable, Sendable, CustomStringConvertible {
    public var id: USBDeviceID
    public var busNumber: UInt8
    public var deviceAddress: UInt8
    /// nil when the string descriptor could not be read; then `unreadableReason` says why
    /// (usually a missing udev rule).
    public var serialNumber: String?
    public var manufacturer: String?
    public var product: String?
    public var unreadableReason: String?
    public var interface: USBTMCInterface

    public init(id: USBDeviceID, busNumber: UInt8, deviceAddress: UInt8, serialNumber: String?,
                manufacturer: String?, product: String?, unreadableReason: String? = nil,
                interface: USBTMCInterface) {
        self.id = id
        self.busNumber = busNumber
        self.deviceAddress = deviceAddress
        self.serialNumber = serialNumber
        self.manufacturer = manufacturer
        self.product = product
        self.unreadableReason = unreadableReason
        self.interface = interface
    }

    /// `USBTMC 1313:8072 serial P2000001` — used in every error message about this device.
    public var description: String {
        "USBTMC \(id) serial \(serialNumber ?? "?")" + (unreadableReason.map { " (\($0))" } ?? "")
    }

    /// The VISA resource string users know: `USB0::0x1313::0x8072::P2000001::INSTR` (the
    /// interface number is added when it is not 0).
    public var visaResource: String {
        let interfacePart = interface.number == 0 ? "" : "::\(interface.number)"
        return "USB0::0x\(hex4(id.vendorID))::0x\(hex4(id.productID))::\(serialNumber ?? "")\(interfacePart)::INSTR"
    }
}

/// Which USBTMC instrument to open: any combination of vendor ID, product ID and serial
/// number (docs/hardware.md §2.3: match by VID and class FE/03, not by a PID list).
public struct USBTMCDeviceMatch: Hashable, Sendable, CustomStringConvertible {
    public var vendorID: UInt16?
    public var productID: UInt16?
    public var serialNumber: String?
    /// The USBTMC interface number (`bInterfaceNumber`), for devices with several.
    public var interfaceNumber: UInt8?

    public init(vendorID: UInt16? = nil, productID: UInt16? = nil, serialNumber: String? = nil, interfaceNumber: UInt8? = nil) {
        self.vendorID = vendorID
        self.productID = productID
        self.serialNumber = serialNumber
        self.interfaceNumber = interfaceNumber
    }

    /// A VISA numeric field with Python's `int(x, 0)` semantics, as pyvisa-py and python-usbtmc
    /// parse them: `0x`/`0X` hexadecimal, `0o` octal, `0b` binary, otherwise decimal
    /// (`USB::4883::32847::M00324473::INSTR` is 0x1313:0x804F).
    static func visaNumber<T: FixedWidthInteger>(_ text: Substring, _ resource: String, what: String) throws(USBError) -> T {
        let t = String(text.filter { $0 != "_" && $0 != " " }).lowercased()
        let value: T?
        if t.hasPrefix("0x") { value = T(t.dropFirst(2), radix: 16) }
        else if t.hasPrefix("0o") { value = T(t.dropFirst(2), radix: 8) }
        else if t.hasPrefix("0b") { value = T(t.dropFirst(2), radix: 2) }
        else if t.count > 1 && t.hasPrefix("0") { value = nil }   // int("010", 0) is an error too
        else { value = T(t, radix: 10) }
        guard let value, !t.isEmpty else {
            throw .invalidResource(resource, reason: "\(what) \"\(text)\" is neither decimal nor 0x-hexadecimal, or is out of range")
        }
        return value
    }

    /// Parses VISA `USB[board]::<VID>::<PID>[::<serial>[::<interface>]]::INSTR` (ids decimal or
    /// 0x-hex; `USB0::0x1313::0x8072::P2000001::INSTR`, `USB::4883::32847::M00324473::INSTR`,
    /// `USB0::0x0957::0x2C07::MY57801381::0::INSTR`) or `usbtmc://1313:8072?serial=P2000001`
    /// (bench files: hexadecimal ids; `&interface=N` selects the interface).
    public init(resource: String) throws(USBError) {
        func hexValue(_ text: Substring) throws(USBError) -> UInt16 {
            var t = text
            if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2) }
            guard let v = UInt16(t, radix: 16) else { throw .invalidResource(resource, reason: "\"\(text)\" is not a hexadecimal ID") }
            return v
        }
        interfaceNumber = nil
        if resource.uppercased().hasPrefix("USB") && resource.contains("::") {
            var parts = resource.split(separator: "::", omittingEmptySubsequences: false)
            guard parts.count >= 3, parts.count <= 6 else {
                throw .invalidResource(resource, reason: "expected USB<n>::<VID>::<PID>[::<serial>[::<interface>]]::INSTR")
            }
            if parts.last?.uppercased() == "INSTR" { parts.removeLast() }
            guard parts.count >= 3, parts.count <= 5 else {
                throw .invalidResource(resource, reason: "expected USB<n>::<VID>::<PID>[::<serial>[::<interface>]]::INSTR")
            }
            vendorID = try Self.visaNumber(parts[1], resource, what: "the manufacturer ID")
            productID = try Self.visaNumber(parts[2], resource, what: "the model code")
            serialNumber = parts.count >= 4 && !parts[3].isEmpty ? String(parts[3]) : nil
            if parts.count == 5 { interfaceNumber = try Self.visaNumber(parts[4], resource, what: "the USB interface number") }
        } else if resource.hasPrefix("usbtmc://") {
            let rest = resource.dropFirst("usbtmc://".count)
            let pieces = rest.split(separator: "?", maxSplits: 1)
            let ids = pieces.first?.split(separator: ":") ?? []
            guard ids.count == 2 else { throw .invalidResource(resource, reason: "expected usbtmc://VID:PID") }
            vendorID = try hexValue(ids[0])
            productID = try hexValue(ids[1])
            serialNumber = nil
            if pieces.count == 2 {
                for item in pieces[1].split(separator: "&") {
                    let kv = item.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 && kv[0] == "serial" { serialNumber = String(kv[1]) }
                    if kv.count == 2 && kv[0] == "interface" { interfaceNumber = try Self.visaNumber(kv[1], resource, what: "the interface number") }
                }
            }
        } else {
            throw .invalidResource(resource, reason: "unknown scheme")
        }
    }

    public func matches(_ info: USBTMCDeviceInfo) -> Bool {
        if let vendorID, info.id.vendorID != vendorID { return false }
        if let productID, info.id.productID != productID { return false }
        if let serialNumber, info.serialNumber != serialNumber { return false }
        if let interfaceNumber, info.interface.number != interfaceNumber { return false }
        return true
    }

    public var description: String {
        var parts: [String] = []
        parts.append("VID " + (vendorID.map(hex4) ?? "any"))
        parts.append("PID " + (productID.map(hex4) ?? "any"))
        if let serialNumber { parts.append("serial \(serialNumber)") }
        if let interfaceNumber { parts.append("interface \(interfaceNumber)") }
        return parts.joined(separator: ", ")
    }
}
