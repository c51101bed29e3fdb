import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// The twin split at the fibre (docs/two-sites.md): a server-site bench and a client-site bench,
/// each opening only its own devices, joined by `sim-fiber://`, give the samples and readings of
/// the one-table bench with the same seed, bit for bit, for every client behaviour, with the drifts
/// on; and the fibre survives what a network does to it.
@Suite("Split twin", .serialized)
struct SplitTwinTests {
    /// One site's bench file: its station's roles on the sim driver, the link on the fibre.
    static func siteYAML(_ station: Station, port: Int, seed: UInt64, client: String) -> String {
        var text = "bench: test\nroles:\n"
        for role in Role.allCases where role.station == station {
            text += "  \(role.rawValue):\n    driver: sim\n    address: sim://\(role.rawValue)\n"
        }
        text += "  link:\n    driver: sim\n    address: sim-fiber://127.0.0.1:\(port)\n"
        return text + "simulation:\n  seed: \(seed)\n  client: \(client)\n"
    }

    struct Sites {
        let server: Bench, client: Bench
        let serverEngine: SimulationEngine, clientEngine: SimulationEngine
    }

    static func split(seed: UInt64, client: String) async throws -> Sites {
        let port = try SimulatedBench.freeLoopbackPort()
        let (server, se) = try await TestBench.open(siteYAML(.server, port: port, seed: seed, client: client))
        let (clientBench, ce) = try await TestBench.open(siteYAML(.client, port: port, seed: seed, client: client))
        #expect(se.site == .server && ce.site == .client)
        // The client's twin connects in the background.
        let deadline = ContinuousClock.now + .seconds(10)
        while !((se.fiber as? TCPFiberServer)?.connected ?? false), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        return Sites(server: server, client: clientBench, serverEngine: se, clientEngine: ce)
    }

    @Test(arguments: ["honest", "greedy-tap:0.8", "over-amplify:3", "intercept-resend"])
    func splitBenchGivesTheOneTableSamples(behaviour: String) async throws {
        let (table, tableEngine) = try await TestBench.open(TestBench.yaml(seed: 17, client: behaviour, constants: [:]))
        let one = try await TestBench.clientPathScript(server: table, client: table, serverEngine: tableEngine)
        let sites = try await Self.split(seed: 17, client: behaviour)
        let two = try await TestBench.clientPathScript(server: sites.server, client: sites.client, serverEngine: sites.serverEngine)
        let shots = 5 + 3 + 2, rows = 300, slots = 300 * 104
        #expect(one.server.count == shots * slots)
        #expect(one.client.count == shots * rows)
        let sameServer = one.server == two.server, sameClient = one.client == two.client
        let firstServer = one.server.indices.first { $0 >= two.server.count || one.server[$0] != two.server[$0] }
        let firstClient = one.client.indices.first { $0 >= two.client.count || one.client[$0] != two.client[$0] }
        #expect(sameServer, "\(behaviour): the server's samples differ between the one-table and the split twin, first at \(firstServer ?? -1)")
        #expect(sameClient, "\(behaviour): the client's readings differ between the one-table and the split twin, first at \(firstClient ?? -1)")
        // Each site holds only its own devices.
        #expect(Set(sites.server.roles).isDisjoint(with: Station.client.roles))
        #expect(Set(sites.client.roles).isDisjoint(with: Station.server.roles))
    }

    /// Sites split from a twin that has already run (its clock, drifts and counters advanced, as
    /// after a calibration) continue it: they give the samples and readings the one-table twin
    /// gives next, bit for bit. Sites that started again at time zero (`bench run --split` before
    /// `continueTwin`) gave other samples, and their drifts no longer matched the calibration.
    @Test func sitesContinueTheTwinTheyWereSplitFrom() async throws {
        let (table, tableEngine) = try await TestBench.open(TestBench.yaml(seed: 23, client: "honest", constants: [:]))
        _ = try await TestBench.clientPathScript(server: table, client: table, serverEngine: tableEngine)
        #expect(tableEngine.checkpoint().clock > 0)
        let sites = try await Self.split(seed: 23, client: "honest")
        try await SimulatedBench.continueTwin(of: table, at: [sites.server, sites.client])
        let next = try await TestBench.clientPathScript(server: table, client: table, serverEngine: tableEngine)
        let two = try await TestBench.clientPathScript(server: sites.server, client: sites.client, serverEngine: sites.serverEngine)
        // Compared to a Bool first: a failing #expect on two arrays this long would diff them.
        let sameServer = next.server == two.server, sameClient = next.client == two.client
        #expect(sameServer, "the split sites' samples differ from the one-table twin's next ones")
        #expect(sameClient, "the split sites' readings differ from the one-table twin's next ones")
    }

    /// A burst the server measures with no client twin on the fibre is refused (not silently
    /// vacuum); a client twin that goes away mid-session turns the next burst into a link error.
    @Test func missingOrLostClientTwinIsADeviceError() async throws {
        let port = try SimulatedBench.freeLoopbackPort()
        let (server, engine) = try await TestBench.open(Self.siteYAML(.server, port: port, seed: 3, client: "honest"))
        try await server.laser().setCurrent(.milliamperes(60))
        try await server.laser().setEmission(true)
        try await server.opticalSwitch().route(.client)
        let layout = FrameLayout(rows: 4, modesPerRow: 2, vacuumSlotsPerRow: 0)
        let d = TruthEncoder(engine: engine).drives(for: [Complex<Double>](repeating: Complex(0.1, 0), count: layout.slotsPerShot))
        try await server.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        try await server.receiver(.serverReceiver).arm(shots: 1)
        await #expect(throws: DeviceError.self) { try await server.trigger().fire(shots: 1) }
        do {
            try await server.trigger().fire(shots: 1)
        } catch let e as DeviceError {
            #expect(e.kind == .notReady && e.device == "link", "\(e)")
        }
        // Garbage on the port is dropped; the fibre still takes a real client twin afterwards.
        if let s = try FiberSocket.connect("127.0.0.1", port) {
            try s.send(Array("GET / HTTP/1.1\r\n\r\n".utf8) + [UInt8](repeating: 0xFF, count: 64))
            s.close()
        }
        let (client, clientEngine) = try await TestBench.open(Self.siteYAML(.client, port: port, seed: 3, client: "honest"))
        let deadline = ContinuousClock.now + .seconds(10)
        while !((engine.fiber as? TCPFiberServer)?.connected ?? false), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try await client.clientProcessor().program([[ComplexSymbol]](repeating: [.init(1, 0), .init(0, 0)], count: 1), layout: layout)
        try await server.receiver(.serverReceiver).arm(shots: 1)
        try await server.trigger().fire(shots: 1)
        #expect(try await server.receiver(.serverReceiver).fetch(timeout: .seconds(5)).volts.count == layout.slotsPerShot)
        // The client's site goes away (its process killed: the socket closes).
        clientEngine.disconnectFiber()
        try await Task.sleep(for: .milliseconds(100))
        try await server.receiver(.serverReceiver).arm(shots: 1)
        do {
            try await server.trigger().fire(shots: 1)
            Issue.record("a burst after the client's twin went away did not fail")
        } catch let e as DeviceError {
            #expect(e.device == "link" && (e.kind == .disconnected || e.kind == .notReady), "\(e)")
        }
    }

    /// Malformed frames are refused with a message, never a crash (fuzzed shapes).
    @Test(arguments: 0..<200)
    func malformedBurstFramesAreRefused(seed: Int) throws {
        var rng = Xoshiro256(seed: UInt64(seed))
        let good = FiberWire.encode(ArrivingLight(firstShot: 5, shots: 2, returnShots: 1, time: 0.5, slots: 4,
                                                  re: FloatStorage(count: 4), im: FloatStorage(count: 4)))
        var bytes = good
        switch seed % 3 {
        case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
        case 1: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
        default: bytes = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        // Either refused with a FiberSocketError or, when the change left it well-formed, a light
        // whose sizes agree with each other.
        do {
            let light = try FiberWire.decodeBurst(bytes)
            #expect(light.returnShots <= light.shots && (light.re?.count ?? light.slots) == light.slots)
        } catch is FiberSocketError {}
    }

    /// A burst carrying a number that is not finite, anywhere in its amplitudes (the check is one
    /// vectorised pass: its first, middle and last elements), is refused; the finite burst decodes
    /// to the values sent.
    @Test(arguments: [Float.nan, .signalingNaN, .infinity, -.infinity], [0, 17, 36, 99])
    func nonFiniteAmplitudesAreRefused(bad: Float, at position: Int) throws {
        let slots = 100
        let re = FloatStorage(count: slots), im = FloatStorage(count: slots)
        for k in 0..<slots { re[k] = Float(k) * 0.25 - 3; im[k] = -Float(k) * 0.5 }
        let light = ArrivingLight(firstShot: 1, shots: 1, returnShots: 1, time: 0.25, slots: slots, re: re, im: im)
        let decoded = try FiberWire.decodeBurst(FiberWire.encode(light))
        #expect((0..<slots).allSatisfy { decoded.re?[$0] == re[$0] && decoded.im?[$0] == im[$0] })
        im[position] = bad
        #expect(throws: FiberSocketError.self) { try FiberWire.decodeBurst(FiberWire.encode(light)) }
    }
}
