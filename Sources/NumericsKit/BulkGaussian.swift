import CKernels
import Foundation

extension Gaussian {
    /// Bulk standard-normal sampling in single precision: a 256-layer ziggurat (Marsaglia and
    /// Tsang 2000, in Doornik's 2005 ZIGNOR form) whose fast path draws 32-bit words from eight
    /// xoshiro256** lanes at once (the C kernel `qk_ziggurat_fast`, AVX-512 or AVX2 where the CPU
    /// has it, with bit-identical results on the portable build).
    ///
    /// Exact in distribution up to the 2⁻²³ grid of the layer coordinate: each 32-bit word splits
    /// into disjoint bits, 8 for the layer and 24 for a signed position u = (h + ½)/2²³ in (−1, 1);
    /// a point inside the layer's inner rectangle is accepted at once, the wedges and the tail
    /// beyond r are sampled by rejection with fresh uniforms (never approximated).
    ///
    /// Streams: a fill seeds its lanes from eight draws of the caller's generator (each lane an
    /// independent SplitMix64 expansion) and a retry generator from a ninth. The rare path
    /// (`qk_ziggurat_slow`, about 1.5 % of samples) takes each wedge sample's height from the
    /// caller's generator and every further draw (second tries, the tail) from the retry generator,
    /// both in increasing sample order: it decides the wedges in batches without a branch on their
    /// outcome, and a shorter fill is still a prefix of a longer one. The same generator state gives
    /// the same samples, whichever build of the kernels runs.
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
        var x: [Double] { Array(UnsafeBufferPointer(start: Self.table.x, count: Self.layers + 1)) }
        /// f(x[i]) = exp(−x[i]²/2).
        var f: [Double] { Array(UnsafeBufferPointer(start: Self.table.f, count: Self.layers + 1)) }
        /// Fast-accept bound on |h + ½| per layer: ⌈ x[i+1]/x[i] · 2²³ − ½ ⌉.
        var bound: [Int32] { Array(UnsafeBufferPointer(start: Self.table.bound, count: Self.layers)) }
        /// The tables, built once per process and never freed.
        static let table = Tables()

        /// The C kernels' tables: bounds and scales (x[i] / 2²³: the sample is (h + ½) · scale[i])
        /// for the fast path; edges, densities and chord slopes for the rare path.
        final class Tables: @unchecked Sendable {
            let x: UnsafeMutablePointer<Double>, f: UnsafeMutablePointer<Double>, chordSlope: UnsafeMutablePointer<Double>
            let bound: UnsafeMutablePointer<Int32>
            let scale: UnsafeMutablePointer<Float>
            init() {
                let layers = BulkSampler.layers
                let edges = BulkSampler.edges()
                x = .allocate(capacity: layers + 1)
                f = .allocate(capacity: layers + 1)
                chordSlope = .allocate(capacity: layers)
                bound = .allocate(capacity: layers)
                scale = .allocate(capacity: layers)
                for i in 0...layers {
                    x[i] = edges[i]
                    f[i] = exp(-0.5 * edges[i] * edges[i])
                }
                for i in 0..<layers {
                    bound[i] = Int32((x[i + 1] / x[i] * 0x1.0p23 - 0.5).rounded(.up))
                    scale[i] = Float(x[i] * 0x1.0p-23)
                    let rise: Double = f[i] - f[i + 1], run: Double = x[i] - x[i + 1]
                    chordSlope[i] = i == 0 ? 0 : rise / run
                }
            }
            var c: qk_ziggurat_tables {
                qk_ziggurat_tables(x: x, f: f, chordSlope: chordSlope, bound: bound, scale: scale, r: BulkSampler.r)
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

        public init() {}

        /// The wedge test of layer i (1…255): whether `height` lies below exp(−xs²/2)
        /// (`qk_wedge_accepts`: chord and tangent squeezes first, `exp` where they do not settle it).
        func wedgeAccepts(layer i: Int, xs: Double, height y: Double) -> Bool {
            var tables = Self.table.c
            return qk_wedge_accepts(&tables, Int32(i), xs, y) != 0
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

        /// The builds of the sampler's C kernels: every one gives the same samples.
        public enum Build: String, CaseIterable, Sendable {
            /// AVX-512 where the CPU has it, else AVX2 where it has that, else portable (`fill`'s default).
            case best
            /// The AVX2 build where the CPU has AVX2, else portable.
            case avx2
            case portable

            var path: qk_path {
                switch self {
                case .best: QK_BEST
                case .avx2: QK_AVX2_ONLY
                case .portable: QK_PORTABLE
                }
            }

            /// What `best` runs on this CPU.
            public static var bestOnThisCPU: String { qk_uses_avx512() != 0 ? "AVX-512" : qk_uses_avx2() != 0 ? "AVX2" : "portable" }
        }

        /// `fill` on a chosen build of the kernels (`qbench bench sampler` times each).
        public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, _ rng: inout Xoshiro256, build: Build) {
            fill(buffer, &rng, path: build.path)
        }

        /// `fill` on a chosen build of the kernels (the tests compare the AVX-512, AVX2 and portable builds).
        func fill(_ buffer: UnsafeMutableBufferPointer<Float>, _ rng: inout Xoshiro256, path: qk_path) {
            guard let out = buffer.baseAddress, !buffer.isEmpty else { return }
            let lanes = Int(QK_ZIGGURAT_LANES)
            // The lanes' states (word-major), then the rare path's retry generator.
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4 * lanes + 4) { words in
                let state = words.baseAddress!, retry = state + 4 * lanes
                for l in 0..<lanes {
                    let g = Xoshiro256(seed: rng.next())
                    state[l] = g.s0; state[lanes + l] = g.s1; state[2 * lanes + l] = g.s2; state[3 * lanes + l] = g.s3
                }
                let g = Xoshiro256(seed: rng.next())
                retry[0] = g.s0; retry[1] = g.s1; retry[2] = g.s2; retry[3] = g.s3
                let capacity = Self.block + Int(QK_ZIGGURAT_SLACK)
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * capacity) { rejected in
                    let index = rejected.baseAddress!, word = index + capacity
                    var done = 0
                    while done < buffer.count {
                        let m = min(Self.block, buffer.count - done)
                        let count = qk_ziggurat_fast(out + done, m, state, Self.table.bound, Self.table.scale, index, word, path)
                        if count > 0 { slowPath(out + done, index: index, word: word, count: count, &rng, retry: retry, path: path) }
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

        /// The rare path (`qk_ziggurat_slow`): the points that fell outside their layer's inner
        /// rectangle, decided by the wedge test (layers 1…255, one uniform height each from `rng`)
        /// or sampled from the tail (layer 0), drawing again from `retry` on rejection.
        private func slowPath(_ out: UnsafeMutablePointer<Float>, index: UnsafePointer<UInt32>, word: UnsafePointer<UInt32>, count: Int,
                              _ rng: inout Xoshiro256, retry: UnsafeMutablePointer<UInt64>, path: qk_path) {
            var tables = Self.table.c
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4) { words in
                guard let s = words.baseAddress else { return }
                s[0] = rng.s0; s[1] = rng.s1; s[2] = rng.s2; s[3] = rng.s3
                qk_ziggurat_slow(out, index, word, count, &tables, s, retry, path)
                rng.s0 = s[0]; rng.s1 = s[1]; rng.s2 = s[2]; rng.s3 = s[3]
            }
        }
    }
}
