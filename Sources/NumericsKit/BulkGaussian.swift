import CKernels
import Foundation

extension Gaussian {
    /// Bulk standard-normal sampling in single precision: a 256-layer ziggurat (Marsaglia and
    /// Tsang 2000, in Doornik's 2005 ZIGNOR form) whose fast path draws 32-bit words from eight
    /// xoshiro256** lanes at once (the C kernel `qk_ziggurat_fast`, AVX2 where the CPU has it, with
    /// bit-identical results on the portable build).
    ///
    /// Exact in distribution up to the 2⁻²³ grid of the layer coordinate: each 32-bit word splits
    /// into disjoint bits, 8 for the layer and 24 for a signed position u = (h + ½)/2²³ in (−1, 1);
    /// a point inside the layer's inner rectangle is accepted at once, the wedges and the tail
    /// beyond r are sampled by rejection with fresh uniforms (never approximated).
    ///
    /// Streams: a fill seeds its lanes from eight draws of the caller's generator (each lane
    /// an independent SplitMix64 expansion), and the rare slow path (about 1.5 % of samples, in
    /// increasing sample order) draws from the caller's generator itself. The same generator state
    /// gives the same samples, whichever build of the kernel runs.
    public struct BulkSampler: Sendable {
        public static let layers = 256
        /// Start of the tail: the base strip spans [0, r] plus the tail beyond r.
        public static let r = 3.6541528853610088
        /// Area of each layer (rectangle plus wedge), and of the base strip with its tail.
        public static let area: Double = {
            let f = exp(-0.5 * r * r)
            return r * f + (Double.pi / 2).squareRoot() * erfc(r / 2.0.squareRoot())
        }()

        /// Layer edges x[0] = v/f(r) > x[1] = r > … > x[256] = 0.
        let x: [Double]
        /// Fast-accept bound on |h + ½| per layer: ⌈ x[i+1]/x[i] · 2²³ − ½ ⌉.
        var bound: [Int32] { Array(UnsafeBufferPointer(start: Self.table.bound, count: Self.layers)) }
        /// The fast path's tables, built once per process and never freed.
        static let table = FastTable()

        /// Bounds and scales (x[i] / 2²³: the sample is (h + ½) · scale[i]) as raw pointers for the
        /// C fast path.
        final class FastTable: @unchecked Sendable {
            let bound: UnsafeMutablePointer<Int32>
            let scale: UnsafeMutablePointer<Float>
            init() {
                let x = BulkSampler.edges()
                bound = .allocate(capacity: BulkSampler.layers)
                scale = .allocate(capacity: BulkSampler.layers)
                for i in 0..<BulkSampler.layers {
                    bound[i] = Int32((x[i + 1] / x[i] * 0x1.0p23 - 0.5).rounded(.up))
                    scale[i] = Float(x[i] * 0x1.0p-23)
                }
            }
        }

        static func edges() -> [Double] {
            let layers = Self.layers, r = Self.r, v = Self.area
            var x = [Double](repeating: 0, count: layers + 1)
            var f = exp(-0.5 * r * r)
            x[0] = v / f
            x[1] = r
            for i in 2..<layers {
                x[i] = (-2 * log(v / x[i - 1] + f)).squareRoot()
                f = exp(-0.5 * x[i] * x[i])
            }
            x[layers] = 0
            return x
        }

        /// f(x[i]) = exp(−x[i]²/2).
        let f: [Double]
        /// Per layer i, the slope of the chord of the density from x[i+1] to x[i].
        let chordSlope: [Double]

        public init() {
            x = Self.edges()
            f = x.map { exp(-0.5 * $0 * $0) }
            let x = self.x, f = self.f
            chordSlope = (0..<Self.layers).map { (i: Int) -> Double in
                guard i > 0 else { return 0 }
                let rise: Double = f[i] - f[i + 1], run: Double = x[i] - x[i + 1]
                return rise / run
            }
        }

        /// The wedge test of layer i (1…255) at `xs`: whether `height` lies below the density
        /// exp(−xs²/2). Decided without `exp` where a squeeze settles it: on [a, b] = [x[i+1], x[i]]
        /// the density is convex for a ≥ 1 and concave for b ≤ 1, so it lies between its chord and
        /// its tangents at a and b. A margin of 10⁻¹² of f(a), far above the rounding of the bounds
        /// and of `exp` (a few 10⁻¹⁶), leaves every height near the density to `exp`, so the answer
        /// is the one `height < exp(−xs²/2)` gives (tested point by point against it).
        @inline(__always)
        func wedgeAccepts(layer i: Int, xs: Double, height y: Double) -> Bool {
            let a = x[i + 1], b = x[i], fa = f[i + 1], fb = f[i]
            let t = abs(xs), margin = 1e-12 * fa
            let chord = fa + (t - a) * chordSlope[i]
            let tangentA = fa * (1 - a * (t - a)), tangentB = fb * (1 - b * (t - b))
            if a >= 1 {
                if y > chord + margin { return false }
                if y < max(tangentA, tangentB) - margin { return true }
            } else if b <= 1 {
                if y < chord - margin { return true }
                if y > min(tangentA, tangentB) + margin { return false }
            }
            return y < exp(-0.5 * xs * xs)
        }

        /// Area of the top layer (between x[255] and 0) by the recursion: equals `area` when the
        /// tables are consistent (checked by the tests).
        public var topLayerArea: Double { x[Self.layers - 1] * (1 - exp(-0.5 * x[Self.layers - 1] * x[Self.layers - 1])) }

        /// Samples per call of the fast path: a multiple of the lanes' 2 × 8 words per step, so the
        /// lanes' streams do not depend on how a fill is cut.
        static let block = 4096

        /// Fills `buffer` with independent N(0, 1) samples.
        public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, _ rng: inout Xoshiro256) {
            fill(buffer, &rng, path: QK_BEST)
        }

        /// `fill` on a chosen build of the fast path (the tests compare the AVX2 and portable builds).
        func fill(_ buffer: UnsafeMutableBufferPointer<Float>, _ rng: inout Xoshiro256, path: qk_path) {
            guard let out = buffer.baseAddress, !buffer.isEmpty else { return }
            let lanes = Int(QK_ZIGGURAT_LANES)
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4 * lanes) { state in
                for l in 0..<lanes {
                    let g = Xoshiro256(seed: rng.next())
                    state[l] = g.s0; state[lanes + l] = g.s1; state[2 * lanes + l] = g.s2; state[3 * lanes + l] = g.s3
                }
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * Self.block) { rejected in
                    var done = 0
                    while done < buffer.count {
                        let m = min(Self.block, buffer.count - done)
                        let count = qk_ziggurat_fast(out + done, m, state.baseAddress!, Self.table.bound, Self.table.scale, rejected.baseAddress!, path)
                        for t in 0..<count {
                            let word = rejected[2 * t + 1]
                            out[done + Int(rejected[2 * t])] = slowSample(layer: Int(word & 255), h: Int32(bitPattern: word) >> 8, &rng)
                        }
                        done += m
                    }
                }
            }
        }

        /// Fills `buffer` with independent N(mean, sigma²) samples.
        public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float, sigma: Float, _ rng: inout Xoshiro256) {
            fill(buffer, &rng)
            for k in buffer.indices { buffer[k] = mean + sigma * buffer[k] }
        }

        /// One sample (convenience; bulk work should call `fill`).
        public func next(_ rng: inout Xoshiro256) -> Float {
            var v: Float = 0
            withUnsafeMutablePointer(to: &v) { fill(UnsafeMutableBufferPointer(start: $0, count: 1), &rng) }
            return v
        }

        /// The rare path: the point fell outside the inner rectangle of its layer. Decides it by
        /// the wedge test (layers 1…255) or samples the tail (layer 0), drawing again on rejection.
        func slowSample(layer: Int, h: Int32, _ rng: inout Xoshiro256) -> Float {
            var layer = layer, h = h
            while true {
                let u = (Double(h) + 0.5) * 0x1.0p-23
                if layer == 0 {
                    let xs = u * x[0]
                    if abs(xs) < Self.r { return Float(xs) }
                    // Tail beyond r, by Marsaglia's exponential rejection.
                    var t: Double, y: Double
                    repeat {
                        t = log(rng.nextOpenUnit()) / Self.r
                        y = log(rng.nextOpenUnit())
                    } while -2 * y < t * t
                    return Float(u < 0 ? t - Self.r : Self.r - t)
                }
                let xs = u * x[layer]
                if abs(u) < x[layer + 1] / x[layer] { return Float(xs) }
                // Wedge: a uniform height between the layer's bottom f(x[i]) and top f(x[i+1]),
                // accepted below the density.
                if wedgeAccepts(layer: layer, xs: xs, height: f[layer] + rng.nextUnit() * (f[layer + 1] - f[layer])) { return Float(xs) }
                let bits = UInt32(truncatingIfNeeded: rng.next())
                layer = Int(bits & 255)
                h = Int32(bitPattern: bits) >> 8
                if (h ^ (h >> 31)) < Self.table.bound[layer] { return (Float(h) + 0.5) * Self.table.scale[layer] }
            }
        }
    }
}
