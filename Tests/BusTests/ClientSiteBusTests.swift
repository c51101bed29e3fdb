import BenchIO
import BenchKit
import Drivers
import Foundation
import InstrumentModels
import Testing

/// Devices/benches/fiber-testbed-client.yaml opened through the real libusb and libgpiod code
/// against its instruments emulated by umockdev (a 33522B AWG, a CLD1015 with the SOA, the
/// InfiniiVision scope, the GPIO chip of the interlock): what `qbench devices --bench
/// Devices/benches/fiber-testbed-client.yaml` does on the client's site, for every role but the
/// interferometer U_x, which has no driver yet (its lines become comments, so every other line
/// stays where it is).
extension BusTests {
    static let clientSiteFile = busLibrary.directory.deletingLastPathComponent().appendingPathComponent("benches/fiber-testbed-client.yaml")

    static func clientSiteWithoutProcessor() throws -> String {
        var inside = false
        return try String(contentsOf: clientSiteFile, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("  client.processor:") { inside = true } else if line.hasPrefix("  ") && !line.hasPrefix("   ") { inside = false }
            return inside || line == "  - client.processor: safe" ? "#" : String(line)
        }.joined(separator: "\n")
    }

    @Test("the client's site file opens on emulated instruments (all but U_x), drives its optics over USB and enters its safe state")
    func clientSiteOverUSB() async throws {
        try await withEmulatedBus { bus in
            let awgD = try bus.addInstrument(Keysight33500BModel(serialNumber: "MY52600012"), vendorID: 0x0957, productID: 0x2807,
                                             manufacturer: "Agilent Technologies", product: "33522B", serialNumber: "MY52600012", bus: 2)
            var cld = ThorlabsCLD1015Model(serialNumber: "M00443954")
            cld.currentLimit = 0.3
            let soa = try bus.addInstrument(cld, vendorID: 0x1313, productID: 0x804F, manufacturer: "Thorlabs", product: "CLD1015",
                                            serialNumber: "M00443954", bus: 3)
            let scope = try bus.addInstrument(KeysightInfiniiVisionModel(serialNumber: "MY55100002"), vendorID: 0x0957, productID: 0x17A8,
                                              manufacturer: "Keysight Technologies", product: "MSO-X 3014T", serialNumber: "MY55100002", bus: 4)
            let gpio = try bus.addGPIOChip(name: "gpiochip0", label: "bench-gpio", lines: 32)
            #expect(gpio.setInput(offset: 22, high: true))                  // the client's interlock chain is closed

            let bench = try await Bench.open(try BenchDescription.parse(try Self.clientSiteWithoutProcessor(), file: Self.clientSiteFile.path),
                                             registry: try EmulatedLab.registry())
            let snapshot = await bench.snapshot()
            #expect(snapshot.entries.map(\.role) == ["client.amplifier", "client.splitter", "client.receiver", "client.interlock"])
            for e in snapshot.entries { #expect(e.error == nil && e.identity != nil, "\(e.role): \(e.error ?? "")") }
            #expect(snapshot.entries[0].identity?.serial == "M00443954")
            #expect(try await bench.interlockIsClear(.clientInterlock))

            try await bench.amplifier().setGain(2.5)
            #expect(soa.device.withModel { ($0.laserOn, $0.setpoint) } == (true, 0.08))
            try await bench.splitter().setKeptFraction(0.45)
            #expect(awgD.device.withModel { $0.level(channel: 1) } == 2)

            let records = await bench.enterSafeState()
            for r in records { #expect(r.succeeded, "\(r.step): \(r.error ?? "")") }
            #expect(soa.device.withModel { ($0.laserOn, $0.setpoint) } == (false, 0))
            for device in [awgD.device.errorQueue, soa.device.errorQueue, scope.device.errorQueue] { #expect(device.isEmpty) }
        }
    }
}
