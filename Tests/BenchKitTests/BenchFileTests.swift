import Foundation
import Testing
@testable import BenchKit

let goodBench = """
bench: test
description: a small bench for tests
roles:
  server.laser:
    driver: recording
    address: sim://laser
    limits:
      current: {max: 150 mA}
      temperature: {min: 15 °C, max: 35 °C}
  shutter:
    driver: recording
    address: gpio://gpiochip0/17
  server.modulator:
    driver: recording
    address: usbtmc://0957:2807?serial=MY123
    limits:
      drive: {min: -1 V, max: 1 V}
      bias: {min: -8 V, max: 8 V}
  server.voa:
    driver: recording
    address: sim://voa
    limits:
      attenuation: {min: 0 dB, max: 60 dB}
constraints:
  - while: shutter.open == open
    require: server.laser.current <= 80 mA
safe-state:
  - shutter: close
  - server.laser: ramp-down
  - server.modulator: zero-drive
  - server.voa: safe
"""

@Suite("Bench files")
struct BenchFileTests {
    @Test func parsesRolesLimitsConstraintsAndSafeState() throws {
        let b = try BenchDescription.parse(goodBench, file: "test.yaml")
        #expect(b.name == "test")
        #expect(b.roles == [.serverLaser, .serverModulator, .serverAttenuator, .shutter])
        #expect(b.bindings[.serverLaser]?.limits["current"]?.max == 0.15)
        #expect(abs((b.bindings[.serverLaser]?.limits["temperature"]?.min ?? 0) - 288.15) < 1e-9)
        #expect(b.bindings[.shutter]?.address == .gpio(chip: "gpiochip0", line: 17))
        #expect(b.bindings[.serverModulator]?.address == .usbtmc(vendor: 0x0957, product: 0x2807, serial: "MY123"))
        #expect(b.constraints.count == 1)
        #expect(b.constraints[0].requirement.value == 0.08)
        #expect(b.safeState.map(\.description) == ["shutter: close", "server.laser: ramp-down", "server.modulator: zero-drive", "server.voa: safe"])
    }

    /// Each malformed variant is refused with the file, the line and what is expected, never a crash.
    @Test(arguments: [
        ("roles:\n  server.laser:", "roles:\n  server.lazer:", 4, "unknown role 'server.lazer'"),
        ("    address: sim://laser\n", "", 5, "is missing 'address'"),
        ("current: {max: 150 mA}", "current: {max: 150 mV}", 8, "bad unit"),
        ("current: {max: 150 mA}", "current: {max: 250 mA}", 8, "limit violated"),
        ("attenuation: {min: 0 dB, max: 60 dB}", "attenuation: {min: 70 dB, max: 60 dB}", 23, "limit violated"),
        ("drive: {min: -1 V, max: 1 V}", "speed: {max: 1 V}", 17, "no limitable parameter 'speed'"),
        ("    driver: recording\n    address: sim://voa", "    driver: nonesuch\n    address: sim://voa", 19, "unknown driver 'nonesuch'"),
        ("address: sim://voa", "address: tcp://1.2.3.4", 21, "not a device address"),
        ("require: server.laser.current <= 80 mA", "require: server.laser.current <= 80", 26, "bad unit"),
        ("  - server.voa: safe", "  - server.voa: explode", 31, "unknown safe-state action"),
        ("  - shutter: close", "  - shutter: ramp-down", 28, "does not apply"),
        ("bench: test", "bench: test\nbench: again", 2, "duplicated key"),
        ("description: a small bench for tests", "descripton: x", 2, "unknown key 'descripton'"),
        ("      current: {max: 150 mA}", "      current: [150 mA", 9, "not valid YAML"),
        // The name is a folder of the calibration store and a file of the twin's saved time.
        ("bench: test", "bench: ../../escape", 1, "bench name '../../escape'"),
        ("bench: test", "bench: lab/bench", 1, "bench name 'lab/bench'"),
        ("bench: test", "bench: .hidden", 1, "bench name '.hidden'"),
        ("bench: test", "bench: lab bench", 1, "bench name 'lab bench'"),
        ("bench: test", "bench: ''", 1, "bench name ''"),
    ] as [(String, String, Int, String)])
    func malformedBenchFilesNameTheLine(find: String, replace: String, line: Int, message: String) throws {
        let text = goodBench.replacingOccurrences(of: find, with: replace)
        #expect(text != goodBench, "the test's edit did not apply")
        do {
            let b = try BenchDescription.parse(text, file: "bad.yaml")
            try DriverRegistry([RecordingDriver(log: CallLog())]).validate(b)
            Issue.record("accepted a malformed bench file")
        } catch {
            #expect(error.file == "bad.yaml")
            #expect(error.message.contains(message), "message was: \(error.message)")
            #expect(abs(error.line - line) <= 1, "line \(error.line) for \(message): \(error)")
        }
    }

    @Test(arguments: ["3.5 V", "3500 mV", "3.5V", "3.5e0 V"])
    func voltageSpellings(text: String) throws {
        #expect(abs(try Voltage.parse(text).volts - 3.5) < 1e-12)
    }

    @Test func unitsParseAndRefuse() throws {
        #expect(abs(try Power.parse("-3 dBm").watts - 0.501187e-3) < 1e-8)
        #expect(abs(try Power.parse("10 mW").dBm - 10) < 1e-12)
        #expect(abs(try Temperature.parse("25 °C").celsius - 25) < 1e-12)
        #expect(try Frequency.parse("1 GBd").hertz == 1e9)
        #expect(abs(try Length.parse("1550 nm").nanometres - 1550) < 1e-9)
        #expect(abs(try Current.parse("120 µA").amperes - 120e-6) < 1e-15)
        #expect(throws: UnitParseError.self) { try Voltage.parse("3.5 A") }
        #expect(throws: UnitParseError.self) { try Voltage.parse("volts") }
        #expect(try Decibels.parse("0.2 dB").dB == 0.2)
        #expect(abs(Decibels(3).linear - 1.9953) < 1e-4)
    }

    @Test(arguments: ["sim://x", "usbtmc://1313:8072", "usbtmc://1313:8072?serial=P2000001", "gpio://gpiochip0/17"])
    func addressesRoundTrip(text: String) throws {
        #expect(try DeviceAddress(parsing: text).description == text)
    }

    @Test(arguments: ["sim://", "usbtmc://zz:8072", "usbtmc://1313:8072?sn=1", "gpio://gpiochip0/x", "http://x"])
    func badAddresses(text: String) {
        #expect(throws: AddressError.self) { try DeviceAddress(parsing: text) }
    }

    @Test func defaultSafeStateRampsLasersFirst() throws {
        let text = goodBench.components(separatedBy: "safe-state:")[0]
        let b = try BenchDescription.parse(text, file: "t.yaml")
        #expect(b.safeState.first?.description == "server.laser: ramp-down")
        #expect(b.safeState.map(\.role).contains(.serverAttenuator))
    }
}
