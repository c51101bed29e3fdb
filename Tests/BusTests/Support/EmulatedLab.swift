import BenchIO
import BenchKit
import Drivers
import Foundation
import InstrumentModels
import Testing

/// The repository's instrument files, found from this file.
let busLibrary = InstrumentLibrary(directory: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Devices/instruments"))

/// The instruments of the fibre test bed, emulated on one umockdev testbed, each answering with
/// the SCPI model the driver unit tests use: two PM100USBs (output tap, LO tap), a CLD1015, three
/// 33500B AWGs, an InfiniiVision scope, and a 32-line GPIO chip.
struct EmulatedLab {
    let tap: EmulatedInstrument<ThorlabsPM100USBModel>
    let loMeter: EmulatedInstrument<ThorlabsPM100USBModel>
    let laser: EmulatedInstrument<ThorlabsCLD1015Model>
    let awg1: EmulatedInstrument<Keysight33500BModel>
    let awg2: EmulatedInstrument<Keysight33500BModel>
    let awg3: EmulatedInstrument<Keysight33500BModel>
    let scope: EmulatedInstrument<KeysightInfiniiVisionModel>
    let gpio: EmulatedGPIOChip

    init(_ bus: EmulatedBus) throws {
        tap = try bus.addInstrument(ThorlabsPM100USBModel(serialNumber: "P2000001"), vendorID: 0x1313, productID: 0x8072,
                                    manufacturer: "Thorlabs", product: "PM100USB", serialNumber: "P2000001", bus: 1)
        loMeter = try bus.addInstrument(ThorlabsPM100USBModel(serialNumber: "P2000002"), vendorID: 0x1313, productID: 0x8072,
                                        manufacturer: "Thorlabs", product: "PM100USB", serialNumber: "P2000002", bus: 2)
        laser = try bus.addInstrument(ThorlabsCLD1015Model(serialNumber: "M00443953"), vendorID: 0x1313, productID: 0x804F,
                                      manufacturer: "Thorlabs", product: "CLD1015", serialNumber: "M00443953", bus: 3)
        awg1 = try bus.addInstrument(Keysight33500BModel(serialNumber: "MY52600001"), vendorID: 0x0957, productID: 0x2807,
                                     manufacturer: "Agilent Technologies", product: "33522B", serialNumber: "MY52600001", bus: 4)
        awg2 = try bus.addInstrument(Keysight33500BModel(serialNumber: "MY52600002"), vendorID: 0x0957, productID: 0x2807,
                                     manufacturer: "Agilent Technologies", product: "33522B", serialNumber: "MY52600002", bus: 5)
        awg3 = try bus.addInstrument(Keysight33500BModel(serialNumber: "MY52600003"), vendorID: 0x0957, productID: 0x2807,
                                     manufacturer: "Agilent Technologies", product: "33522B", serialNumber: "MY52600003", bus: 6)
        var scopeModel = KeysightInfiniiVisionModel(serialNumber: "MY55100001")
        // Slot k of segment s holds (k + 10 s) · 3.125 mV (an exact 8-bit ADC code).
        scopeModel.signal = { segment, t in 0.003125 * Double(Int(t / 1e-7 + 1e-9) + 10 * segment) }
        scope = try bus.addInstrument(scopeModel, vendorID: 0x0957, productID: 0x17A8, manufacturer: "Keysight Technologies",
                                      product: "MSO-X 3014T", serialNumber: "MY55100001", bus: 7)
        gpio = try bus.addGPIOChip(name: "gpiochip0", label: "bench-gpio", lines: 32)
    }

    /// The bench trigger's wire: a pulse reaches the scope's EXT TRIG and the AWGs' trigger inputs.
    func triggerWire() {
        scope.device.withModel { $0.externalTrigger() }
        for awg in [awg1, awg2, awg3] { awg.device.withModel { $0.externalTrigger() } }
    }

    /// The registry of every driver, talking to the emulated bus through the real libusb/libgpiod
    /// code, with the short timeouts of the bus tests.
    static func registry() throws -> DriverRegistry {
        try DriverCatalog.registry(library: busLibrary, connector: SystemConnector(configuration: emulatedConfiguration()))
    }

    /// The real roles of Devices/benches/fiber-testbed.yaml on the emulated instruments, with a
    /// 16-slot shot.
    static let benchFile = """
    bench: emulated-testbed
    roles:
      server.laser:
        driver: thorlabs-cld1015
        address: usbtmc://1313:804f?serial=M00443953
        limits:
          current: {min: 0 mA, max: 100 mA}
        options: {wavelength: 1550 nm}
      server.modulator:
        driver: keysight-33500b
        address: usbtmc://0957:2807?serial=MY52600001
        limits:
          drive: {min: -2 V, max: 2 V}
        options:
          i: {channel: 1}
          q: {channel: 2}
          phase: {awg: "usbtmc://0957:2807?serial=MY52600002", channel: 1, load: high-z}
      server.tap:
        driver: thorlabs-pm100usb
        address: usbtmc://1313:8072?serial=P2000001
        options: {wavelength: 1550 nm}
      server.receiver:
        driver: keysight-infiniivision
        address: usbtmc://0957:17a8?serial=MY55100001
        options:
          channel: 1
          symbol-rate: 10 MBd
          slots-per-shot: 16
          lo-power: {meter: "usbtmc://1313:8072?serial=P2000002", tap-fraction: 0.01, averaging: 30 ms}
          lo-phase: {awg: "usbtmc://0957:2807?serial=MY52600002", channel: 2, v-pi: 3.5 V}
          vacuum-gate: {awg: "usbtmc://0957:2807?serial=MY52600003", channel: 1, blocked: 5 V, open: 0 V}
          input-block: {line: "gpio://gpiochip0/6", blocked-level: high}
      trigger:
        driver: gpio-trigger
        address: gpio://gpiochip0/17
        options: {pulse-width: 1 ms, period: 3 ms}
      shutter:
        driver: gpio-shutter
        address: gpio://gpiochip0/27
      interlock:
        driver: gpio-interlock
        address: gpio://gpiochip0/22
    constraints:
      - while: shutter.open == open
        require: server.laser.current <= 80 mA
    """
}
