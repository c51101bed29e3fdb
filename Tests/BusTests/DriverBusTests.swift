import BenchIO
import BenchKit
import Drivers
import Foundation
import InstrumentModels
import Testing

/// The drivers through the real libusb 1.0.26 and libgpiod 1.6.3 code against umockdev-emulated
/// instruments that answer with the same SCPI models as the driver unit tests.
extension BusTests {
    private func openBench(_ text: String = EmulatedLab.benchFile) async throws -> Bench {
        try await Bench.open(try BenchDescription.parse(text, file: "emulated-testbed.yaml"), registry: try EmulatedLab.registry())
    }

    @Test("a whole bench opens through the drivers and runs: laser, meter, modulator, receiver, trigger, shutter, interlock, safe state")
    func wholeBench() async throws {
        try await withEmulatedBus { bus in
            let lab = try EmulatedLab(bus)
            lab.gpio.setInput(offset: 22, high: true)                      // interlock clear
            lab.loMeter.device.withModel { $0.opticalPower = 1e-5; $0.darkSignal = 0 }
            let bench = try await openBench()

            // Opening: shutter closed, input blocked, loads and wavelengths set, the CLD's limit read back.
            #expect(lab.gpio.value(offset: 27) == 0 && lab.gpio.value(offset: 6) == 1)
            #expect(lab.gpio.consumer(offset: 17) == "qbench trigger" && lab.gpio.consumer(offset: 22) == "qbench interlock")
            // The link reads *IDN? once when it opens (the serial number a reconnect must find again).
            #expect(Array(lab.laser.device.receivedMessages.prefix(2)) == ["*IDN?", "SOUR:CURR:LIM:AMPL?"])
            #expect(lab.tap.device.withModel { $0.wavelength } == 1550 && !lab.awg2.device.withModel { $0.channels[0].fiftyOhm })

            // Power meter: averaging, reading, dark adjustment.
            let tap = try bench.powerMeter()
            lab.tap.device.withModel { $0.opticalPower = 2e-4 }
            #expect(abs(try await tap.readPower(averaging: .milliseconds(30)).si - (2e-4 + 2e-9)) < 1e-15)
            lab.tap.device.withModel { $0.opticalPower = 0 }
            try await tap.zero()
            #expect(lab.tap.device.withModel { $0.zeroAdjustments } == 1)

            // Laser: TEC, switch-on, ramp; a current beyond the bench limit never reaches the controller.
            let laser = try bench.laser()
            try await laser.setTemperature(.celsius(25))
            try await laser.setEmission(true)
            try await laser.ramp(to: .milliamperes(60), step: .milliamperes(20), interval: .milliseconds(1))
            #expect(lab.laser.device.withModel { ($0.laserOn, $0.setpoint) } == (true, 0.06))
            let sent = lab.laser.device.receivedMessages.count
            await #expect(throws: LimitViolation.self) { try await laser.setCurrent(.milliamperes(150)) }
            #expect(lab.laser.device.receivedMessages.count == sent)

            // Shutter (60 mA ≤ the 80 mA the open shutter allows).
            try await bench.shutter().setOpen(true)
            let open = try await bench.shutter().isOpen()
            #expect(lab.gpio.value(offset: 27) == 1 && open)

            // Modulator: biases as offsets, the phase as a DC level on AWG 2, the drive as triggered waveforms.
            let modulator = try bench.modulator()
            try await modulator.setBias(.i, .volts(0.25))
            try await modulator.setBias(.q, .volts(-0.25))
            try await modulator.setBias(.phase, .volts(1.5))
            let drive = (0..<16).map { Float(0.5 * sin(Double($0) * .pi / 8)) }
            try await modulator.loadDrive(i: Waveform(volts: drive, sampleRate: .hertz(10e6)), q: Waveform(volts: drive.map { -$0 }, sampleRate: .hertz(10e6)))
            let played = try #require(lab.awg1.device.withModel { $0.playback(channel: 1) })
            #expect(zip(played, drive).allSatisfy { abs($0 - (0.25 + Double($1))) < 1e-4 })
            #expect(lab.awg2.device.withModel { $0.level(channel: 1) } == 1.5)
            #expect(try await modulator.bias(.q) == .volts(-0.25))

            // Receiver: LO power from the LO tap, per-slot LO phase and vacuum gate, input unblocked.
            let receiver = try bench.receiver(.serverReceiver)
            #expect(abs(try await receiver.localOscillatorPower().si - 1e-3) < 1e-12)
            try await receiver.loadSlotPattern([.x, .p, .x, .vacuum])
            let lo = try #require(lab.awg2.device.withModel { $0.playback(channel: 2) })
            #expect(lo.count == 16 && zip(lo, [0, 1.75, 0, 0]).allSatisfy { abs($0 - $1) < 1e-4 })
            let gate = try #require(lab.awg3.device.withModel { $0.playback(channel: 1) })
            #expect(zip(gate, [0, 0, 0, 5]).allSatisfy { abs($0 - $1) < 1e-4 })
            try await receiver.setInputBlocked(false)
            #expect(lab.gpio.value(offset: 6) == 0)

            // No trigger: the fetch times out and the scope stays armed.
            try await receiver.arm(shots: 2)
            await #expect(throws: DeviceError.self) { _ = try await receiver.fetch(timeout: .milliseconds(20)) }

            // Two shots: the trigger line pulses twice; its wire reaches the scope and the AWGs.
            try await bench.trigger().fire(shots: 2)
            let pulses = lab.gpio.history(offset: 17).map(\.value)
            #expect(pulses == [0, 1, 0, 1, 0])
            for _ in 0..<2 { lab.triggerWire() }
            let block = try await receiver.fetch(timeout: .seconds(2))
            #expect(block.volts.count == 32)
            #expect(block.volts.enumerated().allSatisfy { abs(Double($1) - 0.003125 * Double($0 % 16 + 10 * ($0 / 16))) < 1e-6 })
            #expect(lab.awg1.device.withModel { $0.channels.map(\.bursts) } == [2, 2])

            // Interlock: clear, then a falling edge trips it.
            let interlock = try bench.interlock()
            #expect(try await interlock.isClear())
            #expect(try await interlock.waitForChange(timeout: .milliseconds(20)) == nil)
            #expect(lab.gpio.injectEdge(offset: 22, rising: false))
            let change = try await interlock.waitForChange(timeout: .seconds(1))
            #expect(change == false, "\(String(describing: change))")
            #expect(try await !interlock.isClear())

            // Safe state: every step succeeds; laser ramped down and off, shutter closed, input blocked.
            let records = await bench.enterSafeState()
            let failed = records.filter { !$0.succeeded }
            #expect(failed.isEmpty, "\(failed)")
            #expect(lab.laser.device.withModel { ($0.laserOn, $0.setpoint) } == (false, 0))
            #expect(lab.gpio.value(offset: 27) == 0 && lab.gpio.value(offset: 6) == 1)
            #expect(lab.awg1.device.withModel { $0.level(channel: 1) } == 0.25)   // zero-drive holds the bias
            #expect(!lab.scope.device.withModel { $0.running })

            let snapshot = await bench.snapshot()
            #expect(snapshot.entries.allSatisfy { $0.identity != nil && $0.error == nil }, "\(snapshot.entries.filter { $0.error != nil })")
            #expect(snapshot.entries.first { $0.role == "server.laser" }?.identity?.serial == "M00443953")
            for instrument in [lab.tap.device.errorQueue, lab.laser.device.errorQueue, lab.scope.device.errorQueue] { #expect(instrument.isEmpty) }
        }
    }

    /// What `qbench devices --bench Devices/benches/fiber-testbed-server.yaml` does at the server's
    /// site, on emulated instruments with the file's serial numbers: the shipped file itself (not a
    /// copy) opens, every role answers with its identity and state, and the safe state completes.
    @Test("the shipped server-site bench file opens on emulated instruments: every role identified, its state read, safe state done")
    func shippedServerSiteFile() async throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Devices/benches/fiber-testbed-server.yaml")
        try await withEmulatedBus { bus in
            let lab = try EmulatedLab(bus)
            lab.gpio.setInput(offset: 22, high: true)                      // interlock clear
            lab.loMeter.device.withModel { $0.opticalPower = 1e-5; $0.darkSignal = 0 }
            let description = try BenchDescription.load(file)
            let bench = try await Bench.open(description, registry: try EmulatedLab.registry())
            let snapshot = await bench.snapshot()
            #expect(Set(snapshot.entries.map(\.role)) == Set(description.bindings.keys.map(\.rawValue)))
            for e in snapshot.entries {
                #expect(e.identity != nil && e.error == nil, "\(e.role): \(e.error ?? "no identity")")
                #expect(!e.settings.isEmpty, "\(e.role) reports no state")
            }
            #expect(snapshot.entries.first { $0.role == "server.receiver" }?.identity?.serial == "MY55100001")
            // The calibration switch opens back-to-back (line 5 low), routes, and reads its line back.
            #expect(lab.gpio.value(offset: 5) == 0)
            let path = try bench.opticalSwitch()
            try await path.route(.client)
            let routed = try await path.path()
            #expect(lab.gpio.value(offset: 5) == 1 && routed == .client)
            // The VOA opens at its highest attenuation (5 V on AWG 3 channel 2) and sets a table point exactly.
            #expect(lab.awg3.device.withModel { $0.level(channel: 2) } == 5)
            let voa = try bench.attenuator()
            try await voa.setAttenuation(Decibels(14.5))
            #expect(lab.awg3.device.withModel { $0.level(channel: 2) }.map { abs($0 - 3) < 1e-9 } == true)
            let records = await bench.enterSafeState()
            #expect(records.filter { !$0.succeeded }.isEmpty, "\(records.filter { !$0.succeeded })")
            #expect(lab.laser.device.withModel { $0.laserOn } == false && lab.gpio.value(offset: 27) == 0)
            #expect(lab.gpio.value(offset: 5) == 0 && lab.awg3.device.withModel { $0.level(channel: 2) } == 5)
            for instrument in [lab.tap.device.errorQueue, lab.laser.device.errorQueue, lab.scope.device.errorQueue, lab.awg3.device.errorQueue] {
                #expect(instrument.isEmpty)
            }
        }
    }

    @Test("driver error paths over USB: instrument unplugged (disconnected), no reply (timeout naming the command)")
    func driverErrorsOverUSB() async throws {
        try await withEmulatedBus { bus in
            let lab = try EmulatedLab(bus)
            let text = """
            bench: errors
            roles:
              server.tap: {driver: thorlabs-pm100usb, address: "usbtmc://1313:8072?serial=P2000001"}
              server.laser: {driver: thorlabs-cld1015, address: "usbtmc://1313:804f?serial=M00443953", options: {wavelength: 1550 nm}}
            """
            let bench = try await openBench(text)
            lab.laser.holdResponses(true)
            do {
                _ = try await bench.laser().current()
                Issue.record("no timeout")
            } catch let e as DeviceError {
                #expect(e.kind == .timeout && "\(e)".contains("\"SOUR:CURR?\"") && "\(e)".contains("server.laser"), "\(e)")
            }
            lab.laser.holdResponses(false)
            #expect(try await bench.laser().current() == .zero)   // recovered after the abort
            lab.tap.unplug()
            do {
                _ = try await bench.powerMeter().readPower(averaging: .zero)
                Issue.record("no error")
            } catch let e as DeviceError {
                #expect(e.kind == .disconnected && "\(e)".contains("server.tap"), "\(e)")
            }
        }
    }

    @Test("a GPIO line held by another program: opening the bench fails with EBUSY naming line and holder")
    func gpioLineBusy() async throws {
        try await withEmulatedBus { bus in
            let lab = try EmulatedLab(bus)
            #expect(lab.gpio.hold(offset: 27, consumer: "other-app"))
            let text = "bench: busy\nroles:\n  shutter: {driver: gpio-shutter, address: \"gpio://gpiochip0/27\"}\n"
            do {
                _ = try await openBench(text)
                Issue.record("opened a held line")
            } catch let e as DeviceError {
                #expect(e.kind == .notReady && "\(e)".contains("line 27") && "\(e)".contains("held by \"other-app\"") && "\(e)".contains("shutter"), "\(e)")
            }
        }
    }
}

extension BusTests {
    /// Reconnect by serial number through the real libusb: the instrument is pulled and plugged in
    /// again on another bus with a new device address; the link opened by
    /// `usbtmc://VID:PID?serial=S` reopens it there and the next query succeeds. While only an
    /// instrument with another serial number is at that VID:PID the reopen fails without using it.
    /// (The pulled devices may stay in libusb's list, unreadable: matching by VID:PID alone would
    /// be ambiguous, which is what the serial number in the address avoids.)
    @Test("a USB instrument pulled and plugged in again on another bus is reopened by its serial number")
    func reconnectBySerialNumber() async throws {
        try await withEmulatedBus { bus in
            let first = try bus.addInstrument(serialNumber: "P2000001", bus: 1)
            let connector = SystemConnector(configuration: emulatedConfiguration())
            let link = try await InstrumentLink.open(.usbtmc(vendor: 0x1313, product: 0x8072, serial: "P2000001"), quirks: TransportQuirks(), using: connector)
            #expect(link.serialNumber == "P2000001")
            first.remove()
            await #expect { _ = try await link.run("server.tap") { s in try await s.query("*IDN?") } } throws: { ($0 as? DeviceError)?.kind == .disconnected }
            let other = try bus.addInstrument(serialNumber: "P2000009", bus: 2)
            await #expect { try await link.reopen("server.tap") } throws: { ($0 as? DeviceError)?.kind != nil && ($0 as? DeviceError)?.kind != .wrongInstrument }
            other.remove()
            let second = try bus.addInstrument(serialNumber: "P2000001", bus: 3)
            var generation = 0
            let deadline = ContinuousClock.now + .seconds(5)
            while generation == 0, ContinuousClock.now < deadline {
                do { generation = try await link.reopen("server.tap") } catch { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(generation == 1)
            #expect(try await link.run("server.tap") { s in try await s.identify().serialNumber } == "P2000001")
            #expect(second.device.receivedMessages.contains("*IDN?"))
            withExtendedLifetime(connector) {}
        }
    }
}
