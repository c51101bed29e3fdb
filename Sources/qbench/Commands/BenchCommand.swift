import ArgumentParser
import BenchKit
import BenchSim
import Foundation
import NumericsKit
import SecureInference
import TwinValidation

/// `qbench bench …`: performance measurements.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Performance measurements.",
        subcommands: [TwinBenchmark.self, CalibrationBenchmark.self, ServerCheckBenchmark.self, AttackBenchmark.self, CuriousServerBenchmark.self])
}

struct TwinBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin",
        abstract: "Measures the digital twin on secure inference of MNIST images (784-784-10, G = 2, μ = 4).",
        discussion: """
            Drives the simulated bench the way a protocol run does: for each layer, its frames uploaded to the modulator \
            once; then for each burst of test images, ξ per image on the client processor, both receivers armed, the \
            trigger, and the fetch of the server's samples and the client's readings, which become the next layer's input. \
            It counts every signal mode delivered to the server receiver (vacuum slots run but are not counted) and \
            times the driving loop (setup excluded). \
            Until the calibrated encoder exists, the drive voltages, biases, attenuator, LO phases and the client's \
            reading scale are computed from the twin's hidden constants (its `truth`), which only benchmarks and tests \
            may read.
            """)

    @Option(help: "Test images to classify.") var images = 100
    @Option(help: "Images per trigger burst (default: as many as keep one burst's server samples within 24 MB).") var batch: Int?
    @Option(help: "Worker threads for the twin's physics (default: every core).") var threads: Int?
    @Option(help: "Vacuum slots after the 392 modes of every row (the in-band shot-noise reference).") var vacuumSlots = 8
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout: images, modes, seconds, modesPerSecond, cores.") var json = false

    struct Output: Encodable {
        let images: Int
        let modes: Int
        let seconds: Double
        let modesPerSecond: Double
        let cores: Int
    }

    func validate() throws {
        guard (1...10_000).contains(images) else { throw ValidationError("--images must be between 1 and 10000") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        guard vacuumSlots >= 0 else { throw ValidationError("--vacuum-slots must be 0 or more") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        let model = try modelOptions.loadModel()
        let set = try modelOptions.loadSet(.test, limit: images)
        let opened = try await BenchOpening.open(bench)
        let engine = try await SimulatedBench.engine(of: opened)
        let cores = threads ?? availableCores
        engine.setWorkerThreads(cores)
        // The twin parallelises over its own work units; OpenBLAS's idle threads would spin
        // (sched_yield) beside them after every small β product and steal their cores.
        setLinearAlgebraThreads(1)
        var configuration = TwinWorkload.Configuration()
        // Bursts whose samples stay below glibc's largest mmap threshold (32 MB) reuse freed heap
        // memory; larger ones page-fault fresh memory from the kernel every burst.
        let slotsPerShot = (model.network.layers.map(\.rows).max() ?? 1) * ((model.network.inputSize + 1) / 2 + vacuumSlots)
        configuration.batch = batch ?? max(1, (24 << 20) / (4 * slotsPerShot))
        configuration.vacuumSlotsPerRow = vacuumSlots
        let workload = try await TwinWorkload(bench: opened, network: model.network, configuration: configuration)
        let bar = ProgressBar(total: set.count * model.network.layers.count, unit: "shots", enabled: !json)
        let result = try await workload.run(set) { bar.update($0) }
        await opened.enterSafeState()
        if json {
            try printJSON(Output(images: result.images, modes: result.modes, seconds: result.seconds,
                                 modesPerSecond: result.modesPerSecond, cores: cores))
            return
        }
        printLine("""
            digital twin      \(opened.description.name) (\(opened.description.file)), \(cores) threads of \(availableCores) cores
            workload          \(result.images) MNIST test images, \(model.modelID), G = 2, μ = 4, \(vacuumSlots) vacuum slots per row, \(configuration.batch) images per burst
            signal modes      \(result.modes) in \(String(format: "%.3f", result.seconds)) s: \(format(result.modesPerSecond, 3)) modes/s
            physics           \(String(format: "%.3f", result.physicsSeconds)) s inside the trigger; the rest is the harness (client arithmetic, transfers)
            accuracy          \(percent(result.accuracy)) through the twin (client readings clipped: \(result.clippedReadings) of \(result.readings))
            """)
    }
}

struct CalibrationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibration",
        abstract: "Calibrates the simulated bench under many seeds and compares every result with the twin's hidden constants.",
        discussion: "For each seed the bench file's simulation seed is replaced, `calibrate all` runs into a temporary store, and Vπ, bias phases, SNU scales, μ, link transmittances, gain and efficiency are compared with the truth (which only benchmarks and tests may read). Reports the worst error against each target and the coverage of the stated uncertainties.")

    @Option(help: "Number of seeds (1, 2, …).") var seeds = 20
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Flag(help: "One JSON object on stdout.") var json = false

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

    @Option(help: "Number of seeds (1, 2, …).") var seeds = 20
    @Option(help: "Test images per run.") var images = 10_000
    @Option(name: .customLong("block-images"), help: "Images per block.") var blockImages = 100
    @Option(help: "Clients, comma-separated.") var clients = "honest,greedy-tap:0.75,over-amplify:4,intercept-resend"
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

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

    @Option(help: "Number of seeds (1, 2, …).") var seeds = 3
    @Option(help: "Test images per run (a run also ends at an abort).") var images = 3_000
    @Option(name: .customLong("block-images"), help: "Images per block.") var blockImages = 100
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

    @Option(help: "Test images.") var images = 50
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
