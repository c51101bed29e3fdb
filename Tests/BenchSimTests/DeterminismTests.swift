import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// Same seed, same script → identical samples, whatever the thread count.
@Suite("Determinism")
struct DeterminismTests {
    /// The client-path script (`TestBench.clientPathScript`, both receivers, three bursts) and a
    /// free-running capture.
    func script(seed: UInt64, threads: Int) async throws -> (server: [Float], client: [Float], capture: [Float]) {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: seed, constants: [:]))
        engine.setWorkerThreads(threads)
        let (server, client) = try await TestBench.clientPathScript(server: bench, client: bench, serverEngine: engine)
        let capture = try await bench.receiver(.serverReceiver).acquire(count: 200_000).volts
        return (server, client, capture)
    }

    @Test func sameSeedGivesIdenticalSamplesForAnyThreadCount() async throws {
        let one = try await script(seed: 5, threads: 1)
        let two = try await script(seed: 5, threads: 2)
        let three = try await script(seed: 5, threads: 3)
        #expect(one.server.count == 10 * 300 * 104)
        #expect(one.client.count == 10 * 300)
        #expect(one.server == two.server && one.server == three.server)
        #expect(one.client == two.client && one.client == three.client)
        #expect(one.capture == two.capture && one.capture == three.capture)
    }

    @Test func differentSeedsDiffer() async throws {
        let a = try await script(seed: 5, threads: 2)
        let b = try await script(seed: 6, threads: 2)
        #expect(a.server != b.server)
        #expect(a.client != b.client)
        let ea = try await TestBench.open(TestBench.yaml(seed: 5)).1, eb = try await TestBench.open(TestBench.yaml(seed: 6)).1
        #expect(ea.truth != eb.truth)
        #expect(ea.truth == (try await TestBench.open(TestBench.yaml(seed: 5)).1.truth))
    }
}
