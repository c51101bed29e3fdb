import BenchKit

/// Real-instrument drivers (USBTMC/SCPI over libusb, GPIO over libgpiod) join here.
let realDrivers: [any DriverFactory] = []
