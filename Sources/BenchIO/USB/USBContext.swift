import CLibUSB

/// A libusb context (docs/hardware.md §3.1): discovers USBTMC interfaces and opens them.
///
/// Discovery matches interface class 0xFE / subclass 0x03 (USBTMC 1.0 §4.1.1, Table 43) on
/// every device, never a list of product IDs, so new models and firmware "driver modes" with
/// other PIDs are found too. libusb is thread-safe; the context pointer is immutable.
public final class USBContext: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Creates a context (`libusb_init`).
    public init() throws(USBError) {
        var context: OpaquePointer?
        let rc = libusb_init(&context)
        guard rc == 0, let context else {
            throw .failed(device: "libusb", operation: "libusb_init", code: rc, name: LIBUSBCode.name(rc))
        }
        pointer = context
    }

    deinit {
        libusb_exit(pointer)
    }

    /// Every USBTMC interface on the bus, with serial numbers where the device can be opened.
    public func usbtmcDevices() throws(USBError) -> [USBTMCDeviceInfo] {
        let found = try scan()
        defer { for entry in found { libusb_unref_device(entry.device) } }
        return found.map(\.info)
    }

    /// Opens the one USBTMC interface that matches, detaches a bound kernel driver
    /// (`usbtmc.ko`, docs/hardware.md §1.8) and claims the interface.
    ///
    /// With `detachKernelDriver` false (`qbench scan`), an interface the kernel driver holds is
    /// left alone: detaching it would make every program using `/dev/usbtmcN` fail with ENODEV
    /// (the kernel marks the device a zombie), so `.busy` is thrown instead.
    ///
    /// - Throws: `.noMatchingDevice` (listing what was found), `.ambiguousMatch` when several
    ///   match (add the serial number), `.accessDenied` (udev rule), `.busy` (another program).
    public func open(_ match: USBTMCDeviceMatch, detachKernelDriver: Bool = true) throws(USBError) -> LibUSBTransport {
        let found = try scan()
        defer { for entry in found { libusb_unref_device(entry.device) } }
        let candidates = found.filter { match.matches($0.info) }
        guard let chosen = candidates.first else {
            throw .noMatchingDevice(criteria: match.description, found: found.map(\.info.description))
        }
        guard candidates.count == 1 else {
            throw .ambiguousMatch(criteria: match.description, candidates: candidates.map(\.info.description))
        }
        let info = chosen.info
        let name = info.description
        var handleOrNil: OpaquePointer?
        var rc = libusb_open(chosen.device, &handleOrNil)
        guard rc == 0, let handle = handleOrNil else {
            throw USBError.from(code: rc, device: name, operation: "opening the device (libusb_open)")
        }
        let interfaceNumber = Int32(info.interface.number)
        let driverWasActive = libusb_kernel_driver_active(handle, interfaceNumber) == 1
        if driverWasActive && !detachKernelDriver {
            libusb_close(handle)
            throw .busy(device: name, operation: "claiming interface \(interfaceNumber) (the usbtmc kernel driver holds it and a program may be using /dev/usbtmc*; it was not detached)")
        }
        // Detach on claim and re-attach on release; NOT_SUPPORTED on platforms without kernel drivers.
        if detachKernelDriver { _ = libusb_set_auto_detach_kernel_driver(handle, 1) }
        rc = libusb_claim_interface(handle, interfaceNumber)
        guard rc == 0 else {
            libusb_close(handle)
            throw USBError.from(code: rc, device: name, operation: "claiming interface \(interfaceNumber)")
        }
        if info.interface.alternateSetting != 0 {
            rc = libusb_set_interface_alt_setting(handle, interfaceNumber, Int32(info.interface.alternateSetting))
            guard rc == 0 else {
                libusb_release_interface(handle, interfaceNumber)
                libusb_close(handle)
                throw USBError.from(code: rc, device: name, operation: "selecting alternate setting \(info.interface.alternateSetting)")
            }
        }
        return LibUSBTransport(context: self, handle: handle, info: info, detachedKernelDriver: driverWasActive)
    }

    /// Opens the instrument named by a VISA or `usbtmc://` resource string.
    public func open(resource: String) throws(USBError) -> LibUSBTransport {
        try open(USBTMCDeviceMatch(resource: resource))
    }

    // MARK: - Discovery

    struct Found {
        var info: USBTMCDeviceInfo
        var device: OpaquePointer   // referenced; unref when done
    }

    private func scan() throws(USBError) -> [Found] {
        var listOrNil: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(pointer, &listOrNil)
        guard count >= 0, let list = listOrNil else {
            throw USBError.from(code: Int32(truncatingIfNeeded: count), device: "libusb", operation: "listing USB devices")
        }
        defer { libusb_free_device_list(list, 1) }
        var result: [Found] = []
        for i in 0..<Int(count) {
            guard let device = list[i] else { continue }
            var descriptor = libusb_device_descriptor()
            guard libusb_get_device_descriptor(device, &descriptor) == 0 else { continue }
            let interfaces = Self.usbtmcInterfaces(of: device)
            guard !interfaces.isEmpty else { continue }
            let strings = Self.readStrings(device: device, descriptor: descriptor)
            for interface in interfaces {
                let info = USBTMCDeviceInfo(
                    id: USBDeviceID(vendorID: descriptor.idVendor, productID: descriptor.idProduct),
                    busNumber: libusb_get_bus_number(device), deviceAddress: libusb_get_device_address(device),
                    serialNumber: strings.serial, manufacturer: strings.manufacturer, product: strings.product,
                    unreadableReason: strings.problem, interface: interface)
                result.append(Found(info: info, device: libusb_ref_device(device)))
            }
        }
        return result
    }

    /// Walks the active configuration (or the first one) for class 0xFE / subclass 0x03 and
    /// records the Bulk-OUT, Bulk-IN and optional Interrupt-IN endpoints (USBTMC 1.0 §4.1.2).
    private static func usbtmcInterfaces(of device: OpaquePointer) -> [USBTMCInterface] {
        var configOrNil: UnsafeMutablePointer<libusb_config_descriptor>?
        if libusb_get_active_config_descriptor(device, &configOrNil) != 0 {
            guard libusb_get_config_descriptor(device, 0, &configOrNil) == 0 else { return [] }
        }
        guard let config = configOrNil else { return [] }
        defer { libusb_free_config_descriptor(config) }
        var result: [USBTMCInterface] = []
        for i in 0..<Int(config.pointee.bNumInterfaces) {
            let interface = config.pointee.interface[i]
            for a in 0..<Int(interface.num_altsetting) {
                let alt = interface.altsetting[a]
                guard alt.bInterfaceClass == 0xFE, alt.bInterfaceSubClass == 0x03 else { continue }
                var bulkOut: USBEndpoint?, bulkIn: USBEndpoint?, interruptIn: USBEndpoint?
                for e in 0..<Int(alt.bNumEndpoints) {
                    let ep = alt.endpoint[e]
                    let endpoint = USBEndpoint(address: ep.bEndpointAddress, maxPacketSize: Int(ep.wMaxPacketSize & 0x7FF))
                    let isIn = ep.bEndpointAddress & 0x80 != 0
                    switch ep.bmAttributes & 0x03 {
                    case 2 where isIn: bulkIn = bulkIn ?? endpoint
                    case 2: bulkOut = bulkOut ?? endpoint
                    case 3 where isIn: interruptIn = interruptIn ?? endpoint
                    default: break
                    }
                }
                guard let bulkOut, let bulkIn else { continue }
                result.append(USBTMCInterface(number: alt.bInterfaceNumber, alternateSetting: alt.bAlternateSetting,
                                              interfaceProtocol: USBTMCInterfaceProtocol(rawValue: alt.bInterfaceProtocol),
                                              bulkOut: bulkOut, bulkIn: bulkIn, interruptIn: interruptIn))
            }
        }
        return result
    }

    /// The serial number needs an open handle (docs/hardware.md §3.1); failing that, say why.
    private static func readStrings(device: OpaquePointer, descriptor: libusb_device_descriptor)
        -> (serial: String?, manufacturer: String?, product: String?, problem: String?) {
        var handleOrNil: OpaquePointer?
        let rc = libusb_open(device, &handleOrNil)
        guard rc == 0, let handle = handleOrNil else {
            let bus = libusb_get_bus_number(device), address = libusb_get_device_address(device)
            let reason = rc == LIBUSBCode.access
                ? "no permission to open bus \(bus) device \(address): install the udev rule"
                : "cannot open bus \(bus) device \(address): \(LIBUSBCode.name(rc))"
            return (nil, nil, nil, reason)
        }
        defer { libusb_close(handle) }
        func string(_ index: UInt8) -> String? {
            guard index != 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = buffer.withUnsafeMutableBufferPointer {
                libusb_get_string_descriptor_ascii(handle, index, $0.baseAddress, Int32($0.count))
            }
            guard n > 0 else { return nil }
            return String(decoding: buffer.prefix(Int(n)), as: UTF8.self)
        }
        let serial = string(descriptor.iSerialNumber)
        let problem = descriptor.iSerialNumber != 0 && serial == nil ? "serial number unreadable" : nil
        return (serial, string(descriptor.iManufacturer), string(descriptor.iProduct), problem)
    }
}
