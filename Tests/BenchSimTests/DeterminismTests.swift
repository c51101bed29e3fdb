import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// Same seed, same script → identical samples, whatever the thread count.
@Suite("Determinism")
struct DeterminismTests {
    /// A short client-path script with both receivers and a free-running capture.
    func script(seed: UInt64, threads: Int) async throws -> (server: [Float], client: [Float], capture: [Float]) {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: seed, constants: [:]))
        engine.setWorkerThreads(threads)
        try await TestBench.start(bench, engine: engine, path: .client)
        try await bench.amplifier().setGain(2)
        try await bench.splitter().setKeptFraction(0.5)
        let rows = 300, n = 100
        var rng = Xoshiro256(seed: 99)
        let fields = (0..<(rows * (n + 4))).map { s in s % (n + 4) < n ? Complex(0.4 * rng.nextUnit() - 0.2, 0.4 * rng.nextUnit() - 0.2) : .zero }
        let d = TruthEncoder(engine: engine).drives(for: fields)
        try await bench.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        let xi: [[ComplexSymbol]] = (0..<5).map { _ in
            let v = (0..<(2 * n)).map { _ in rng.nextUnit() - 0.5 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return (0..<n).map { ComplexSymbol(Float(v[2 * $0] / norm), Float(v[2 * $0 + 1] / norm)) }
        }
        try await bench.clientProcessor().program(xi, layout: FrameLayout(rows: rows, modesPerRow: n, vacuumSlotsPerRow: 4))
        try await bench.receiver(.serverReceiver).loadSlotPattern([.x, .p, .x, .vacuum])
        try await bench.receiver(.serverReceiver).arm(shots: 5)
        try await bench.receiver(.clientReceiver).arm(shots: 5)
        try await bench.trigger().fire(shots: 5)
        let server = try await bench.receiver(.serverReceiver).fetch(timeout: .seconds(5)).volts
        let client = try await bench.receiver(.clientReceiver).fetch(timeout: .seconds(5)).volts
        let capture = try await bench.receiver(.serverReceiver).acquire(count: 200_000).volts
        return (server, client, capture)
    }

    @Test func sameSeedGivesIdenticalSamplesForAnyThreadCount() async throws {
        let one = try await script(seed: 5, threads: 1)
        let two = try await script(seed: 5, threads: 2)
        let three = try await script(seed: 5, threads: 3)
        #expect(one.server.count == 5 * 300 * 104)
        #expect(one.client.count == 5 * 300)
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
