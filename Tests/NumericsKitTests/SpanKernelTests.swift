import CKernels
import NumericsKit
import Testing

/// `qk_span`, the range of a drive waveform checked against its limits before upload: both builds
/// give the smallest and largest number and count the NaNs wherever they sit (inside the lanes'
/// full steps or in the tail), against a plain scan.
@Suite("Span kernel")
struct SpanKernelTests {
    @Test(arguments: [(1, -1), (15, -1), (16, -1), (17, 3), (40, 20), (40, 39), (1_000, 517), (1_003, 1_000)])
    func extremesAndNaNsOnBothBuilds(count: Int, nanAt: Int) {
        var rng = Xoshiro256(seed: UInt64(count * 31 + nanAt + 5))
        let g = Gaussian.Sampler()
        var v = (0..<count).map { _ in Float(3 * g.next(&rng)) }
        if count > 2 { v[count / 2] = -.infinity }
        if nanAt >= 0 { v[nanAt] = .nan; v[(nanAt + 7) % count] = .nan }
        let numbers = v.filter { !$0.isNaN }
        let nans = v.count - numbers.count
        for path in [QK_BEST, QK_PORTABLE, QK_AVX2_ONLY] {
            var lo: Float = 0, hi: Float = 0
            let counted = qk_span(v, v.count, &lo, &hi, path)
            #expect(counted == nans && lo == numbers.min()! && hi == numbers.max()!, "\(count) samples, NaN at \(nanAt), path \(path.rawValue)")
        }
    }

    @Test func noNumbersGiveTheEmptyRange() {
        var lo: Float = 0, hi: Float = 0
        #expect(qk_span([Float.nan, .nan], 2, &lo, &hi, QK_BEST) == 2 && lo == .infinity && hi == -.infinity)
        #expect(qk_span([Float](), 0, &lo, &hi, QK_BEST) == 0 && lo == .infinity && hi == -.infinity)
    }
}

/// When `qbench` restarts itself with OpenBLAS on other kernels (`LinearAlgebraCore`, `NativeKernels`).
@Suite("OpenBLAS kernels")
struct LinearAlgebraCoreTests {
    @Test(arguments: [
        ("Prescott", nil, true, true, "SkylakeX"), ("Prescott", nil, false, true, "Haswell"), ("Prescott", nil, false, false, nil),
        ("Prescott", "Prescott", true, true, nil), ("Prescott", "Haswell", true, true, nil),
        ("Haswell", nil, true, true, nil), ("SkylakeX", nil, true, true, nil), ("Zen", nil, true, true, nil),
    ] as [(String, String?, Bool, Bool, String?)])
    func replacement(core: String, variable: String?, avx512: Bool, avx2: Bool, expected: String?) {
        #expect(LinearAlgebraCore.replacement(core: core, coreTypeVariable: variable, avx512: avx512, avx2: avx2) == expected)
    }
}
