import CKernels
import NumericsKit
import Testing
@testable import SecureInference

@Suite("The server's burst accumulation (addShots and its C kernels)")
struct ShotSumsTests {
    /// A burst of `shots` shots of `slots` slots with a random X/P/vacuum pattern in runs of
    /// random length, samples spaced `stride` apart (the gaps hold values that must not count).
    struct Burst {
        var codes: [UInt8] = [], re: [Float] = [], im: [Float] = [], y: [Float] = []
        let slots: Int, shots: Int, stride: Int

        init(slots: Int, shots: Int, stride: Int, seed: UInt64) {
            self.slots = slots; self.shots = shots; self.stride = stride
            var rng = Xoshiro256(seed: seed)
            let g = Gaussian.Sampler()
            while codes.count < slots {
                let vacuum = rng.next() % 3 == 0
                for _ in 0..<min(slots - codes.count, 1 + Int(rng.next() % 700)) {
                    codes.append(vacuum ? 2 : UInt8(rng.next() & 1))
                }
            }
            re = codes.map { $0 == 2 ? 0 : Float(1.4 * g.next(&rng)) }
            im = codes.map { $0 == 2 ? 0 : Float(1.4 * g.next(&rng)) }
            y = [Float](repeating: 1e6, count: (shots - 1) * stride + slots)
            for s in 0..<shots {
                for k in 0..<slots { y[s * stride + k] = Float(0.013 + 0.2 * Double(re[k]) + 0.2 * g.next(&rng)) }
            }
        }

        func viaAddShots() -> ReturnedLightStatistics {
            var stats = ReturnedLightStatistics()
            y.withUnsafeBufferPointer { py in codes.withUnsafeBufferPointer { c in re.withUnsafeBufferPointer { r in im.withUnsafeBufferPointer { i in
                stats.addShots(samples: py, shots: shots, shotStride: stride, codes: c, alphaRe: r, alphaIm: i)
            } } } }
            return stats
        }

        /// The same samples through the two-pass, per-quadrature path.
        func viaTwoPass() -> ReturnedLightStatistics {
            var stats = ReturnedLightStatistics()
            for s in 0..<shots {
                for (code, quadrature) in [(UInt8(0), ReturnedLightStatistics.Quadrature.x), (1, .p)] {
                    let k = codes.indices.filter { codes[$0] == code }
                    stats.addSignal(samples: k.map { y[s * stride + $0] }, alphaRe: k.map { re[$0] }, alphaIm: k.map { im[$0] }, quadrature: quadrature)
                }
                stats.addVacuum(samples: codes.indices.filter { codes[$0] == 2 }.map { y[s * stride + $0] })
            }
            return stats
        }
    }

    static func close(_ a: Double, _ b: Double, scale: Double) -> Bool { abs(a - b) <= 1e-9 * max(abs(a), abs(b), scale) }

    /// Several work units (more slots than `slotsPerUnit`), runs cut at unit edges, a stride with
    /// gaps: counts equal, means and centred sums equal to the two-pass result to 1e-9.
    @Test func addShotsMatchesTheTwoPassSums() {
        let burst = Burst(slots: 2 * ReturnedLightStatistics.slotsPerUnit + 1_237, shots: 5, stride: 2 * ReturnedLightStatistics.slotsPerUnit + 1_300, seed: 41)
        let fast = burst.viaAddShots(), slow = burst.viaTwoPass()
        #expect(fast.vacuum.count == slow.vacuum.count && fast.signalX.count == slow.signalX.count && fast.signalP.count == slow.signalP.count)
        #expect(fast.signalSlots + fast.vacuumSlots == burst.shots * burst.slots)
        #expect(Self.close(fast.vacuum.mean, slow.vacuum.mean, scale: 1) && Self.close(fast.vacuum.m2, slow.vacuum.m2, scale: 1))
        for (a, b) in [(fast.signalX, slow.signalX), (fast.signalP, slow.signalP)] {
            for k: KeyPath<RegressionMoments, Double> in [\.mean1, \.mean2, \.meanY] { #expect(Self.close(a[keyPath: k], b[keyPath: k], scale: 1)) }
            for k: KeyPath<RegressionMoments, Double> in [\.s11, \.s22, \.s12, \.s1y, \.s2y, \.syy] {
                #expect(Self.close(a[keyPath: k], b[keyPath: k], scale: a.s11 + a.s22 + a.syy))
            }
        }
    }

    /// The sums do not depend on how the work units are spread over threads: two runs agree bit for bit.
    @Test func addShotsIsReproducible() {
        let burst = Burst(slots: 3 * ReturnedLightStatistics.slotsPerUnit, shots: 3, stride: 3 * ReturnedLightStatistics.slotsPerUnit, seed: 7)
        #expect(burst.viaAddShots() == burst.viaAddShots())
    }

    /// A burst handed over in tiles (single units and runs of them, in a scrambled order, the last
    /// one short) sums to `addShots` on the whole record, bit for bit.
    @Test func streamedTilesSumToTheWholeRecord() throws {
        let unit = ReturnedLightStatistics.slotsPerUnit
        let burst = Burst(slots: 5 * unit + 1_234, shots: 3, stride: 5 * unit + 1_300, seed: 17)
        let streamed = StreamedShots(codes: burst.codes, alphaRe: burst.re, alphaIm: burst.im, shots: 3)
        let tiles = [3 * unit..<5 * unit, 0..<unit, 5 * unit..<burst.slots, unit..<3 * unit]
        burst.y.withUnsafeBufferPointer { y in
            for t in tiles { streamed.add(slots: t, shots: 3, samples: y.baseAddress! + t.lowerBound, shotStride: burst.stride) }
        }
        var stats = ReturnedLightStatistics()
        try streamed.finish(into: &stats)
        #expect(stats == burst.viaAddShots())
        #expect(stats.signalSlots + stats.vacuumSlots == 3 * burst.slots)
    }

    /// The check never runs on part of a burst: a unit missing or handed over twice, a tile cut off
    /// the units or beyond the pattern, or of another shot count, and `finish` refuses the burst.
    @Test(arguments: ["missing", "twice", "misaligned", "beyond", "shots"])
    func incompleteBurstsAreRefused(defect: String) {
        let unit = ReturnedLightStatistics.slotsPerUnit
        let burst = Burst(slots: 2 * unit + 100, shots: 2, stride: 2 * unit + 100, seed: 23)
        let streamed = StreamedShots(codes: burst.codes, alphaRe: burst.re, alphaIm: burst.im, shots: 2)
        var tiles: [(Range<Int>, Int)] = [(0..<unit, 2), (unit..<2 * unit, 2), (2 * unit..<burst.slots, 2)]
        switch defect {
        case "missing": tiles.removeLast()
        case "twice": tiles.append((0..<unit, 2))
        case "misaligned": tiles = [(0..<100, 2), (100..<burst.slots, 2)]
        case "beyond": tiles[2] = (2 * unit..<burst.slots + 1, 2)
        default: tiles[1].1 = 1
        }
        burst.y.withUnsafeBufferPointer { y in
            for (t, shots) in tiles where t.upperBound <= burst.slots || defect == "beyond" {
                streamed.add(slots: t, shots: shots, samples: y.baseAddress! + min(t.lowerBound, burst.slots - 1), shotStride: burst.stride)
            }
        }
        var stats = ReturnedLightStatistics()
        #expect(throws: StreamedShots.IncompleteBurst.self) { try streamed.finish(into: &stats) }
        #expect(stats == ReturnedLightStatistics(), "nothing of the burst reached the sums")
    }

    /// The AVX2 and the portable builds of the burst kernel give the same bits (lengths off the
    /// lanes and across its chunks of slots), and its sums are the sums over shots and slots of
    /// each slot's kind to rounding.
    @Test(arguments: [1, 3, 4, 5, 513, 1_031])
    func burstSumsBuildsAgreeAndSumEachKind(count: Int) {
        let burst = Burst(slots: 1_031, shots: 3, stride: 1_040, seed: 99)
        let e1 = burst.codes.indices.map { burst.codes[$0] == 2 ? 0 : 2 * burst.re[$0] }
        let e2 = burst.codes.indices.map { burst.codes[$0] == 2 ? 0 : 2 * burst.im[$0] }
        var best = [Double](repeating: 0, count: 10), portable = best, avx2 = best
        qk_burst_sums(burst.y, 3, 1_040, e1, e2, burst.codes, count, &best, QK_BEST)
        qk_burst_sums(burst.y, 3, 1_040, e1, e2, burst.codes, count, &avx2, QK_AVX2_ONLY)
        qk_burst_sums(burst.y, 3, 1_040, e1, e2, burst.codes, count, &portable, QK_PORTABLE)
        #expect(best.map(\.bitPattern) == portable.map(\.bitPattern) && avx2.map(\.bitPattern) == portable.map(\.bitPattern), "\(count) slots")
        var expected = [Double](repeating: 0, count: 10)
        for s in 0..<3 {
            for k in 0..<count {
                let v = Double(burst.y[s * 1_040 + k]), base = [0, 4, 8][Int(burst.codes[k])]
                expected[base] += v; expected[base + 1] += v * v
                if base < 8 { expected[base + 2] += Double(e1[k]) * v; expected[base + 3] += Double(e2[k]) * v }
            }
        }
        for q in 0..<10 { #expect(Self.close(best[q], expected[q], scale: 1), "sum \(q): \(best[q]) vs \(expected[q])") }
    }

    /// The burst kernel's order of operations, bit for bit (CKernels.h): each slot's Σy and Σy²
    /// over the shots in order, then, in chunks of 512 slots, slot k of a chunk into lane k mod 4
    /// of each sum, the lanes added pairwise at the end. Shot counts below, at and above a group of
    /// shots held in registers; slot counts off its groups of 16 and across chunks.
    @Test(arguments: [(1, 1), (17, 1), (33, 2), (1_031, 3), (1_031, 33), (515, 32)])
    func burstSumsFollowTheDocumentedOrder(count: Int, shots: Int) {
        let gap = count + 9
        let burst = Burst(slots: count, shots: shots, stride: gap, seed: 41)
        let e1 = burst.codes.indices.map { burst.codes[$0] == 2 ? 0 : 2 * burst.re[$0] }
        let e2 = burst.codes.indices.map { burst.codes[$0] == 2 ? 0 : 2 * burst.im[$0] }
        var lanes = [[Double]](repeating: [0, 0, 0, 0], count: 10)
        for c in stride(from: 0, to: count, by: 512) {
            for k in c..<min(count, c + 512) {
                var t1 = Double(burst.y[k]), t2 = t1 * t1
                for s in 1..<shots {
                    let v = Double(burst.y[s * gap + k])
                    t1 += v; t2 += v * v
                }
                let l = (k - c) % 4, u1 = Double(e1[k]), u2 = Double(e2[k])
                switch burst.codes[k] {
                case 0: for (q, v) in [t1, t2, u1 * t1, u2 * t1].enumerated() { lanes[q][l] += v }
                case 1: for (q, v) in [t1, t2, u1 * t1, u2 * t1].enumerated() { lanes[4 + q][l] += v }
                default: lanes[8][l] += t1; lanes[9][l] += t2
                }
            }
        }
        let expected = lanes.map { ($0[0] + $0[1]) + ($0[2] + $0[3]) }
        for path in [QK_BEST, QK_AVX2_ONLY, QK_PORTABLE] {
            var sums = [Double](repeating: 0, count: 10)
            qk_burst_sums(burst.y, shots, gap, e1, e2, burst.codes, count, &sums, path)
            #expect(sums.map(\.bitPattern) == expected.map(\.bitPattern), "\(count) slots, \(shots) shots, path \(path.rawValue)")
        }
    }

    /// The pattern-only kernel: both builds give the same bits and the same regressors, and its
    /// sums are the per-slot sums in slot order to rounding (runs of signal slots, lengths off the lanes).
    @Test(arguments: [1, 3, 4, 5, 257, 1_031])
    func patternSumsAgreeWithSlotOrder(count: Int) {
        let burst = Burst(slots: 1_031, shots: 1, stride: 1_031, seed: 5)
        let codes = burst.codes.map { $0 == 2 ? UInt8(1) : $0 }  // signal slots only
        func run(_ path: qk_path) -> (sums: [Double], e1: [Float], e2: [Float], isX: [Float]) {
            var sums = [Double](repeating: 0, count: 12)
            var e1 = [Float](repeating: .nan, count: count), e2 = e1, isX = e1
            qk_pattern_sums(burst.re, burst.im, codes, count, &e1, &e2, &isX, &sums, path)
            return (sums, e1, e2, isX)
        }
        let best = run(QK_BEST), portable = run(QK_PORTABLE)
        #expect(best.sums.map(\.bitPattern) == portable.sums.map(\.bitPattern))
        #expect(best.e1 == portable.e1 && best.e2 == portable.e2 && best.isX == portable.isX)
        var expected = [Double](repeating: 0, count: 12)
        for k in 0..<count {
            let onX = codes[k] == 0, r = 2 * burst.re[k], i = 2 * burst.im[k]
            let u1 = onX ? r : i, u2 = onX ? i : -r
            #expect(best.e1[k] == u1 && best.e2[k] == u2 && best.isX[k] == (onX ? 1 : 0))
            let d1 = Double(u1), d2 = Double(u2), base = onX ? 0 : 6
            for (q, v) in [1.0, d1, d2, d1 * d1, d2 * d2, d1 * d2].enumerated() { expected[base + q] += v }
        }
        for q in 0..<12 { #expect(Self.close(best.sums[q], expected[q], scale: 1), "sum \(q): \(best.sums[q]) vs \(expected[q])") }
    }
}
