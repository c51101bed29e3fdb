import CLibUSB
import Synchronization

/// An opened, claimed USBTMC interface driven by libusb's synchronous API (docs/hardware.md §3.2–§3.3).
///
/// Thread safety: libusb is thread-safe; the handle is guarded by a mutex so `close()` never
/// races a transfer. `USBTMCInstrument` serialises the protocol on top.
public final class LibUSBTransport: USBTransport, @unchecked Sendable {
    public let info: USBTMCDeviceInfo
    /// True when a kernel driver (usbtmc.ko) was bound and libusb detached it on claim; it is
    /// re-attached when the interface is released.
    public let detachedKernelDriver: Bool
    private let context: USBContext   // keeps libusb alive while the handle is open
    private let handle: Mutex<CHandle?>

    init(context: USBContext, handle: OpaquePointer, info: USBTMCDeviceInfo, detachedKernelDriver: Bool) {
        self.context = context
        self.handle = Mutex(CHandle(handle))
        self.info = info
        self.detachedKernelDriver = detachedKernelDriver
    }

    deinit { close() }

    public var deviceDescription: String { info.description }
    public var interface: USBTMCInterface { info.interface }

    private func withHandle<T: Sendable>(_ body: (OpaquePointer) throws(USBError) -> T) throws(USBError) -> T {
        let name = info.description
        return try handle.withLock { (h: inout CHandle?) throws(USBError) -> T in
            guard let h else { throw USBError.closed(device: name) }
            return try body(h.pointer)
        }
    }

    public func bulkOut(_ data: [UInt8], timeout: Duration) throws(USBError) -> Int {
        let endpoint = interface.bulkOut.address
        let name = info.description
        return try withHandle { (h) throws(USBError) -> Int in
            var bytes = data
            var sent: Int32 = 0
            let rc = bytes.withUnsafeMutableBufferPointer {
                libusb_bulk_transfer(h, endpoint, $0.baseAddress, Int32($0.count), &sent, timeout.clampedMilliseconds)
            }
            guard rc == 0 else {
                throw USBError.from(code: rc, device: name, operation: "a Bulk-OUT transfer of \(data.count) bytes",
                                    timeout: timeout, endpoint: endpoint, partial: Array(data.prefix(Int(sent))))
            }
            return Int(sent)
        }
    }

    public func bulkIn(maxLength: Int, timeout: Duration) throws(USBError) -> [UInt8] {
        try read(endpoint: interface.bulkIn.address, maxLength: maxLength, timeout: timeout, interrupt: false)
    }

    public func interruptIn(maxLength: Int, timeout: Duration) throws(USBError) -> [UInt8] {
        guard let endpoint = interface.interruptIn else {
            throw .failed(device: info.description, operation: "an Interrupt-IN read", code: LIBUSBCode.notSupported,
                          name: "no Interrupt-IN endpoint")
        }
        return try read(endpoint: endpoint.address, maxLength: maxLength, timeout: timeout, interrupt: true)
    }

    private func read(endpoint: UInt8, maxLength: Int, timeout: Duration, interrupt: Bool) throws(USBError) -> [UInt8] {
        let name = info.description
        return try withHandle { (h) throws(USBError) -> [UInt8] in
            var buffer = [UInt8](repeating: 0, count: Swift.max(1, maxLength))
            var received: Int32 = 0
            let rc = buffer.withUnsafeMutableBufferPointer { p -> Int32 in
                interrupt
                    ? libusb_interrupt_transfer(h, endpoint, p.baseAddress, Int32(p.count), &received, timeout.clampedMilliseconds)
                    : libusb_bulk_transfer(h, endpoint, p.baseAddress, Int32(p.count), &received, timeout.clampedMilliseconds)
            }
            let data = Array(buffer.prefix(Int(received)))
            guard rc == 0 else {
                throw USBError.from(code: rc, device: name,
                                    operation: interrupt ? "an Interrupt-IN read" : "a Bulk-IN read of up to \(maxLength) bytes",
                                    timeout: timeout, endpoint: endpoint, partial: data)
            }
            return data
        }
    }

    public func controlIn(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16,
                          timeout: Duration) throws(USBError) -> [UInt8] {
        let name = info.description
        return try withHandle { (h) throws(USBError) -> [UInt8] in
            var buffer = [UInt8](repeating: 0, count: Swift.max(1, Int(length)))
            let rc = buffer.withUnsafeMutableBufferPointer {
                libusb_control_transfer(h, requestType, request, value, index, $0.baseAddress, length, timeout.clampedMilliseconds)
            }
            guard rc >= 0 else {
                throw USBError.from(code: rc, device: name, operation: "control request \(request) (bmRequestType 0x\(String(requestType, radix: 16)))",
                                    timeout: timeout)
            }
            return Array(buffer.prefix(Int(rc)))
        }
    }

    public func clearHalt(endpoint: UInt8) throws(USBError) {
        let name = info.description
        try withHandle { (h) throws(USBError) -> Void in
            let rc = libusb_clear_halt(h, endpoint)
            guard rc == 0 else {
                throw USBError.from(code: rc, device: name, operation: "clearing the halt of endpoint 0x\(String(endpoint, radix: 16))",
                                    endpoint: endpoint)
            }
        }
    }

    public func close() {
        let interfaceNumber = Int32(info.interface.number)
        handle.withLock { h in
            guard let open = h?.pointer else { return }
            libusb_release_interface(open, interfaceNumber)
            libusb_close(open)
            h = nil
        }
    }
}
