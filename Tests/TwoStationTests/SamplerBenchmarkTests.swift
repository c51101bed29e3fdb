import CKernels
import Foundation
import Testing

/// `qbench bench sampler --json`: one timing per build of the sampler's kernels, with the core count
/// and the build the CPU runs; bad counts are refused before anything runs.
@Suite("qbench bench sampler")
struct SamplerBenchmarkTests {
    @Test func timesEveryBuildAndNamesTheBestOne() throws {
        let r = try QBench.run(QBench.binary, ["bench", "sampler", "--samples", "65536", "--repeats", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr.suffix(800))")
        let object = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let builds = try #require(object["builds"] as? [[String: Any]])
        #expect(builds.compactMap { $0["build"] as? String } == ["best", "avx2", "portable"])
        for b in builds {
            let ns = try #require(b["nanosecondsPerSample"] as? Double)
            #expect(ns > 0 && ns.isFinite)
            #expect((b["samplesPerCPUSecond"] as? Double ?? 0) > 0)
        }
        let best = qk_uses_avx512() != 0 ? "AVX-512" : qk_uses_avx2() != 0 ? "AVX2" : "portable"
        #expect(object["bestBuild"] as? String == best)
        #expect((object["cores"] as? Int ?? 0) >= 1 && object["threads"] as? Int == 1)
    }

    @Test(arguments: [["--samples", "100"], ["--repeats", "0"], ["--samples", "-5"]])
    func badCountsAreRefused(arguments: [String]) throws {
        let r = try QBench.run(QBench.binary, ["bench", "sampler"] + arguments)
        #expect(r.status != 0)
        #expect(r.stderr.contains("must be"), "\(r.stderr.suffix(400))")
    }
}
