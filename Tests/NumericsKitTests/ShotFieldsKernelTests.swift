import CKernels
import Foundation
import NumericsKit
import Testing

/// `qk_shot_fields`, the twin's per-slot fields of a burst: every build gives the bits of the Swift
/// loops it replaced (written out here as the reference, the same Float operations in the same
/// order), with the client's light only, the server's fields only, or both.
@Suite("Shot-fields kernel")
struct ShotFieldsKernelTests {
    struct Inputs {
        var cI: [Float] = [], sI: [Float] = [], cQ: [Float] = [], sQ: [Float] = []
        var codes: [UInt8] = []
        var k: qk_shot_field_constants

        init(count: Int, seed: UInt64) {
            var rng = Xoshiro256(seed: seed)
            let g = Gaussian.Sampler()
            func angle() -> Double { 3 * g.next(&rng) }
            for _ in 0..<count {
                let a = angle(), b = angle()
                cI.append(Float(cos(a))); sI.append(Float(sin(a))); cQ.append(Float(cos(b))); sQ.append(Float(sin(b)))
                codes.append(UInt8(rng.next() % 3))
            }
            func f() -> Float { Float(g.next(&rng)) }
            k = qk_shot_field_constants(cbI: f(), sbI: f(), cbQ: f(), sbQ: f(), ct: f(), st: f(), dI: 0.01 * f(), dQ: 0.01 * f(),
                                        cRe: f(), cIm: f(), sRe: f(), sIm: f(), weightRe: (f(), f(), 0), weightIm: (f(), f(), 0))
        }

        /// The Swift loops of `ShotFields` before the kernel (the weights by code are not written
        /// out: the returned-row kernel looks them up itself).
        func reference() -> (aRe: [Float], aIm: [Float], q: [Float]) {
            let n = codes.count
            var aRe = [Float](repeating: 0, count: n), aIm = aRe, q = aRe
            let tRe = [k.weightRe.0, k.weightRe.1, k.weightRe.2], tIm = [k.weightIm.0, k.weightIm.1, k.weightIm.2]
            for j in 0..<n {
                let cosI = cI[j] * k.cbI - sI[j] * k.sbI, sinI = sI[j] * k.cbI + cI[j] * k.sbI
                let cosQ = cQ[j] * k.cbQ - sQ[j] * k.sbQ, sinQ = sQ[j] * k.cbQ + cQ[j] * k.sbQ
                let tQi = k.dQ * sinQ
                let fr: Float = 0.5 * (cosI + k.ct * cosQ - k.st * tQi)
                let fi: Float = 0.5 * (k.dI * sinI + k.st * cosQ + k.ct * tQi)
                aRe[j] = k.cRe * fr - k.cIm * fi
                aIm[j] = k.cRe * fi + k.cIm * fr
                let c = Int(min(codes[j], 2))
                let rRe = k.sRe * fr - k.sIm * fi, rIm = k.sRe * fi + k.sIm * fr
                q[j] = rRe * tRe[c] - rIm * tIm[c]
            }
            return (aRe, aIm, q)
        }
    }

    @Test(arguments: [(1, true, true), (13, true, false), (8_192 + 29, false, true), (1_000, true, true)])
    func bitsEqualTheSwiftLoops(count: Int, client: Bool, server: Bool) {
        var input = Inputs(count: count, seed: UInt64(count))
        let want = input.reference()
        for path in [QK_BEST, QK_AVX2_ONLY, QK_PORTABLE] {
            var aRe = [Float](repeating: .nan, count: count), aIm = aRe, q = aRe
            aRe.withUnsafeMutableBufferPointer { pa in aIm.withUnsafeMutableBufferPointer { pb in q.withUnsafeMutableBufferPointer { pq in
                qk_shot_fields(input.cI, input.sI, input.cQ, input.sQ, input.codes, count, &input.k,
                               client ? pa.baseAddress : nil, client ? pb.baseAddress : nil, server ? pq.baseAddress : nil, path)
            } } }
            func same(_ a: [Float], _ b: [Float]) -> Bool { a.map(\.bitPattern) == b.map(\.bitPattern) }
            let untouched = [Float](repeating: .nan, count: count)
            #expect(client ? same(aRe, want.aRe) && same(aIm, want.aIm) : same(aRe, untouched), "path \(path.rawValue)")
            #expect(server ? same(q, want.q) : same(q, untouched), "path \(path.rawValue)")
        }
    }
}
