import CKernels
import NumericsKit
import Testing

/// The twin's server-receiver synthesis of one returned row (`qk_returned_row`): every build gives
/// the same bits as the Swift loop it replaced, written out here as the reference (the same Float
/// operations in the same order, each slot's weight by its code), rails and their count included.
@Suite("Returned-row kernel")
struct ReturnedRowKernelTests {
    struct Row {
        var q: [Float] = [], z: [Float] = [], xr: [Float] = [], xi: [Float] = []
        var codes: [UInt8] = []
        var weights = qk_slot_weights(re: (0, 0, 0), im: (0, 0, 0))
        var dr: Float = 0, di: Float = 0
        /// Slot j's weight by its code (codes above 2 read as vacuum, as the kernel reads them).
        func weight(_ j: Int) -> (re: Float, im: Float) {
            switch codes[j] {
            case 0: (weights.re.0, weights.im.0)
            case 1: (weights.re.1, weights.im.1)
            default: (weights.re.2, weights.im.2)
            }
        }
        let modes: Int, slots: Int

        init(modes: Int, slots: Int, seed: UInt64, loud: Float, scale: Double = 1) {
            self.modes = modes; self.slots = slots
            var rng = Xoshiro256(seed: seed)
            let g = Gaussian.Sampler()
            func draw(_ n: Int, _ s: Double) -> [Float] { (0..<n).map { _ in Float(scale * s * g.next(&rng)) } }
            q = draw(slots, 0.02); z = draw(slots, 1)
            // X, P and vacuum codes (and a stray 7) at random; vacuum's weight is 0 as in the twin,
            // so a slot read with another code's weight shows.
            codes = (0..<slots).map { _ in [0, 1, 0, 1, 2, 7][Int(rng.next() % 6)] }
            let w = draw(4, 0.05)
            weights = qk_slot_weights(re: (w[0], w[1], 0), im: (w[2], w[3], 0))
            xr = draw(modes, 0.05); xi = draw(modes, 0.05)
            dr = loud * Float(g.next(&rng)); di = loud * Float(g.next(&rng))
        }
    }

    static let digitiser = qk_digitiser(offset: 0.0013, lsb: 1.0 / 2048, inverseLSB: 2048, lowestCode: -2048, highestCode: 2047)

    /// The Swift loop `ShotComputation.clientPathUnit` ran before the kernel.
    static func reference(_ r: Row, sigma: Float, _ d: qk_digitiser) -> (out: [Float], rails: Int32) {
        var out = [Float](repeating: 0, count: r.slots), atRails: Int32 = 0
        let magic: Float = 12_582_912
        func code(_ v: Float) -> Float { min(d.highestCode, max(d.lowestCode, (v * d.inverseLSB + magic) - magic)) }
        for j in 0..<r.modes {
            let ar = r.xr[j] * r.dr - r.xi[j] * r.di, ai = r.xr[j] * r.di + r.xi[j] * r.dr
            let w = r.weight(j)
            let c = code(r.q[j] + ar * w.re - ai * w.im + sigma * r.z[j] + d.offset)
            atRails &+= (c <= d.lowestCode ? 1 : 0) &+ (c >= d.highestCode ? 1 : 0)
            out[j] = c * d.lsb
        }
        for j in r.modes..<r.slots {
            let c = code(r.q[j] + sigma * r.z[j] + d.offset)
            atRails &+= (c <= d.lowestCode ? 1 : 0) &+ (c >= d.highestCode ? 1 : 0)
            out[j] = c * d.lsb
        }
        return (out, atRails)
    }

    static func kernel(_ r: Row, sigma: Float, _ d: qk_digitiser, _ path: qk_path) -> (out: [Float], rails: Int32) {
        var out = [Float](repeating: .nan, count: r.slots), d = d, w = r.weights
        let rails = qk_returned_row(r.q, r.codes, &w, r.xr, r.xi, r.modes, r.slots, r.dr, r.di, sigma, r.z, &d, &out, path)
        return (out, rails)
    }

    /// Quiet rows (no sample near a rail) and loud ones (many at both rails), lengths off the lanes.
    @Test(arguments: [(392, 784, Float(1)), (1, 1, 1), (7, 13, 3), (392, 784, 400), (33, 64, 900)])
    func bitsEqualTheSwiftLoop(modes: Int, slots: Int, loud: Float) {
        for seed in UInt64(1)...4 {
            let row = Row(modes: modes, slots: slots, seed: seed, loud: loud)
            let want = Self.reference(row, sigma: 0.25 * loud, Self.digitiser)
            for path in [QK_BEST, QK_AVX2_ONLY, QK_PORTABLE] {
                let got = Self.kernel(row, sigma: 0.25 * loud, Self.digitiser, path)
                #expect(got.out.map(\.bitPattern) == want.out.map(\.bitPattern), "seed \(seed), path \(path.rawValue)")
                #expect(got.rails == want.rails)
            }
            if loud >= 400 { #expect(want.rails > 0, "the loud rows reach the rails") }
        }
    }

    /// A digitiser far finer than the samples' rounding (2⁻²⁶ V, a fraction of a Float ulp of the
    /// samples): the codes show every rounding of every operation, so the same bits mean the same
    /// operations in the same order (a kernel adding the offset before the noise fails here).
    @Test func sameOperationsInTheSameOrder() {
        let fine = qk_digitiser(offset: 0.000_13, lsb: 0x1p-26, inverseLSB: 0x1p26, lowestCode: -0x1p21, highestCode: 0x1p21 - 1)
        var differs = 0
        for seed in UInt64(1)...8 {
            let row = Row(modes: 392, slots: 784, seed: seed, loud: 1, scale: 0.05)
            let want = Self.reference(row, sigma: 0.05 * 0.25, fine)
            #expect(want.rails == 0, "inside the rails")
            for path in [QK_BEST, QK_AVX2_ONLY, QK_PORTABLE] {
                let got = Self.kernel(row, sigma: 0.05 * 0.25, fine, path)
                differs += zip(got.out, want.out).filter { $0.bitPattern != $1.bitPattern }.count
            }
        }
        #expect(differs == 0, "\(differs) samples differ from the Swift loop")
    }

    /// `qk_quantise` (the twin's other digitised samples) is the same transfer: rounding, rails and
    /// their count as the Swift expression it replaced.
    @Test func quantiseIsTheSameTransfer() {
        let d = Self.digitiser, magic: Float = 12_582_912
        var rng = Xoshiro256(seed: 3)
        let g = Gaussian.Sampler()
        let v = (0..<1_001).map { _ in Float(0.8 * g.next(&rng)) }
        let want = v.map { min(d.highestCode, max(d.lowestCode, ($0 * d.inverseLSB + magic) - magic)) * d.lsb }
        let rails = v.map { min(d.highestCode, max(d.lowestCode, ($0 * d.inverseLSB + magic) - magic)) }.filter { $0 <= d.lowestCode || $0 >= d.highestCode }.count
        #expect(rails > 0)
        for path in [QK_BEST, QK_AVX2_ONLY, QK_PORTABLE] {
            var out = v, t = d
            let n = qk_quantise(&out, out.count, &t, path)
            #expect(out.map(\.bitPattern) == want.map(\.bitPattern) && Int(n) == rails)
        }
    }
}
