import CKernels
import Foundation
import Testing
@testable import NumericsKit

/// The ziggurat's rare path (`qk_ziggurat_slow`) against its documented order written out one
/// sample at a time in Swift: the C kernel decides its wedge samples in batches, so these tests pin
/// that batching changes nothing a sample-by-sample rare path would give.
@Suite("Ziggurat rare path: batched as written sample by sample")
struct ZigguratRarePathTests {
    typealias Sampler = Gaussian.BulkSampler
    let sampler = Sampler()

    /// What the reference drew: rare-path samples by kind.
    struct Counts { var wedgeAccepted = 0, wedgeRetried = 0, baseStrip = 0 }

    /// `Sampler.fill` with the rare path one sample at a time, in sample order: a wedge sample takes
    /// its height from `rng` (`Xoshiro256.nextUnit`) and is decided by `wedgeAccepts`; a base-strip
    /// sample, and a wedge sample that test rejects from a fresh word, take every further draw from
    /// the retry generator seeded after the lanes.
    func referenceFill(count: Int, _ rng: inout Xoshiro256, counts: inout Counts) -> [Float] {
        let lanes = Int(QK_ZIGGURAT_LANES), slack = Int(QK_ZIGGURAT_SLACK)
        var state = [UInt64](repeating: 0, count: 4 * lanes)
        for l in 0..<lanes {
            let g = Xoshiro256(seed: rng.next())
            state[l] = g.s0; state[lanes + l] = g.s1; state[2 * lanes + l] = g.s2; state[3 * lanes + l] = g.s3
        }
        var retry = Xoshiro256(seed: rng.next())
        let x = sampler.x, f = sampler.f
        var out = [Float](repeating: 0, count: count)
        var index = [UInt32](repeating: 0, count: Sampler.block + slack), word = index
        var done = 0
        while done < count {
            let m = min(Sampler.block, count - done)
            let rejected = out.withUnsafeMutableBufferPointer { o in
                qk_ziggurat_fast(o.baseAddress! + done, m, &state, Sampler.table.bound, Sampler.table.scale, &index, &word, QK_PORTABLE)
            }
            for t in 0..<rejected {
                let w = word[t], layer = Int(w & 255)
                let value: Float
                if layer == 0 {
                    counts.baseStrip += 1
                    value = slowSample(w, &retry)
                } else {
                    let u = (Double(Int32(bitPattern: w) >> 8) + 0.5) * 0x1.0p-23, xs = u * x[layer]
                    let height = f[layer] + rng.nextUnit() * (f[layer + 1] - f[layer])
                    if abs(u) < x[layer + 1] / x[layer] || sampler.wedgeAccepts(layer: layer, xs: xs, height: height) {
                        counts.wedgeAccepted += 1
                        value = Float(xs)
                    } else {
                        counts.wedgeRetried += 1
                        value = slowSample(UInt32(truncatingIfNeeded: retry.next()), &retry)
                    }
                }
                out[done + Int(index[t])] = value
            }
            done += m
        }
        return out
    }

    /// The full rare path of one sample from its first word, every draw from `g`: the tail beyond r
    /// by Marsaglia's exponential rejection, the wedge test, fresh words until one is accepted.
    func slowSample(_ first: UInt32, _ g: inout Xoshiro256) -> Float {
        let x = sampler.x, f = sampler.f, bound = sampler.bound, r = Sampler.r
        var layer = Int(first & 255), h = Int32(bitPattern: first) >> 8
        while true {
            let u = (Double(h) + 0.5) * 0x1.0p-23
            if layer == 0 {
                let xs = u * x[0]
                if abs(xs) < r { return Float(xs) }
                var t: Double, y: Double
                repeat {
                    t = log(g.nextOpenUnit()) / r
                    y = log(g.nextOpenUnit())
                } while -2 * y < t * t
                return Float(u < 0 ? t - r : r - t)
            }
            let xs = u * x[layer]
            if abs(u) < x[layer + 1] / x[layer] { return Float(xs) }
            if sampler.wedgeAccepts(layer: layer, xs: xs, height: f[layer] + g.nextUnit() * (f[layer + 1] - f[layer])) { return Float(xs) }
            let bits = UInt32(truncatingIfNeeded: g.next())
            layer = Int(bits & 255)
            h = Int32(bitPattern: bits) >> 8
            if (h ^ (h >> 31)) < bound[layer] { return (Float(h) + 0.5) * Sampler.table.scale[layer] }
        }
    }

    /// Bit for bit, and the caller's generator left in the same state, on every build; the fills
    /// are long enough that the tail and the second tries are exercised (checked).
    @Test(arguments: [QK_BEST, QK_PORTABLE, QK_AVX2_ONLY])
    func batchedRarePathEqualsTheSampleBySampleOne(path: qk_path) {
        var counts = Counts()
        for (seed, count) in [(1, 300_007), (2, Sampler.block), (3, 12_345), (4, 1)] {
            var a = Xoshiro256(seed: UInt64(seed), stream: 9), b = a
            var samples = [Float](repeating: 0, count: count)
            samples.withUnsafeMutableBufferPointer { sampler.fill($0, &a, path: path) }
            let reference = referenceFill(count: count, &b, counts: &counts)
            let differing = zip(samples, reference).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(count) samples from seed \(seed): \(differing) differ")
            #expect(a == b)
        }
        #expect(counts.baseStrip > 10 && counts.wedgeRetried > 1_000 && counts.wedgeAccepted > 1_000, "\(counts)")
    }
}
