import BenchIO
import BenchKit
import Drivers
import Foundation
import Testing

/// The GPIO drivers (trigger, shutter, interlock) through the real libgpiod against the emulated
/// chip: levels, timing, active-low options, refusals that leave the line untouched.
extension BusTests {
    @Test("gpio-trigger, gpio-shutter, gpio-interlock with active-low options: levels, pulse timing, refusals")
    func gpioDrivers() async throws {
        try await withEmulatedBus { bus in
            let chip = try bus.addGPIOChip(name: "gpiochip0", label: "bench-gpio", lines: 8)
            chip.setInput(offset: 5, high: false)   // interlock clear at low
            let text = """
            bench: gpio
            roles:
              trigger: {driver: gpio-trigger, address: "gpio://bench-gpio/1", options: {pulse-width: 2 ms, period: 5 ms, active: low}}
              shutter: {driver: gpio-shutter, address: "gpio://gpiochip0/2", options: {open-level: low}}
              interlock: {driver: gpio-interlock, address: "gpio://gpiochip0/5", options: {clear-level: low}}
            """
            let bench = try await Bench.open(try BenchDescription.parse(text, file: "gpio.yaml"), registry: try EmulatedLab.registry())

            // Trigger (chip opened by label): inactive high, three low pulses of ≥ 2 ms, ≥ 5 ms apart.
            let trigger = try bench.trigger()
            #expect(chip.history(offset: 1).map(\.value) == [1])
            try await trigger.fire(shots: 3)
            let h = chip.history(offset: 1)
            #expect(h.map(\.value) == [1, 0, 1, 0, 1, 0, 1])
            for k in [1, 3, 5] { #expect(h[k + 1].monotonic_ns - h[k].monotonic_ns >= 2_000_000) }
            for k in [1, 3] { #expect(h[k + 2].monotonic_ns - h[k].monotonic_ns >= 5_000_000) }
            do {
                try await trigger.fire(shots: 0)
                Issue.record("fired 0 shots")
            } catch let e as DeviceError {
                #expect(e.kind == .invalidRequest)
            }
            #expect(chip.history(offset: 1).count == 7)   // the refusal did not touch the line
            #expect(try await trigger.settings()["shots-fired"] == "3")
            #expect(try await trigger.identify() == InstrumentIdentity(manufacturer: "Linux GPIO", model: "bench-gpio", serial: "gpiochip0 line 1", firmware: "libgpiod v1 uAPI"))

            // Shutter, open at low: requested closed (high), opens low, makeSafe closes.
            let shutter = try bench.shutter()
            let closedAtOpen = try await !shutter.isOpen()
            #expect(chip.value(offset: 2) == 1 && closedAtOpen)
            try await shutter.setOpen(true)
            let opened = try await shutter.isOpen()
            #expect(chip.value(offset: 2) == 0 && opened)
            try await shutter.makeSafe()
            #expect(chip.value(offset: 2) == 1)

            // Interlock, clear at low: clear; a rising edge trips it; one waiter at a time.
            let interlock = try bench.interlock()
            #expect(try await interlock.isClear())
            let waiter = Task { try await interlock.waitForChange(timeout: .seconds(2)) }
            try await Task.sleep(for: .milliseconds(50))
            do {
                _ = try await interlock.waitForChange(timeout: .milliseconds(10))
                Issue.record("a second waiter was accepted")
            } catch let e as DeviceError {
                #expect(e.kind == .invalidRequest && "\(e)".contains("already waiting"))
            }
            #expect(chip.injectEdge(offset: 5, rising: true))
            #expect(try await waiter.value == false)
            #expect(try await !interlock.isClear())
            #expect(chip.injectEdge(offset: 5, rising: false))
            #expect(try await interlock.isClear())
        }
    }
}

/// Audit G1: the interlock must report the line's level, not a level inferred from edges. The
/// emulator changes the level without queuing an edge (`setLevelSilently`), as when the kernel's
/// 16-event FIFO drops the last edge of a bouncing contact.
extension BusTests {
    @Test("gpio-interlock reports the line's level when the edge was dropped (audit G1)")
    func interlockLostEdge() async throws {
        try await withEmulatedBus { bus in
            let chip = try bus.addGPIOChip(name: "gpiochip0", label: "bench-gpio", lines: 8)
            chip.setInput(offset: 5, high: false)   // clear at low
            let text = """
            bench: gpio-g1
            roles:
              interlock: {driver: gpio-interlock, address: "gpio://gpiochip0/5", options: {clear-level: low}}
            """
            let bench = try await Bench.open(try BenchDescription.parse(text, file: "gpio-g1.yaml"), registry: try EmulatedLab.registry())
            let interlock = try bench.interlock()
            #expect(try await interlock.isClear())

            // The dangerous case: the line goes to the tripped level and its edge is lost.
            #expect(chip.setLevelSilently(offset: 5, high: true))
            #expect(try await !interlock.isClear(), "tripped line reported clear: level inferred from edges")
            // waitForChange sees a change since the last look at once (no waiting for an edge).
            #expect(chip.setLevelSilently(offset: 5, high: false))
            #expect(try await interlock.waitForChange(timeout: .milliseconds(200)) == true)
            #expect(try await interlock.waitForChange(timeout: .milliseconds(20)) == nil)

            // A bouncing contact: trip, release, and the last (tripping) edge dropped. The edges
            // wake the waiter; the level read after them is what it reports.
            #expect(chip.injectEdge(offset: 5, rising: true))
            #expect(chip.injectEdge(offset: 5, rising: false))
            #expect(chip.setLevelSilently(offset: 5, high: true))
            #expect(try await interlock.waitForChange(timeout: .seconds(2)) == false, "bounce ending tripped reported clear")
            #expect(try await !interlock.isClear())

            // Tripped through an edge, then back to clear with that edge lost.
            #expect(chip.injectEdge(offset: 5, rising: false))
            #expect(chip.injectEdge(offset: 5, rising: true))
            #expect(try await !interlock.isClear())
            #expect(chip.setLevelSilently(offset: 5, high: false))
            #expect(try await interlock.isClear(), "cleared line reported tripped: level inferred from edges")
        }
    }
}
