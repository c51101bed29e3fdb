import BenchIO
import BenchMockHW
import CLibUSB
import Foundation
import Testing

extension BusTests {
    /// A Bulk-OUT URB whose data the emulator cannot read (here a null buffer of 64 bytes; in the
    /// suite it happened when `kill -9` took the submitting process's memory away mid-ioctl) fails
    /// with EFAULT as usbdevfs does when it cannot copy the caller's buffer, and the device goes on
    /// answering. Before, the emulator dereferenced the missing buffer and crashed the test process.
    @Test("a Bulk-OUT URB with unreadable data fails with EFAULT and the emulated instrument goes on answering")
    func unreadableBulkOutDataIsAFault() async throws {
        try await withEmulatedBus { bus in
            let emulated = try bus.addInstrument(serialNumber: "P2000009", bus: 9)
            var context: OpaquePointer?
            #expect(libusb_init(&context) == 0)
            defer { libusb_exit(context) }
            let handle = try #require(libusb_open_device_with_vid_pid(context, 0x1313, 0x8072))
            #expect(libusb_claim_interface(handle, 0) == 0)
            var sent: Int32 = 0
            let rc = libusb_bulk_transfer(handle, 0x02, nil, 64, &sent, 1000)
            #expect(rc == LIBUSB_ERROR_IO.rawValue && sent == 0, "libusb said \(rc), sent \(sent)")
            #expect(emulated.device.receivedMessages.isEmpty)
            libusb_release_interface(handle, 0)
            libusb_close(handle)

            // The instrument was not halted by it: the driver's stack still talks to it.
            let instrument = try await USBTMCInstrument.open(USBTMCDeviceMatch(vendorID: 0x1313, serialNumber: "P2000009"),
                                                            context: USBContext(), configuration: emulatedConfiguration())
            let idn = try await instrument.query(Array("*IDN?\n".utf8))
            #expect(String(decoding: idn, as: UTF8.self).hasPrefix("Thorlabs,PM100USB,P2000009"))
            await instrument.close()
        }
    }
}
