/// The USB operations the USBTMC message layer needs (docs/hardware.md §0 and §1.9). Blocking:
/// each call returns when the transfer completes, fails or times out. Implemented by
/// `LibUSBTransport` (real libusb) and by in-memory fakes in tests.
public protocol USBTransport: AnyObject, Sendable {
    /// Names the device in messages, e.g. `USBTMC 1313:8072 serial P2000001`.
    var deviceDescription: String { get }
    /// The claimed USBTMC interface and its endpoints.
    var interface: USBTMCInterface { get }

    /// Bulk-OUT transfer of all of `data`; returns the bytes sent.
    func bulkOut(_ data: [UInt8], timeout: Duration) throws(USBError) -> Int
    /// One Bulk-IN transfer of at most `maxLength` bytes (a multiple of wMaxPacketSize); it ends
    /// at a short packet or when the buffer is full.
    func bulkIn(maxLength: Int, timeout: Duration) throws(USBError) -> [UInt8]
    /// One Interrupt-IN transfer (USB488 notifications).
    func interruptIn(maxLength: Int, timeout: Duration) throws(USBError) -> [UInt8]
    /// A device-to-host control transfer; returns the data stage.
    func controlIn(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16,
                   timeout: Duration) throws(USBError) -> [UInt8]
    /// CLEAR_FEATURE(ENDPOINT_HALT) (`libusb_clear_halt`).
    func clearHalt(endpoint: UInt8) throws(USBError)
    /// Releases the interface and closes the device. Further calls fail with `.closed`.
    func close()
}
