import BenchIO
import BenchKit
@testable import Drivers
import Foundation
import InstrumentModels
import Testing

/// The MEMS VOA on a 33500B channel's DC level (docs/hardware.md §6.5): its A(V) table, the
/// approach from below, the safe state at the highest attenuation, and bench-file refusals.
@Suite("DAC-driven MEMS VOA")
struct DACVariableAttenuatorTests {
    static let volts = [0.0, 1, 2, 3, 4, 5]
    static let decibels = [0.6, 1.4, 4.8, 14.5, 33, 58]

    static func table(_ x: [Double], _ y: [Double]) throws -> CalibrationTable {
        try CalibrationTable(zip(x, y).map { CalibrationTable.Point(x: $0, y: $1) }, source: "test", interpolation: .monotoneCubic)
    }

    @Test("the monotone cubic goes through its points, rises monotonically between them, and inverts")
    func monotoneCubic() throws {
        let t = try Self.table(Self.volts, Self.decibels)
        for (v, a) in zip(Self.volts, Self.decibels) { #expect(abs(t.y(at: v)! - a) < 1e-12) }
        var previous = -Double.infinity
        for k in 0...5000 {
            let v = 5 * Double(k) / 5000, a = t.y(at: v)!
            #expect(a > previous, "not rising at \(v) V")
            previous = a
            #expect(abs(t.x(for: a)! - v) < 1e-9)
        }
        #expect(t.y(at: 5.01) == nil && t.y(at: -0.01) == nil && t.x(for: 0.5) == nil && t.x(for: 58.1) == nil)
        // Not the straight line: between 3 V and 4 V the curve follows the table's steepening.
        let linear = try CalibrationTable(zip(Self.volts, Self.decibels).map { CalibrationTable.Point(x: $0, y: $1) }, source: "test")
        #expect(abs(t.y(at: 3.5)! - linear.y(at: 3.5)!) > 0.1)
        // A falling table inverts too.
        let f = try Self.table([0, 1, 2, 3], [10, 5, 2, 1])
        #expect(!f.increasing && abs(f.x(for: 5)! - 1) < 1e-12 && abs(f.y(at: f.x(for: 3)!)! - 3) < 1e-9)
    }

    func open(load: Keysight33500BChannel.Load = .highZ) async throws -> (DACVariableAttenuator, SimulatedSCPIDevice<Keysight33500BModel>) {
        let (link, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        let channel = Keysight33500BChannel(link: link, number: 2, load: load, limits: try Keysight33500BLimits(description("keysight-33500b")))
        let voa = try await DACVariableAttenuator.open(channel: channel, table: try Self.table(Self.volts, Self.decibels), device: "server.voa")
        return (voa, device)
    }

    /// The control voltages the channel was told to hold, in order.
    static func levels(_ device: SimulatedSCPIDevice<Keysight33500BModel>) -> [Double] {
        device.receivedMessages.compactMap { m in m.hasPrefix("SOUR2:VOLT:OFFS ") ? Double(m.dropFirst("SOUR2:VOLT:OFFS ".count)) : nil }
    }

    @Test("opens at its highest attenuation, sets and reads back through the table, approaches every setpoint from below")
    func againstModel() async throws {
        let (voa, device) = try await open()
        #expect(device.withModel { ($0.level(channel: 2), $0.channels[1].output, $0.channels[1].fiftyOhm) } == (5, true, false))
        let opened = try await voa.attenuation()
        #expect(opened == Decibels(58))
        try await voa.setAttenuation(Decibels(14.5))
        #expect(abs(device.withModel { $0.level(channel: 2) }! - 3) < 1e-9)
        let set = try await voa.attenuation()
        #expect(abs(set.dB - 14.5) < 1e-9)
        // Going up in voltage is direct; going down passes through the lowest voltage first.
        let before = Self.levels(device).count
        try await voa.setAttenuation(Decibels(33))
        try await voa.setAttenuation(Decibels(4.8))
        let moves = Array(Self.levels(device).dropFirst(before))
        #expect(moves.count == 3 && abs(moves[0] - 4) < 1e-9 && moves[1] == 0 && abs(moves[2] - 2) < 1e-9, "\(moves)")
        // Between points: the table's monotone interpolation, read back as set to within what the
        // channel's offset resolution allows (the slope there is about 19 dB/V).
        try await voa.setAttenuation(Decibels(20))
        let v = device.withModel { $0.level(channel: 2) }!
        let between = try await voa.attenuation()
        #expect(v > 3 && v < 4 && abs(between.dB - 20) < 1e-3, "\(v) V reads back as \(between)")
        // Outside the table: refused before a byte is sent.
        let sent = device.receivedMessages.count
        await expectDeviceError(.invalidRequest, ["server.voa", "outside the VOA's measured table"]) { try await voa.setAttenuation(Decibels(70)) }
        #expect(device.receivedMessages.count == sent)
        try await voa.makeSafe()
        #expect(device.withModel { $0.level(channel: 2) } == 5)
        #expect(device.errorQueue.isEmpty)
    }

    @Test("a table voltage the channel cannot hold into its load is refused at open, before the channel is touched")
    func tableBeyondTheChannel() async throws {
        let (link, device) = simulated(Keysight33500BModel(), name: "simulated 33522B")
        let channel = Keysight33500BChannel(link: link, number: 2, load: .fiftyOhm, limits: try Keysight33500BLimits(description("keysight-33500b")))
        await #expect(throws: DeviceError.self) {
            _ = try await DACVariableAttenuator.open(channel: channel, table: try Self.table([0, 8], [1, 40]), device: "server.voa")
        }
        #expect(device.receivedMessages.isEmpty)
    }

    @Test(arguments: [
        ("    options:\n      channel: 2\n", 7, "is missing 'table'"),
        ("    options:\n      channel: 2\n      table:\n        - [0 V, 1 dB]\n        - [1 V, 0.5 dB]\n        - [2 V, 9 dB]\n", 11, "breaks the monotone order"),
        ("    options:\n      channel: 2\n      table:\n        - [0 V, 1 dB]\n        - [1 V]\n", 10, "a table point is a pair"),
        ("    options:\n      channel: 2\n      table:\n        - [0 V, 1 dB]\n        - [1 mW, 3 dB]\n", 10, "bad unit"),
        ("    options:\n      channel: 2\n      load: 50 Ω\n      table:\n        - [0 V, 1 dB]\n        - [9 V, 30 dB]\n", 11, "outside what channel 2 can hold"),
        ("    options:\n      channel: 2\n      colour: red\n      table:\n        - [0 V, 1 dB]\n        - [5 V, 30 dB]\n", 8, "unknown key 'colour'"),
    ])
    func badBindingsAreRefusedWithTheirLine(options: String, line: Int, message: String) throws {
        let text = "bench: t\nroles:\n  server.voa:\n    driver: dac-voa\n    address: usbtmc://0957:2807?serial=MY1\n" + options
        let registry = try DriverCatalog.registry(library: library, connector: SystemConnector())
        let bench = try BenchDescription.parse(text, file: "t.yaml")
        #expect { try registry.validate(bench) } throws: { error in
            guard let e = error as? BenchFileError else { return false }
            return e.line == line && e.message.contains(message)
        }
    }
}
