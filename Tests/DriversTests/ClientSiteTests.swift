import BenchIO
import BenchKit
import Drivers
import Foundation
import InstrumentModels
import Testing

/// Devices/benches/fiber-testbed-client.yaml opened through the driver registry and `Bench.open`
/// on the SCPI models of its instruments (what `qbench devices --bench …` does), then its client
/// optics driven through the bench's limit guards and its safe state entered. The interferometer
/// has no driver yet (the file is refused whole for it) and is left out, as is the GPIO interlock
/// (no GPIO chip without umockdev; the bus tests emulate one).
@Suite("The client's site on simulated instruments")
struct ClientSiteTests {
    @Test("fiber-testbed-client.yaml's driven roles open, set gain and kept fraction within their limits, and enter their safe state")
    func clientSiteOpensAndRuns() async throws {
        var text = SiteBenchFileTests.withoutProcessor(try String(contentsOf: SiteBenchFileTests.client, encoding: .utf8))
        let start = try #require(text.range(of: "  client.interlock:")), end = try #require(text.range(of: "      clear-level: high\n"))
        text.removeSubrange(start.lowerBound..<end.upperBound)

        let awgD = SimulatedSCPIDevice(model: Keysight33500BModel(serialNumber: "MY52600012"))
        var cld = ThorlabsCLD1015Model(serialNumber: "M00443954")
        cld.currentLimit = 0.5
        let soa = SimulatedSCPIDevice(model: cld)
        let scope = SimulatedSCPIDevice(model: KeysightInfiniiVisionModel(serialNumber: "MY55100002"))
        let connector = ModelConnector(instruments: [
            try DeviceAddress(parsing: "usbtmc://0957:2807?serial=MY52600012"): awgD,
            try DeviceAddress(parsing: "usbtmc://1313:804f?serial=M00443954"): soa,
            try DeviceAddress(parsing: "usbtmc://0957:17a8?serial=MY55100002"): scope,
        ])
        let bench = try await Bench.open(try BenchDescription.parse(text, file: "fiber-testbed-client.yaml"),
                                         registry: try DriverCatalog.registry(library: library, connector: connector))

        let snapshot = await bench.snapshot()
        #expect(snapshot.entries.map(\.role) == ["client.amplifier", "client.splitter", "client.receiver"])
        #expect(snapshot.entries.map(\.driver) == ["thorlabs-cld1015-soa", "keysight-33500b-coupler", "keysight-infiniivision"])
        for e in snapshot.entries { #expect(e.error == nil, "\(e.role): \(e.error ?? "")") }
        #expect(snapshot.entries[0].settings["gain"] == "0" && snapshot.entries[1].settings["kept-fraction"] == "0")

        // Amplifier: gain 4 is 110 mA in the table; 7 is beyond the bench's gain limit of 6 and
        // never reaches the controller.
        try await bench.amplifier().setGain(4)
        #expect(soa.withModel { ($0.laserOn, $0.setpoint) } == (true, 0.11))
        #expect(abs(try await bench.amplifier().gain() - 4) < 1e-9)
        let sent = soa.receivedMessages.count
        await #expect(throws: LimitViolation.self) { try await bench.amplifier().setGain(7) }
        #expect(soa.receivedMessages.count == sent)

        // Splitter: 0.75 lies between 3 V (0.7) and 4 V (0.88).
        try await bench.splitter().setKeptFraction(0.75)
        #expect(abs((awgD.withModel { $0.level(channel: 1) } ?? 0) - (3 + 0.05 / 0.18)) < 1e-6)
        #expect(abs(try await bench.splitter().keptFraction() - 0.75) < 1e-6)   // the model answers with 7 digits

        for queue in [awgD.errorQueue, soa.errorQueue, scope.errorQueue] { #expect(queue.isEmpty) }

        // Safe state, in the file's order.
        let records = await bench.enterSafeState()
        #expect(records.map(\.step) == ["client.amplifier: safe", "client.splitter: safe", "client.receiver: safe"])
        for r in records { #expect(r.succeeded, "\(r.step): \(r.error ?? "")") }
        #expect(soa.withModel { ($0.laserOn, $0.setpoint) } == (false, 0))
        #expect(awgD.withModel { ($0.level(channel: 1), $0.channels[0].output) } == (0, true))
    }
}
