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
        @usableFromInline let bound: [Int32]
        /// x[i] / 2²³: the sample is (h + ½) · scale[i].
        @usableFromInline let scale: [Float]

        public init() {
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
            self.x = x
            bound = (0..<layers).map { Int32((x[$0 + 1] / x[$0] * 0x1.0p23 - 0.5).rounded(.up)) }
            scale = (0..<layers).map { Float(x[$0] * 0x1.0p-23) }
        }

        /// Area of the top layer (between x[255] and 0) by the recursion: equals `area` when the
        /// tables are consistent (checked by the tests).
        public var topLayerArea: Double { x[Self.layers - 1] * (1 - exp(-0.5 * x[Self.layers - 1] * x[Self.layers - 1])) }

        /// Fills `buffer` with independent N(0, 1) samples.
        @inlinable
        public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, _ rng: inout Xoshiro256) {
            guard let out = buffer.baseAddress else { return }
            let n = buffer.count
            bound.withUnsafeBufferPointer { kb in
                scale.withUnsafeBufferPointer { wb in
                    let k = kb.baseAddress!, w = wb.baseAddress!
                    var g = rng
                    var i = 0
                    while i + 1 < n {
                        let bits = g.next()
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
            }
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
                let f0 = exp(-0.5 * (x[layer] * x[layer] - xs * xs))
                let f1 = exp(-0.5 * (x[layer + 1] * x[layer + 1] - xs * xs))
                if f1 + rng.nextUnit() * (f0 - f1) < 1.0 { return Float(xs) }
                let bits = UInt32(truncatingIfNeeded: rng.next())
                layer = Int(bits & 255)
                h = Int32(bitPattern: bits) >> 8
                if (h ^ (h >> 31)) < bound[layer] { return (Float(h) + 0.5) * scale[layer] }
            }
        }
    }
}
