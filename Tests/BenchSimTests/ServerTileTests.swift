import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// The server receiver's samples are computed in tiles of `ShotComputation.slotsPerTile` slots of
/// every shot, whether written whole (`fetch`) or handed to the server's sums tile by tile
/// (`fetch(timeout:shots:slotsPerShot:into:)`). Rows of 7 slots (4 modes, 3 vacuum) are cut by the
/// tiles' edges here, which a run's rows of 1,176 slots are too.
@Suite("The server receiver's samples in tiles")
struct ServerTileTests {
    static let layout = FrameLayout(rows: 2_500, modesPerRow: 4, vacuumSlotsPerRow: 3)

    /// Samples whose bits differ (or the longer one's extra samples).
    static func differences(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count + abs(a.count - b.count)
    }

    /// A client-path burst of `shots` shots, planned on the twin, with random returned light.
    func burst(shots: Int, seed: UInt64 = 11, threads: Int = 2, path: SwitchPath = .client) async throws -> (computation: ShotComputation, returned: ReturnedLight, engine: SimulationEngine) {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: seed))
        engine.setWorkerThreads(threads)
        try await TestBench.start(bench, engine: engine, attenuation: TestBench.attenuation(engine, scale: 3), path: path)
        let layout = Self.layout, L = layout.slotsPerShot
        var rng = Xoshiro256(seed: seed)
        let g = Gaussian.Sampler()
        let fields = (0..<L).map { layout.isSignal(slot: $0) ? Complex(max(-0.4, min(0.4, 0.15 * g.next(&rng))), max(-0.4, min(0.4, 0.15 * g.next(&rng)))) : Complex<Double>(0) }
        let d = TruthEncoder(engine: engine).drives(for: fields)
        try await bench.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        let rx = try bench.receiver(.serverReceiver)
        try await rx.loadSlotPattern((0..<L).map { layout.isSignal(slot: $0) ? (rng.next() & 1 == 0 ? .x : .p) : .vacuum })
        try await rx.arm(shots: shots)
        let plan = try #require(try engine.locked { try engine.planShots(shots) })
        #expect(plan.path == path && plan.serverShots == shots && plan.slots == L)
        func random(_ count: Int, _ scale: Double) -> FloatStorage {
            let s = FloatStorage(count: count)
            for k in 0..<count { s[k] = Float(scale * g.next(&rng)) }
            return s
        }
        let returned = ReturnedLight(layout: layout, shots: shots, xiRe: random(shots * 4, 0.5), xiIm: random(shots * 4, 0.5),
                                     rowDisplacement: random(shots * layout.rows * 2, 2), dense: nil)
        return (ShotComputation(plan, bulk: engine.bulk, pool: engine.scratch), returned, engine)
    }

    func record(_ c: ShotComputation, _ returned: ReturnedLight) -> (samples: [Float], rails: Int) {
        var y = [Float](repeating: .nan, count: c.p.serverShots * c.p.slots)
        let rails = y.withUnsafeMutableBufferPointer { c.run(server: SharedBuffer(base: $0.baseAddress!, count: $0.count), returned: returned) }
        return (y, rails)
    }

    /// Every sample is offset + q + Re(ξ_j D' w) + σ z quantised (signal slot j of its row) or
    /// offset + q + σ z (vacuum), with z the tile's noise of that shot at the slot's place in the
    /// tile: bit for bit, rows cut by the tiles included, for 1 and 3 threads.
    @Test(arguments: [1, 3]) func samplesFollowTheRowFormulaAcrossTiles(threads: Int) async throws {
        let (c, returned, _) = try await burst(shots: 3, threads: threads)
        #expect(c.p.threads == threads)
        let (y, rails) = record(c, returned)
        let layout = Self.layout, L = layout.slotsPerShot, T = ShotComputation.slotsPerTile
        #expect(L % T != 0 && T % layout.slotsPerRow != 0, "rows and shots end inside tiles")
        let p = c.p, dig = p.server.digitiser, sigma = Float(p.server.vacuumSigma), offset = dig.offset
        var mismatches = 0, expectedRails = 0
        for k in 0..<3 {
            for t in 0..<((L + T - 1) / T) {
                let range = (t * T)..<min(L, (t + 1) * T)
                var rng = Xoshiro256(seed: p.seeds.slot, stream: ShotComputation.stream(p.firstShot + UInt64(k), t))
                var z = [Float](repeating: 0, count: range.count)
                z.withUnsafeMutableBufferPointer { c.bulk.fill($0, &rng) }
                for s in range {
                    let r = s / layout.slotsPerRow, j = s % layout.slotsPerRow
                    let d = p.back * Complex(Double(returned.rowDisplacement[2 * (k * layout.rows + r)]), Double(returned.rowDisplacement[2 * (k * layout.rows + r) + 1]))
                    let dr = Float(d.real), di = Float(d.imaginary)
                    let q = c.fields.q![s], (wr, wi) = c.fields.weight(s), zs = z[s - range.lowerBound]
                    var v: Float
                    if j < layout.modesPerRow {
                        let xr = returned.xiRe[k * 4 + j], xi = returned.xiIm[k * 4 + j]
                        let ar = xr * dr - xi * di, ai = xr * di + xi * dr
                        v = q + ar * wr - ai * wi + sigma * zs + offset
                    } else {
                        v = q + sigma * zs + offset
                    }
                    v = dig.quantise(v)
                    if v.bitPattern != y[k * L + s].bitPattern { mismatches += 1 }
                    expectedRails += dig.clippedCount([v])
                }
            }
        }
        #expect(mismatches == 0)
        #expect(rails == expectedRails)
        #expect(Set(y.map(\.bitPattern)).count > L, "the samples are not constant")
    }

    /// Back-to-back, every sample is offset + q + σ z quantised, z the tile's noise of that shot.
    @Test func backToBackSamplesFollowTheirFormula() async throws {
        let (c, _, _) = try await burst(shots: 2, path: .backToBack)
        var y = [Float](repeating: .nan, count: 2 * c.p.slots)
        let rails = y.withUnsafeMutableBufferPointer { c.run(server: SharedBuffer(base: $0.baseAddress!, count: $0.count), returned: nil) }
        let L = c.p.slots, T = ShotComputation.slotsPerTile, p = c.p, dig = p.server.digitiser, sigma = Float(p.server.vacuumSigma)
        var expected = [Float](repeating: 0, count: 2 * L)
        for k in 0..<2 {
            for t in 0..<((L + T - 1) / T) {
                let range = (t * T)..<min(L, (t + 1) * T)
                var rng = Xoshiro256(seed: p.seeds.slot, stream: ShotComputation.stream(p.firstShot + UInt64(k), t))
                var z = [Float](repeating: 0, count: range.count)
                z.withUnsafeMutableBufferPointer { c.bulk.fill($0, &rng) }
                for s in range { expected[k * L + s] = dig.quantise(c.fields.q![s] + sigma * z[s - range.lowerBound] + dig.offset) }
            }
        }
        #expect(Self.differences(y, expected) == 0, "samples off the formula")
        #expect(rails == dig.clippedCount(expected))
    }

    /// A sink that writes each tile back into a whole record, counting tiles and refusing overlaps.
    final class Collector: SampleSink, @unchecked Sendable {
        let tileSlots: Int
        let lock = NSLock()
        var samples: [Float], tiles = 0, overlaps = 0, seen: Set<Int> = []
        let slots: Int
        init(shots: Int, slots: Int, tileSlots: Int = ShotComputation.slotsPerTile) {
            self.slots = slots; self.tileSlots = tileSlots
            samples = [Float](repeating: .nan, count: shots * slots)
        }
        func consume(_ tile: SampleTile) {
            lock.lock(); defer { lock.unlock() }
            tiles += 1
            for s in tile.slots { if !seen.insert(s).inserted { overlaps += 1 } }
            for k in 0..<tile.shots {
                for j in 0..<tile.slots.count { samples[k * slots + tile.slots.lowerBound + j] = tile.samples[k * tile.stride + j] }
            }
        }
    }

    /// Streamed, the tiles are the whole record's samples, each slot handed over once, with the same
    /// count at the rails.
    @Test func streamedTilesAreTheRecord() async throws {
        let (c, returned, _) = try await burst(shots: 4)
        let (y, rails) = record(c, returned)
        let sink = Collector(shots: 4, slots: c.p.slots)
        let streamedRails = c.stream(returned: returned, into: sink)
        #expect(sink.tiles == (c.p.slots + ShotComputation.slotsPerTile - 1) / ShotComputation.slotsPerTile)
        #expect(sink.overlaps == 0 && sink.seen.count == c.p.slots)
        #expect(Self.differences(sink.samples, y) == 0)
        #expect(streamedRails == rails)
    }

    /// Through the receiver: a sink cut like the twin's tiles gets the burst tile by tile; one cut
    /// otherwise, or a fetch of another size than armed, gets the whole record as one tile or an
    /// error, never part of it. The samples are the same either way.
    @Test func theReceiverStreamsOnlyWhatItCanCutAlike() async throws {
        func fired(_ shots: Int) async throws -> (Bench, Int) {
            let (bench, engine) = try await TestBench.open(TestBench.yaml(seed: 3))
            try await TestBench.start(bench, engine: engine, attenuation: TestBench.attenuation(engine, scale: 2), path: .backToBack)
            let L = Self.layout.slotsPerShot
            let d = TruthEncoder(engine: engine).drives(for: (0..<L).map { Complex(0.3 * cos(Double($0)), 0.3 * sin(Double($0))) })
            try await bench.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
            let rx = try bench.receiver(.serverReceiver)
            try await rx.loadSlotPattern([SlotKind](repeating: .x, count: L))
            try await rx.arm(shots: shots)
            try await bench.trigger().fire(shots: shots)
            return (bench, L)
        }
        let (whole, L) = try await fired(2)
        let y = try await whole.receiver(.serverReceiver).fetch(timeout: .seconds(30))
        let (streamed, _) = try await fired(2)
        let tiles = Collector(shots: 2, slots: L)
        let record = try await streamed.receiver(.serverReceiver).fetch(timeout: .seconds(30), shots: 2, slotsPerShot: L, into: tiles)
        #expect(tiles.tiles == 3 && Self.differences(tiles.samples, y.volts) == 0 && record.clippedSamples == y.clippedSamples && record.samples == 2 * L)
        let (other, _) = try await fired(2)
        let oneTile = Collector(shots: 2, slots: L, tileSlots: 1_000)
        _ = try await other.receiver(.serverReceiver).fetch(timeout: .seconds(30), shots: 2, slotsPerShot: L, into: oneTile)
        #expect(oneTile.tiles == 1 && Self.differences(oneTile.samples, y.volts) == 0)
        let (wrong, _) = try await fired(2)
        let refused = Collector(shots: 3, slots: L)
        await #expect(throws: DeviceError.self) {
            _ = try await wrong.receiver(.serverReceiver).fetch(timeout: .seconds(30), shots: 3, slotsPerShot: L, into: refused)
        }
        #expect(refused.tiles == 0)
    }
}
