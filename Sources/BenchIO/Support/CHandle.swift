/// A C handle (libusb device handle, gpiod line) that one object owns and only touches under
/// its own lock; the wrapper lets the lock's state cross isolation boundaries.
struct CHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
