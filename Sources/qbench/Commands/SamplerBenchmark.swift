import ArgumentParser
import Foundation
import NumericsKit

/// `qbench bench sampler`: the twin's Gaussian sampler alone, on each build of its kernels.
struct SamplerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampler",
        abstract: "Times the twin's Gaussian sampler (the ziggurat's fast and rare paths) on each build of its kernels, on one thread.",
        discussion: """
            Fills a buffer of 8,192 samples (one shot's part of a tile of the server's record) again and again from one \
            generator until --samples are drawn, on each build: best (AVX-512 or AVX2 where the CPU has it), AVX2, \
            portable. Every build draws the same samples. Prints nanoseconds per sample and samples per second of wall \
            time and per CPU-second, with the core count; the best of --repeats timings per build.
            """)

    @Option(parsing: .unconditional, help: "Samples per timing (at least 8192).") var samples = 100_000_000
    @Option(parsing: .unconditional, help: "Timings per build; the fastest is reported.") var repeats = 5
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Timing: Encodable {
        let build: String
        let nanosecondsPerSample: Double
        let samplesPerSecond: Double
        let samplesPerCPUSecond: Double
    }

    struct Output: Encodable {
        let samples: Int
        let cores: Int
        let threads: Int
        /// What the best build runs on this CPU.
        let bestBuild: String
        let builds: [Timing]
    }

    func validate() throws {
        guard samples >= 8_192, samples <= 10_000_000_000 else { throw ValidationError("--samples must be between 8192 and 10^10 (got \(samples))") }
        guard (1...100).contains(repeats) else { throw ValidationError("--repeats must be between 1 and 100 (got \(repeats))") }
    }

    func run() async throws {
        let sampler = Gaussian.BulkSampler()
        var buffer = [Float](repeating: 0, count: 8_192)
        var timings: [Timing] = []
        for build in Gaussian.BulkSampler.Build.allCases {
            var rng = Xoshiro256(seed: 2026, stream: 7)
            // Untimed: the tables are built and the buffer's pages touched on first use.
            buffer.withUnsafeMutableBufferPointer { sampler.fill($0, &rng, build: build) }
            var bestWall = Double.infinity, bestCPU = 0.0
            for _ in 0..<repeats {
                let cpu0 = RunBenchmark.cpuSeconds(), wall0 = ContinuousClock.now
                var done = 0
                while done < samples {
                    buffer.withUnsafeMutableBufferPointer { sampler.fill($0, &rng, build: build) }
                    done += buffer.count
                }
                let wall = (ContinuousClock.now - wall0).inSeconds, cpu = RunBenchmark.cpuSeconds() - cpu0
                if wall < bestWall { bestWall = wall; bestCPU = cpu }
            }
            let n = Double((samples + buffer.count - 1) / buffer.count * buffer.count)
            timings.append(Timing(build: build.rawValue, nanosecondsPerSample: bestWall / n * 1e9,
                                  samplesPerSecond: n / bestWall, samplesPerCPUSecond: n / max(bestCPU, 1e-9)))
        }
        let out = Output(samples: samples, cores: availableCores, threads: 1, bestBuild: Gaussian.BulkSampler.Build.bestOnThisCPU, builds: timings)
        if json { try printJSON(out); return }
        printLine("Gaussian sampler, one thread of \(availableCores) cores, best build here: \(out.bestBuild)")
        for t in timings {
            printLine("  \(t.build.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(format: "%.3f", t.nanosecondsPerSample)) ns/sample, \(format(t.samplesPerSecond, 3)) samples/s, \(format(t.samplesPerCPUSecond, 3)) per CPU-second")
        }
    }
}
