import Foundation
import Testing

/// L2: the real libusb 1.0.26 and libgpiod 1.6.3 code paths against devices emulated by
/// umockdev (docs/hardware.md §5). umockdev has one testbed per process, so everything runs
/// serialised in this one suite; the tests live in extensions (USBTMCBusTests.swift,
/// GPIOBusTests.swift). Run with `bash scripts/test.sh`.
@Suite("Bus level: real libusb and libgpiod against umockdev", .serialized)
struct BusTests {
    @Test("the umockdev preload is active")
    func preloadIsActive() throws {
        try requireUmockdevPreload()
    }
}
