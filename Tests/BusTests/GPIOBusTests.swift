import BenchIO
import BenchMockHW
import Foundation
import Testing

extension BusTests {
    @Test("an output pulse sequence is seen by the chip, with the consumer name")
    func outputPulseSequence() throws {
        try withEmulatedBus { bus in
            let emulated = try bus.addGPIOChip()
            let chip = try GPIOChip.open(label: "bench-gpio")
            #expect(chip.name == "gpiochip0" && chip.lineCount == 8)
            let shutter = try chip.requestOutput(offset: 3, consumer: "bench-shutter")
            let info = try chip.lineInfo(offset: 3)
            #expect(info.isUsed && info.isOutput && info.consumer == "bench-shutter" && info.name == "line3")
            #expect(emulated.consumer(offset: 3) == "bench-shutter")
            for _ in 0..<3 { try shutter.pulse(width: .milliseconds(5)) }
            try shutter.set(true)
            #expect(try shutter.value())
            let history = emulated.history(offset: 3)
            #expect(history.map(\.value) == [0, 1, 0, 1, 0, 1, 0, 1])
            for i in stride(from: 1, to: 7, by: 2) {
                #expect(history[i + 1].monotonic_ns - history[i].monotonic_ns >= 5_000_000)
            }
            shutter.release()
            #expect(throws: GPIOError.released(chip: "gpiochip0", offset: 3)) { try shutter.set(false) }
            // Released means free again (the chip saw the line handle close).
            let again = try chip.requestOutput(offset: 3, consumer: "bench-shutter-2", initialValue: true)
            #expect(emulated.consumer(offset: 3) == "bench-shutter-2")
            again.release()
        }
    }

    @Test("waiting for an edge times out after the given Duration")
    func edgeWaitTimeout() throws {
        try withEmulatedBus { bus in
            _ = try bus.addGPIOChip()
            let chip = try GPIOChip.open(name: "gpiochip0")
            let trigger = try chip.requestEdgeEvents(offset: 5, consumer: "bench-trigger")
            let started = ContinuousClock.now
            #expect(try trigger.nextEdge(timeout: .milliseconds(50)) == nil)
            #expect(ContinuousClock.now - started >= .milliseconds(50))
        }
    }

    @Test("edges are read with their kernel timestamps")
    func edgeReadWithTimestamp() throws {
        try withEmulatedBus { bus in
            let emulated = try bus.addGPIOChip()
            let chip = try GPIOChip.open(name: "gpiochip0")
            let trigger = try chip.requestEdgeEvents(offset: 5, consumer: "bench-trigger", edges: .both)
            #expect(emulated.consumer(offset: 5) == "bench-trigger")
            #expect(emulated.injectEdge(offset: 5, rising: true, timestampNanoseconds: 123_456_789))
            #expect(emulated.injectEdge(offset: 5, rising: false, timestampNanoseconds: 1_223_456_789))
            #expect(try trigger.waitForEdge(timeout: .milliseconds(100)))
            #expect(try trigger.readEdge() == GPIOEdgeEvent(kind: .rising, timestamp: .nanoseconds(123_456_789)))
            let falling = try #require(try trigger.nextEdge(timeout: .milliseconds(100)))
            #expect(falling.kind == .falling)
            #expect(falling.timestamp == .seconds(1) + .nanoseconds(223_456_789))
        }
    }

    @Test("an edge-event line reads its level through the event request (active-low inverted), edges still queued")
    func edgeLineValue() throws {
        try withEmulatedBus { bus in
            let emulated = try bus.addGPIOChip()
            emulated.setInput(offset: 5, high: true)
            emulated.setInput(offset: 6, high: true)
            let chip = try GPIOChip.open(name: "gpiochip0")
            let line = try chip.requestEdgeEvents(offset: 5, consumer: "bench-interlock")
            let inverted = try chip.requestEdgeEvents(offset: 6, consumer: "bench-interlock-2", activeLow: true)
            #expect(try line.value() && !(try inverted.value()))
            #expect(emulated.setLevelSilently(offset: 5, high: false) && emulated.setLevelSilently(offset: 6, high: false))
            #expect(try !line.value() && (try inverted.value()))
            #expect(try line.nextEdge(timeout: .milliseconds(20)) == nil)   // no edge was queued
            #expect(emulated.injectEdge(offset: 5, rising: true))
            #expect(try line.value())
            #expect(try line.nextEdge(timeout: .milliseconds(100))?.kind == .rising)
            #expect(emulated.injectEdge(offset: 5, rising: false))   // left unread
            line.release()
            #expect(throws: GPIOError.released(chip: "gpiochip0", offset: 5)) { try line.value() }
            #expect(!emulated.setLevelSilently(offset: 5, high: true))   // no event request any more
            // The next request reuses the emulator's first event node, line 5's: it starts with
            // no edge left over from that request.
            inverted.release()
            let again = try chip.requestEdgeEvents(offset: 6, consumer: "bench-interlock-3")
            #expect(try again.nextEdge(timeout: .milliseconds(20)) == nil)
        }
    }

    @Test("a line held by someone else gives lineBusy naming the holder")
    func lineBusy() throws {
        try withEmulatedBus { bus in
            let emulated = try bus.addGPIOChip()
            #expect(emulated.hold(offset: 2, consumer: "other-app"))
            let chip = try GPIOChip.open(name: "gpiochip0")
            #expect {
                _ = try chip.requestOutput(offset: 2, consumer: "bench-shutter")
            } throws: { error in
                guard case .lineBusy(let name, let offset, let lineName, let holder) = error as? GPIOError else { return false }
                return name == "gpiochip0" && offset == 2 && lineName == "line2" && holder == "other-app"
                    && "\(error)".contains("held by \"other-app\"")
            }
            // A second handle on the same chip competes for a line we hold ourselves.
            let first = try chip.requestOutput(offset: 4, consumer: "bench-trigger-out")
            let other = try GPIOChip.open(name: "gpiochip0")
            #expect(throws: GPIOError.lineBusy(chip: "gpiochip0", offset: 4, lineName: "line4", heldBy: "bench-trigger-out")) {
                _ = try other.requestEdgeEvents(offset: 4, consumer: "bench-monitor")
            }
            first.release()
        }
    }

    @Test("missing chips and lines give errors that list what exists")
    func missingChipAndLine() throws {
        try withEmulatedBus { bus in
            _ = try bus.addGPIOChip()
            #expect(throws: GPIOError.chipNotFound("gpiochip7", available: ["gpiochip0"])) {
                _ = try GPIOChip.open(name: "gpiochip7")
            }
            let chip = try GPIOChip.open(name: "gpiochip0")
            #expect(throws: GPIOError.lineOutOfRange(chip: "gpiochip0", offset: 8, lineCount: 8)) {
                _ = try chip.requestOutput(offset: 8, consumer: "x")
            }
            #expect(try chip.offset(ofLineNamed: "line6") == 6)
        }
    }
}
