import Foundation
import CBLAS
import CKernels

/// Which of OpenBLAS's kernels this process runs. OpenBLAS picks them when it loads, from the CPU
/// model, or from the environment variable `OPENBLAS_CORETYPE` when it is set. Debian 12's
/// OpenBLAS (0.3.21) does not know CPU models newer than itself (an Emerald Rapids Xeon, family 6
/// model 207, for one) and falls back to its SSE3 kernels, "Prescott", several times slower than
/// the AVX2 ("Haswell") or AVX-512 ("SkylakeX") ones the CPU can run: `qbench` then starts itself
/// again with the variable set (`replacement`, docs/performance.md).
public enum LinearAlgebraCore {
    /// The kernels OpenBLAS runs in this process ("Prescott", "Haswell", "SkylakeX", …).
    public static var name: String { String(cString: openblas_get_corename()) }

    /// The core to ask OpenBLAS for: only when it fell back to "Prescott", the variable is unset
    /// (a user's choice stands, and a restarted process does not restart again) and the CPU and
    /// the operating system have AVX-512 (F, DQ, BW, VL: "SkylakeX") or AVX2 ("Haswell").
    public static func replacement(core: String, coreTypeVariable: String?, avx512: Bool, avx2: Bool) -> String? {
        guard core == "Prescott", coreTypeVariable == nil else { return nil }
        return avx512 ? "SkylakeX" : (avx2 ? "Haswell" : nil)
    }

    /// `replacement` for this process.
    public static var replacementHere: String? {
        replacement(core: name, coreTypeVariable: getenv("OPENBLAS_CORETYPE").map { String(cString: $0) },
                    avx512: qk_uses_avx512() != 0, avx2: qk_uses_avx2() != 0)
    }
}
