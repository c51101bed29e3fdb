import BenchKit
import Drivers

/// The real-instrument drivers (USBTMC/SCPI over libusb, GPIO over libgpiod), with their
/// instrument files from Devices/instruments/. A broken instrument file is reported with its file
/// and line, not skipped.
func realDrivers() throws -> [any DriverFactory] {
    try DriverCatalog.all(library: InstrumentLibrary.standard())
}
