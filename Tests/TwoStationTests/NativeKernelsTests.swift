import CKernels
import Foundation
import Testing

/// `qbench` runs OpenBLAS on kernels the CPU has (`NativeKernels`): on a CPU with AVX2 never on the
/// SSE3 fallback an older OpenBLAS picks for CPU models it does not know, unless the user asked for
/// it with `OPENBLAS_CORETYPE`.
@Suite("qbench runs OpenBLAS on the CPU's own kernels")
struct NativeKernelsTests {
    func core(_ environment: [String: String]) throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-blas-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let r = try QBench.run(QBench.binary, ["bench", "run", "--images", "2", "--block-images", "1", "--json"],
                               environment: environment.merging(["QBENCH_HOME": home.path]) { $1 })
        #expect(r.status == 0, "\(r.stderr.suffix(800))")
        let object = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
        return try #require(object?["blasCore"] as? String)
    }

    @Test func theBenchReportsNativeKernelsAndKeepsTheUsersChoice() throws {
        let native = try core([:])
        if qk_uses_avx2() != 0 { #expect(native != "Prescott", "OpenBLAS ran its SSE3 fallback on a CPU with AVX2") }
        #expect(try core(["OPENBLAS_CORETYPE": "Prescott"]) == "Prescott")
    }
}
