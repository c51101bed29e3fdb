import ArgumentParser
import BenchKit
import BenchSim
import Foundation
import NumericsKit
import SecureInference
import TwinValidation
import Calibrate
import Sequencer

/// `qbench bench …`: performance measurements.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Performance measurements.",
        subcommands: [RunBenchmark.self, SamplerBenchmark.self, CalibrationBenchmark.self, ServerCheckBenchmark.self, AttackBenchmark.self, CuriousServerBenchmark.self])
}

struct RunBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Measures the protocol run itself on the twin: both stations, every device, the server's check (what `qbench run` does).",
        discussion: """
            Calibrates a fresh twin of the bench file into a temporary store and database (not timed), then times one \
            session through `ProtocolRun` exactly as `qbench run` executes it: signal modes per second of wall time and \
            per CPU-second (user + system of this process), slots per second (signal, vacuum and back-to-back), the \
            peak resident memory and the core count, with the session's accuracy, T̂, ε̂ and decision. These do not \
            depend on --threads for a given basis, but every session draws its own secret X/P basis, so two sessions \
            differ (the tests compare thread counts with a test basis).
            """)

    @Option(parsing: .unconditional, help: "Test images (1–10000).") var images = 1_000
    @Option(name: .customLong("block-images"), parsing: .unconditional, help: "Images per block.") var blockImages = 100
    @Option(parsing: .unconditional, help: "Threads for the twin's physics and the server's sums (default: every core). Results do not depend on it.") var threads: Int?
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Option(name: .customLong("burst-shots"), parsing: .unconditional, help: "Shots per trigger burst.") var burstShots = 32
    @Flag(help: "Split the twin at the fibre: the server's and the client's halves joined by sim-fiber over loopback TCP (what two processes pay for the fibre).") var split = false
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let split: Bool
        let images: Int
        let signalModes: Int
        let slots: Int
        let seconds: Double
        let cpuSeconds: Double
        let signalModesPerSecond: Double
        let signalModesPerCPUSecond: Double
        let slotsPerSecond: Double
        let peakResidentMegabytes: Double
        let cores: Int
        let threads: Int
        /// OpenBLAS's kernels (`LinearAlgebraCore.name`).
        let blasCore: String
        let accuracy: Double?
        let certified: Bool
        let transmittance: Double
        let excessNoise: Double
    }

    func validate() throws {
        try BenchmarkCounts.check(images: images, blockImages: blockImages)
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
    }

    func run() async throws {
        let model = try modelOptions.loadModel()
        let testSet = try modelOptions.loadSet(.test, limit: images)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-bench-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let url = try BenchOpening.url(bench)
        let table = try await BenchOpening.open(bench, continuingTwin: false)
        guard BenchOpening.isSimulated(table) else { throw CLIError("`qbench bench run` measures the twin: give a bench file whose roles are all simulated") }
        let workers = threads ?? availableCores
        // The server's sums (`parallelMap`) on as many threads as the twin's workers.
        ParallelWork.limit(to: threads)
        let store = CalibrationStore(root: scratch.appendingPathComponent("calibration"), key: .generate())
        if !json { printLine("calibrating the twin '\(table.description.name)' (not timed)") }
        _ = try await CalibrationRunner.all(CalibrationContext(bench: table, store: store, codeVersion: QBenchVersion.withCommit, log: { _ in }))
        var opened = table, clientSite: Bench?
        if split {
            // The two halves of the same twin, the fibre on a loopback port the system picks free.
            await table.enterSafeState()
            let port = try SimulatedBench.freeLoopbackPort()
            opened = try await Bench.open(try table.description.site(of: .server, fiber: ("127.0.0.1", port)), registry: try BenchOpening.registry())
            let client = try await Bench.open(try table.description.site(of: .client, fiber: ("127.0.0.1", port)), registry: try BenchOpening.registry())
            clientSite = client
            try await SimulatedBench.engine(of: client).setWorkerThreads(workers)
            // Both continue the calibrated twin: its drifts and noise go on from where the calibration left them.
            try await SimulatedBench.continueTwin(of: table, at: [opened, client])
        }
        try await SimulatedBench.engine(of: opened).setWorkerThreads(workers)
        var env = RunEnvironment(bench: opened, store: store, database: try RunDatabase(directory: scratch),
                                 clientDatabase: try RunDatabase(directory: scratch.appendingPathComponent("client")),
                                 codeVersion: QBenchVersion.withCommit, arguments: CommandLine.arguments, observer: TerminalObserver(enabled: !json))
        env.clientBench = clientSite
        env.chunkShots = max(1, burstShots)
        let config = RunConfiguration(benchFile: url.path, modelFile: model.modelID, dataDirectory: "", images: images, blockImages: blockImages)
        let cpu0 = Self.cpuSeconds(), wall0 = ContinuousClock.now
        let r = try await ProtocolRun.start(config, model: model, testSet: testSet, env: env)
        let wall = (ContinuousClock.now - wall0).inSeconds, cpu = Self.cpuSeconds() - cpu0
        // Every slot the server measured: signal and vacuum slots of the client shots, the back-to-back shots.
        let referenceShots = model.network.layers.count * PlanStep.plan(images: images, blockImages: blockImages).reduce(0) {
            if case let .block(_, _, n) = $1 { return $0 + max(1, Int((Double(n) * env.referenceFraction).rounded(.up))) } else { return $0 }
        }
        let slotsPerImage = model.network.layers.reduce(0) { $0 + $1.rows * (($1.cols + 1) / 2 + config.vacuumSlotsPerRow) }
        let slots = slotsPerImage * images + referenceShots * slotsPerImage / model.network.layers.count
        let out = Output(split: split, images: r.images, signalModes: r.modes, slots: slots, seconds: wall, cpuSeconds: cpu,
                         signalModesPerSecond: Double(r.modes) / wall, signalModesPerCPUSecond: Double(r.modes) / cpu,
                         slotsPerSecond: Double(slots) / wall, peakResidentMegabytes: Self.peakResidentMegabytes(),
                         cores: availableCores, threads: workers, blasCore: LinearAlgebraCore.name, accuracy: r.accuracy, certified: r.certified,
                         transmittance: r.transmittanceEstimate, excessNoise: r.excessNoiseEstimate)
        if json { try printJSON(out); return }
        printLine("""
            protocol run      \(r.images) images on the twin '\(opened.description.name)'\(split ? " split at the fibre (loopback TCP)" : ""), \(workers) threads of \(availableCores) cores, OpenBLAS \(out.blasCore) kernels
            signal modes      \(r.modes) in \(String(format: "%.2f", wall)) s: \(format(out.signalModesPerSecond, 3)) modes/s, \(format(out.signalModesPerCPUSecond, 3)) per CPU-second (\(String(format: "%.2f", cpu)) CPU-s)
            slots             \(slots) (signal, vacuum, back-to-back): \(format(out.slotsPerSecond, 3)) slots/s
            peak memory       \(String(format: "%.0f", out.peakResidentMegabytes)) MB resident
            session           accuracy \(r.accuracy.map(percent) ?? "—"), T̂ = \(r.transmittanceEstimate), ε̂ = \(r.excessNoiseEstimate), \(r.certified ? "certified" : "not certified")
            """)
    }
}

/// The ranges every benchmark's counts share: checked before any bench is opened.
enum BenchmarkCounts {
    static func check(seeds: Int? = nil, images: Int? = nil, blockImages: Int? = nil) throws {
        if let seeds, !(1...10_000).contains(seeds) { throw ValidationError("--seeds must be between 1 and 10000 (got \(seeds))") }
        if let images, !(1...10_000).contains(images) { throw ValidationError("--images must be between 1 and 10000 (got \(images))") }
        if let blockImages, blockImages < 1 { throw ValidationError("--block-images must be at least 1 (got \(blockImages))") }
    }
}

struct CalibrationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibration",
        abstract: "Calibrates the simulated bench under many seeds and compares every result with the twin's hidden constants.",
        discussion: "For each seed the bench file's simulation seed is replaced, `calibrate all` runs into a temporary store, and Vπ, bias phases, SNU scales, μ, link transmittances, gain and efficiency are compared with the truth (which only benchmarks and tests may read). Reports the worst error against each target and the coverage of the stated uncertainties.")

    @Option(parsing: .unconditional, help: "Number of seeds (1, 2, …).") var seeds = 20
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Flag(help: "One JSON object on stdout.") var json = false

    func validate() throws { try BenchmarkCounts.check(seeds: seeds) }

    func run() async throws {
        let url = try BenchOpening.url(bench)
        var outcomes: [CalibrationValidation.Outcome] = []
        let bar = ProgressBar(total: seeds, unit: "seeds", enabled: !json)
        for s in 1...seeds {
            outcomes.append(try await CalibrationValidation.run(benchFile: url, seed: UInt64(s)))
            bar.update(s)
        }
        let summary = CalibrationSummary(outcomes)
        if json { try printJSON(summary); return }
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        printLine("\(summary.seeds) seeds of \(url.lastPathComponent), \(availableCores) cores")
        printLine(pad("quantity", 24) + pad("target", 11) + pad("worst error", 13) + pad("mean error", 12) + pad("in target", 11) + pad("1σ cover", 10) + "2σ cover")
        for q in summary.quantities {
            let f = { (v: Double) in q.relative ? String(format: "%.3g %%", 100 * v) : String(format: "%.3g rad", v) }
            printLine(pad(q.name, 24) + pad(f(q.target), 11) + pad(f(q.worstError), 13) + pad(f(q.meanError), 12)
                      + pad("\(q.withinTarget)/\(summary.seeds)", 11) + pad(String(format: "%.0f %%", 100 * q.coverage1Sigma), 10)
                      + String(format: "%.0f %%", 100 * q.coverage2Sigma))
        }
        printLine("\nper routine (mean over seeds): measurements, simulated bench time")
        for (k, v) in summary.effort.sorted(by: { $0.key < $1.key }) {
            printLine("  " + pad(k, 36) + pad(String(format: "%.0f", v[0]), 12) + String(format: "%.3g s", v[1]))
        }
    }
}

struct ServerCheckBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server-check",
        abstract: "The server's check on the twin over many seeds: honest false aborts and certification, cheating clients' detection.",
        discussion: "For each seed the bench's simulation seed is replaced (new hidden constants and noise), the twin is calibrated, and each client runs on a fresh twin. Reports, per client, how many runs were aborted and after how many images, how many ended certified and after how many modes the bound first held.")

    @Option(parsing: .unconditional, help: "Number of seeds (1, 2, …).") var seeds = 20
    @Option(parsing: .unconditional, help: "Test images per run.") var images = 10_000
    @Option(name: .customLong("block-images"), parsing: .unconditional, help: "Images per block.") var blockImages = 100
    @Option(help: "Clients, comma-separated.") var clients = "honest,greedy-tap:0.75,over-amplify:4,intercept-resend"
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    func validate() throws { try BenchmarkCounts.check(seeds: seeds, images: images, blockImages: blockImages) }

    func run() async throws {
        let behaviours = try clientBehaviours(clients)
        let model = try modelOptions.loadModel()
        let testSet = try modelOptions.loadSet(.test, limit: images)
        let url = try BenchOpening.url(bench)
        let bar = ProgressBar(total: seeds, unit: "seeds", enabled: !json)
        let trials = try await ServerCheckValidation.run(benchFile: url, seeds: seeds, clients: behaviours, images: images,
                                                         blockImages: blockImages, model: model, testSet: testSet, progress: { bar.update($0) })
        let summary = ServerCheckValidation.summarise(trials, seeds: seeds, images: images, blockImages: blockImages, cores: availableCores)
        if json { try printJSON(summary); return }
        printLine("\(seeds) seeds × \(images) images, blocks of \(blockImages), \(availableCores) cores")
        for c in summary.clients {
            var line = "\(c.client): \(c.aborted)/\(c.runs) aborted"
            if let m = c.meanImagesAtAbort, let x = c.maxImagesAtAbort { line += String(format: " (after %.0f images on average, at most %d)", m, x) }
            line += ", \(c.certified)/\(c.runs) certified"
            if let m = c.meanFirstCertifiedAtModes, let x = c.maxFirstCertifiedAtModes { line += String(format: " (first after %.3g modes on average, at most %.3g)", m, Double(x)) }
            line += String(format: ", accuracy %.2f %%, ε̂ %.4g SNU", 100 * c.meanAccuracy, c.meanExcessNoise)
            printLine(line)
        }
    }
}

struct AttackBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attacks",
        abstract: "The attack table: probability of abort and of certification against images served, per attack and strength, over seeds.",
        discussion: "Each seed reseeds the twin (new hidden constants and noise) and calibrates it; each client then runs on a fresh twin through the whole protocol (production secret basis). Beside each client: the weight leakage it really takes, I_w at the channel the server's estimators converge to for it. Writes attacks.csv and attacks.svg to --out.")

    @Option(parsing: .unconditional, help: "Number of seeds (1, 2, …).") var seeds = 3
    @Option(parsing: .unconditional, help: "Test images per run (a run also ends at an abort).") var images = 3_000
    @Option(name: .customLong("block-images"), parsing: .unconditional, help: "Images per block.") var blockImages = 100
    @Option(help: "Clients, comma-separated.")
    var clients = "honest,greedy-tap:0.55,greedy-tap:0.6,greedy-tap:0.75,over-amplify:3,over-amplify:4,over-amplify:6,intercept-resend"
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Option(help: "Folder for attacks.csv and attacks.svg.") var out = "."
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let seeds: Int
        let images: Int
        let blockImages: Int
        let cores: Int
        let seconds: Double
        let rows: [AttackTable.Row]
        let csv: String
        let svg: String
    }

    func validate() throws { try BenchmarkCounts.check(seeds: seeds, images: images, blockImages: blockImages) }

    func run() async throws {
        let behaviours = try clientBehaviours(clients)
        guard seeds >= 1, images >= blockImages, blockImages >= 1 else { throw ValidationError("need --seeds ≥ 1 and 1 ≤ --block-images ≤ --images") }
        let started = Date()
        let model = try modelOptions.loadModel()
        let testSet = try modelOptions.loadSet(.test, limit: images)
        let url = try BenchOpening.url(bench)
        var truth: [String: (t: Double, eps: Double, bits: Double)] = [:]
        for b in behaviours { truth[b.description] = try AttackTable.trueLeakage(b, model: model, inputs: testSet, gain: 2, photons: 4) }
        let bar = ProgressBar(total: seeds, unit: "seeds", enabled: !json)
        let trials = try await ServerCheckValidation.run(benchFile: url, seeds: seeds, clients: behaviours, images: images,
                                                         blockImages: blockImages, model: model, testSet: testSet, progress: { bar.update($0) })
        let rows = AttackTable.rows(trials, images: images, blockImages: blockImages, truth: truth)
        let csv = AttackTable.csv(rows), svg = AttackTable.plot(rows, budget: 0.1)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try csv.write(to: dir.appendingPathComponent("attacks.csv"), atomically: true, encoding: .utf8)
        try svg.write(to: dir.appendingPathComponent("attacks.svg"), atomically: true, encoding: .utf8)
        let seconds = Date().timeIntervalSince(started)
        if json { try printJSON(Output(seeds: seeds, images: images, blockImages: blockImages, cores: availableCores, seconds: seconds, rows: rows, csv: csv, svg: svg)); return }
        printLine("\(seeds) seeds × up to \(images) images, blocks of \(blockImages), \(availableCores) cores, \(String(format: "%.0f", seconds)) s")
        for r in rows {
            let firstAbort = r.curve.first { $0.aborted >= 1 }?.images
            let half = r.curve.first { $0.aborted >= 0.5 }?.images
            let cert = r.curve.last?.certified ?? 0
            printLine(String(format: "%-20@ true I_w %.4f (T %.5f, ε %.3e): aborted %@ of runs by %d images%@%@, certified by the end %.0f %%",
                             r.client as NSString, r.trueLeakageBitsPerMode, r.trueTransmittance, r.trueExcessNoise,
                             String(format: "%.0f %%", 100 * (r.curve.last?.aborted ?? 0)) as NSString, images,
                             (half.map { ", half by \($0)" } ?? "") as NSString, (firstAbort.map { ", all by \($0)" } ?? "") as NSString, 100 * cert))
        }
        printLine("wrote \(dir.appendingPathComponent("attacks.csv").path) and attacks.svg")
    }
}

struct CuriousServerBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curious-server",
        abstract: "The curious server on the twin: estimates each image's data pattern |ξ_j|² from the returned excess noise; its error against the Cramér–Rao bounds.",
        discussion: "An honest session on a freshly calibrated twin; the server's own returned samples of the first layer are analysed per image and mode (g|ξ_j|² in each of the layer's rows). Prints the mean-squared error, the exact bound for this measurement, the bound behind qbench's I_x (PROTOCOL.md §5), their ratios, and the information per data symbol the estimator reaches.")

    @Option(parsing: .unconditional, help: "Test images.") var images = 50
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let result: CuriousServer.Result
        let ratioToExactBound: Double
        let ratioToAuthorsBound: Double
        let dataLeakageCramerRao: Double
        let dataLeakageConservative: Double
        let seconds: Double
        let cores: Int
    }

    func validate() throws { try BenchmarkCounts.check(images: images) }

    func run() async throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1") }
        let started = Date()
        let model = try modelOptions.loadModel()
        let testSet = try modelOptions.loadSet(.test, limit: images)
        let (r, _) = try await CuriousServer.measure(benchFile: try BenchOpening.url(bench), images: images, model: model, testSet: testSet)
        let amplifier = try ClientAmplifier(gain: 2)
        let n = (model.network.inputSize + 1) / 2
        let out = Output(result: r, ratioToExactBound: r.ratioToExactBound, ratioToAuthorsBound: r.ratioToAuthorsBound,
                         dataLeakageCramerRao: try DataLeakage.cramerRaoBits(amplifier: amplifier, modesPerRow: n),
                         dataLeakageConservative: try DataLeakage.conservativeBits(amplifier: amplifier, modesPerRow: n, innerProducts: model.network.layers.map(\.rows).reduce(0, +)),
                         seconds: Date().timeIntervalSince(started), cores: availableCores)
        if json { try printJSON(out); return }
        printLine(String(format: "%d images, %d estimates of |ξ_j|² from %d rows each (mean |ξ_j|² %.3g)", r.images, r.estimates, r.rowsPerEstimate, r.meanTrueQ))
        printLine(String(format: "mean-squared error %.4g; exact Cramér–Rao bound %.4g (ratio %.3f); bound behind I_x %.4g (ratio %.3f)",
                         r.meanSquaredError, r.exactBound, r.ratioToExactBound, r.authorsBound, r.ratioToAuthorsBound))
        printLine(String(format: "the estimator gets %.4g bit per data symbol (an efficient one %.4g); I_x = %.4g (Cramér–Rao form, n measurements), %.4g (conservative form)",
                         r.bitsPerSymbol, r.boundBitsPerSymbol, out.dataLeakageCramerRao, out.dataLeakageConservative))
    }
}

/// `--clients a,b,c` as behaviours of the twin's client.
func clientBehaviours(_ list: String) throws -> [ClientBehaviour] {
    try list.split(separator: ",").map { s in
        guard let b = ClientBehaviour(argument: String(s)) else {
            throw ValidationError("unknown client '\(s)': expected honest, greedy-tap:R, over-amplify:G2 or intercept-resend")
        }
        return b
    }
}
