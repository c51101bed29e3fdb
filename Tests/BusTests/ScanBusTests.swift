import BenchIO
import BenchKit
import Drivers
import Foundation
import InstrumentModels
import Testing

/// `qbench scan`'s logic against the emulated lab through the real libusb and libgpiod code.
extension BusTests {
    @Test("scan: USBTMC instruments with *IDN? and their drivers, GPIO chips with used lines, a snippet that validates")
    func scan() async throws {
        try await withEmulatedBus { bus in
            _ = try EmulatedLab(bus)
            _ = try bus.addInstrument(GenericPowerMeterModel(manufacturer: "RIGOL TECHNOLOGIES", model: "DS1104Z", serialNumber: "DS1ZA0001", firmware: "00.04.04"),
                                      vendorID: 0x1AB1, productID: 0x04CE, manufacturer: "Rigol", product: "DS1000Z", serialNumber: "DS1ZA0001", bus: 8)
            let chip = try bus.addGPIOChip(name: "gpiochip1", label: "pinctrl-test", lines: 8)
            #expect(chip.hold(offset: 0, consumer: "other-app"))
            let report = await BenchScan.run(context: try USBContext(), descriptions: try DriverCatalog.descriptions(library: busLibrary),
                                             timeout: .milliseconds(200))
            if let path = ProcessInfo.processInfo.environment["QBENCH_SCAN_OUTPUT"] {
                try (BenchScan.text(report) + "\n--- JSON ---\n" + String(decoding: try JSONEncoder.sorted.encode(report), as: UTF8.self))
                    .write(toFile: path, atomically: true, encoding: .utf8)
            }

            #expect(report.usbProblem == nil)
            #expect(report.usb.map(\.id) == ["1313:8072", "1313:8072", "1313:804F", "0957:2807", "0957:2807", "0957:2807", "0957:17A8", "1AB1:04CE"])
            #expect(report.usb.map(\.driver) == ["thorlabs-pm100usb", "thorlabs-pm100usb", "thorlabs-cld1015", "keysight-33500b", "keysight-33500b",
                                                 "keysight-33500b", "keysight-infiniivision", nil])
            #expect(report.usb[2].idn == "THORLABS,CLD1015,M00443953,1.4.0" && report.usb[2].address == "usbtmc://1313:804f?serial=M00443953")
            #expect(report.usb[6].visa == "USB0::0x0957::0x17A8::MY55100001::INSTR")
            #expect(report.usb.allSatisfy { $0.problem == nil && $0.idn != nil })
            #expect(report.gpio.map(\.name) == ["gpiochip0", "gpiochip1"] && report.gpio[1].label == "pinctrl-test")
            let held = report.gpio[1].lineInfo[0]
            #expect(held.offset == 0 && held.name == "line0" && held.consumer == "other-app" && held.used)

            // The snippet binds what was found and passes the drivers' checks as it is.
            let bench = try BenchDescription.parse("bench: scanned\n" + report.snippet, file: "snippet.yaml")
            try EmulatedLab.registry().validate(bench)
            #expect(bench.roles.map(\.rawValue) == ["server.laser", "server.modulator", "server.tap", "server.receiver", "trigger", "shutter", "interlock"])
            #expect(bench.bindings[.serverModulator]?.address == .usbtmc(vendor: 0x0957, product: 0x2807, serial: "MY52600001"))
            #expect(report.snippet.contains("# 1AB1:04CE serial DS1ZA0001 (RIGOL TECHNOLOGIES,DS1104Z,DS1ZA0001,00.04.04): no driver in this repository"))
            #expect(bench.bindings[.trigger]?.address == .gpio(chip: "gpiochip0", line: 0))
        }
    }
}

extension BusTests {
    @Test("G2: scan never detaches a kernel driver, device-clears or asserts REN; instruments another program holds are reported busy")
    func scanWithoutDisturbing() async throws {
        try await withEmulatedBus { bus in
            let free = try bus.addInstrument(serialNumber: "P3000001", bus: 11)
            let kernel = try bus.addInstrument(serialNumber: "P3000002", bus: 12, kernelDriverBound: true)
            let claimed = try bus.addInstrument(serialNumber: "P3000003", bus: 13, interfaceBusy: true)
            let report = await BenchScan.run(context: try USBContext(), descriptions: try DriverCatalog.descriptions(library: busLibrary),
                                             timeout: .milliseconds(200))
            let bySerial = Dictionary(uniqueKeysWithValues: report.usb.compactMap { u in u.serial.map { ($0, u) } })
            #expect(bySerial["P3000001"]?.idn?.contains("P3000001") == true && bySerial["P3000001"]?.problem == nil)
            for serial in ["P3000002", "P3000003"] {
                #expect(bySerial[serial]?.idn == nil)
                #expect(bySerial[serial]?.problem?.hasPrefix("busy") == true, "\(bySerial[serial]?.problem ?? "no entry")")
            }
            #expect(kernel.kernelDriverBound)   // not detached: a program using /dev/usbtmcN keeps working
            for instrument in [free, kernel, claimed] {
                #expect(instrument.stats.initiate_clear == 0 && instrument.stats.check_clear_status == 0)
                #expect(instrument.stats.ren_enable == 0)
            }
            // The bench, by contrast, clears on open and asserts REN (T2) when it opens the free one.
            let opened = try await USBTMCInstrument.open(USBTMCDeviceMatch(serialNumber: "P3000001"), context: try USBContext(),
                                                         configuration: emulatedConfiguration())
            #expect(free.stats.initiate_clear == 1)
            #expect(free.stats.ren_enable == 1)
            await opened.close()
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
