import BenchKit
@testable import BenchSim
import Foundation
import NumericsKit
import Testing

/// The drift walks (a dyadic Brownian bridge): Brownian in law, the same at a moment however it is
/// reached, and a damaged or far clock neither traps nor hangs.
@Suite("Drift walks")
struct DriftWalkTests {
    /// Var W(t) = t and Var(W(t2) − W(t1)) = t2 − t1 over 4,000 seeds (5 standard errors).
    @Test func walksAreBrownian() {
        let n = 4_000, t1 = 0.37, t2 = 2.9
        var a = [Double](), d = [Double]()
        for seed in 0..<n {
            let walk = DriftState(seed: UInt64(seed))
            let w1 = walk.unitWalk(0, at: t1), w2 = walk.unitWalk(0, at: t2)
            a.append(w1); d.append(w2 - w1)
        }
        func variance(_ x: [Double]) -> Double { let m = x.reduce(0, +) / Double(x.count); return x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1) }
        for (v, expected) in [(variance(a), t1), (variance(d), t2 - t1)] {
            #expect(abs(v - expected) < 5 * expected * (2 / Double(n)).squareRoot(), "variance \(v), expected \(expected)")
        }
    }

    @Test func aMomentIsTheSameHoweverItIsReached() {
        let walk = DriftState(seed: 9)
        let direct = walk.unitWalk(3, at: 1234.5678)
        _ = walk.unitWalk(3, at: 5e6)
        #expect(walk.unitWalk(3, at: 1234.5678) == direct)
        #expect(DriftState(seed: 9).unitWalk(3, at: 1234.5678) == direct)
    }

    @Test func farOrDamagedClocksNeitherTrapNorHang() async throws {
        let (_, engine) = try await TestBench.open(TestBench.yaml(seed: 4, constants: [:]))
        engine.advanceClock(by: .seconds(900_000_000))  // ≈ 28 years
        #expect(engine.truePhases.linkForward.isFinite)
        var c = engine.checkpoint()
        for bad in [Double.nan, .infinity, -1, 1e300] {
            c.clock = bad
            #expect(throws: SimulationError.self) { try engine.restore(c) }
        }
        #expect(DriftState(seed: 1).unitWalk(0, at: .infinity).isFinite)
    }

    /// A run record's twin checkpoint is protected by a CRC, not a key: a crafted one may hold any
    /// counter. Counters near the top of UInt64 are refused, so the next shot cannot overflow.
    @Test func counterNearItsLimitIsRefused() async throws {
        let (_, engine) = try await TestBench.open(TestBench.yaml(seed: 4, constants: [:]))
        let good = engine.checkpoint()
        for bad in [UInt64.max, UInt64.max - 1, UInt64(1) << 63] {
            var c = good
            c.shotCounter = bad
            #expect(throws: SimulationError.self) { try engine.restore(c) }
            c = good
            c.acquireCounter = bad
            #expect(throws: SimulationError.self) { try engine.restore(c) }
        }
        try engine.restore(good)
    }
}
