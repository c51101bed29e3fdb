import Foundation

extension Gaussian {
    /// Bulk standard-normal sampling in single precision: a 256-layer ziggurat (Marsaglia and
    /// Tsang 2000, in Doornik's 2005 ZIGNOR form) fed with the two 32-bit halves of each
    /// xoshiro256** output, so one 64-bit draw yields two samples in ~99 % of cases.
    ///
    /// Exact in distribution up to the 2⁻²³ grid of the layer coordinate: each 32-bit half splits
    /// into disjoint bits, 8 for the layer and 24 for a signed position u = (h + ½)/2²³ in (−1, 1);
    /// a point inside the layer's inner rectangle is accepted at once, the wedges and the tail
    /// beyond r are sampled by rejection with fresh uniforms (never approximated).
    ///
    /// The stream differs from `Sampler`'s (a different algorithm), but is just as reproducible:
    /// the same generator state gives the same samples.
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
        @usableFromInline let x: [Double]
        /// Fast-accept bound on |h + ½| per layer: ⌈ x[i+1]/x[i] · 2²³ − ½ ⌉.
        @usableFromInline var bound: [Int32] { Array(UnsafeBufferPointer(start: Self.table.bound, count: Self.layers)) }
        /// The fast path's tables, built once per process and never freed.
        @usableFromInline static let table = FastTable()

        /// Bounds and scales (x[i] / 2²³: the sample is (h + ½) · scale[i]) as raw pointers, so the
        /// bulk loop reads them without array bounds checks or closures.
        @usableFromInline final class FastTable: @unchecked Sendable {
            @usableFromInline let bound: UnsafeMutablePointer<Int32>
            @usableFromInline let scale: UnsafeMutablePointer<Float>
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
        @usableFromInline let f: [Double]

        public init() {
            x = Self.edges()
            f = x.map { exp(-0.5 * $0 * $0) }
        }

        /// Area of the top layer (between x[255] and 0) by the recursion: equals `area` when the
        /// tables are consistent (checked by the tests).
        public var topLayerArea: Double { x[Self.layers - 1] * (1 - exp(-0.5 * x[Self.layers - 1] * x[Self.layers - 1])) }

        /// Fills `buffer` with independent N(0, 1) samples.
        @inlinable
        public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, _ rng: inout Xoshiro256) {
            guard let out = buffer.baseAddress else { return }
            let n = buffer.count
            let k = Self.table.bound, w = Self.table.scale
            var g = rng
            var i = 0
            while i + 1 < n {
                let bits = Self.step(&g)
                let lo = UInt32(truncatingIfNeeded: bits), hi = UInt32(truncatingIfNeeded: bits >> 32)
                let l0 = Int(lo & 255), h0 = Int32(bitPattern: lo) >> 8
                let l1 = Int(hi & 255), h1 = Int32(bitPattern: hi) >> 8
                out[i] = (h0 ^ (h0 >> 31)) < k[l0] ? (Float(h0) + 0.5) * w[l0] : slowSample(layer: l0, h: h0, &g)
                out[i + 1] = (h1 ^ (h1 >> 31)) < k[l1] ? (Float(h1) + 0.5) * w[l1] : slowSample(layer: l1, h: h1, &g)
                i += 2
            }
            if i < n {
                let lo = UInt32(truncatingIfNeeded: g.next())
                let l0 = Int(lo & 255), h0 = Int32(bitPattern: lo) >> 8
                out[i] = (h0 ^ (h0 >> 31)) < k[l0] ? (Float(h0) + 0.5) * w[l0] : slowSample(layer: l0, h: h0, &g)
            }
            rng = g
        }

        /// One xoshiro256** step, identical to `Xoshiro256.next()`, spelled out here so the bulk
        /// loop inlines it even where the compiler cannot see across files.
        @inlinable @inline(__always)
        static func step(_ g: inout Xoshiro256) -> UInt64 {
            let s1 = g.s1
            let x = s1 &* 5
            let result = ((x << 7) | (x >> 57)) &* 9
            let t = s1 << 17
            g.s2 ^= g.s0; g.s3 ^= g.s1; g.s1 ^= g.s2; g.s0 ^= g.s3
            g.s2 ^= t
            g.s3 = (g.s3 << 45) | (g.s3 >> 19)
            return result
        }

        /// Fills `buffer` with independent N(mean, sigma²) samples.
        @inlinable
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
        @usableFromInline
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
                if f[layer] + rng.nextUnit() * (f[layer + 1] - f[layer]) < exp(-0.5 * xs * xs) { return Float(xs) }
                let bits = UInt32(truncatingIfNeeded: rng.next())
                layer = Int(bits & 255)
                h = Int32(bitPattern: bits) >> 8
                if (h ^ (h >> 31)) < Self.table.bound[layer] { return (Float(h) + 0.5) * Self.table.scale[layer] }
            }
        }
    }
}
