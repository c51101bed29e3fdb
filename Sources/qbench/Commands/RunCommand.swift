import ArgumentParser
import BenchKit
import BenchSim
import Calibrate
import Dispatch
import Foundation
import NumericsKit
import SecureInference
import Sequencer

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the secure-inference protocol on a bench (the simulated one by default) and record it.",
        discussion: """
            Plans are data: preflight (identities, calibration records, interlock), warm-up, blocks of images \
            (per layer: the server loads the weight frames, the client programs U_x per image, trigger, both \
            receivers acquire, the server estimates T̂ and ε̂ against an interleaved back-to-back reference and \
            decides), finish. Every step is journaled in the run database ($QBENCH_HOME, default \
            ~/.local/share/qbench); a run killed at any point continues with --resume RUN_ID. The bench is left \
            in its safe state on every exit.
            """)

    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Option(parsing: .unconditional, help: "Test images (1–10000; default 10000).") var images: Int?
    @Option(parsing: .unconditional, help: "Client amplifier gain G (default 2).") var gain: Double?
    @Option(parsing: .unconditional, help: "Mean photons per mode μ at the client input (default 4).") var photons: Double?
    @Option(name: .customLong("block-images"), parsing: .unconditional, help: "Images per block (the server's check runs after every block; default 100).") var blockImages: Int?
    @Option(name: .customLong("burst-shots"), parsing: .unconditional, help: "Shots per trigger burst: each burst is four messages between the stations, and the server's memory per burst grows with it (default 32).") var burstShots: Int?
    @Option(help: "Client behaviour on the simulated bench: honest | greedy-tap:R | over-amplify:G2 | intercept-resend (default honest).") var client: String?
    @Option(parsing: .unconditional, help: "Weight-leakage budget, bit per mode (the server's check; default 0.1).") var budget: Double?
    @Option(name: .customLong("lifetime-budget"), parsing: .unconditional, help: "The server's lifetime budget of weight leakage per client, bit per weight symbol, over all its sessions (leakage is per use); a session that could exceed it is refused before light. Default: unlimited (still recorded: `qbench ledger`).") var lifetimeBudget: Double?
    @Option(name: .customLong("privacy-budget"), parsing: .unconditional, help: "The client's data-leakage budget I_x, bit per symbol: it refuses an operating point above it before any light.") var privacyBudget = 0.01
    @Option(parsing: .unconditional, help: "Error probability δ of the abort and certified statements (default 1e-6).") var delta: Double?
    @Option(name: .customLong("vacuum-slots"), parsing: .unconditional, help: "Vacuum slots per row (the in-band shot-noise reference; as many as modes halves ε̂'s error against a quarter; default 392).") var vacuumSlots: Int?
    @Option(name: .customLong("resume"), help: "Continue an interrupted or killed run, as it was recorded: its bench file, data, calibration folder and operating point (an option that differs from the record is refused).") var resumeId: String?
    @Option(help: "Calibration folder (default: the station's, $QBENCH_HOME/calibration).") var store: String?
    @Flag(name: .customLong("raw-samples"), help: "Keep raw returned samples of the first blocks (bounded) in the run database.") var rawSamples = false
    @Option(help: "Serve a live page of the run at [HOST:]PORT (HOST defaults to 127.0.0.1, loopback only; docs/live-view.md).") var live: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var pauses: PauseOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    /// A new run's settings: the options given, else the defaults.
    var newRun: RunConfiguration {
        var c = RunConfiguration(benchFile: "", modelFile: "", dataDirectory: "")
        c.images = images ?? 10_000
        c.gain = gain ?? 2
        c.photonsPerMode = photons ?? 4
        c.blockImages = blockImages ?? 100
        c.client = client ?? "honest"
        c.budgetBitsPerMode = budget ?? 0.1
        c.delta = delta ?? 1e-6
        c.vacuumSlotsPerRow = vacuumSlots ?? 392
        c.keepRawSamples = rawSamples
        c.shotsPerBurst = burstShots ?? 32
        return c
    }

    func validate() throws {
        let c = newRun
        guard (1...10_000).contains(c.images) else { throw ValidationError("--images must be between 1 and 10000") }
        guard c.blockImages > 0 else { throw ValidationError("--block-images must be positive") }
        guard ClientBehaviour(argument: c.client) != nil else {
            throw ValidationError("--client must be honest, greedy-tap:R, over-amplify:G2 or intercept-resend")
        }
        // Every other option (δ, budget, gain, μ, vacuum slots, and the budget against the honest
        // leakage) is checked by the run itself before any light, on new and resumed runs alike.
    }

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try logging.bootstrap()
        let db = try RunDatabase(directory: StationOption.directory(.server))
        let clientDB = try RunDatabase(directory: StationOption.directory(.client))
        // A resumed run continues as it was recorded: its bench text, data, calibration folder and
        // operating point; an option that says otherwise is refused before anything opens.
        let resumed = try resumeId.map { try ResumedRun(id: $0, options: self, server: db, client: clientDB) }
        var model = modelOptions
        if let resumed {
            model.data = model.data ?? resumed.dataDirectory
            model.model = model.model ?? resumed.modelFile
        }
        let modelFile = try model.loadModel()
        let testSet = try model.loadSet(.test, limit: nil)
        let description = try resumed?.bench ?? BenchDescription.load(try BenchOpening.url(bench))
        let behaviour = ClientBehaviour(argument: resumed?.configuration.client ?? newRun.client) ?? .honest
        let opened = try await BenchOpening.open(description, station: nil)
        if behaviour != .honest {
            guard let engine = try? await SimulatedBench.engine(of: opened) else {
                throw CLIError("--client \(behaviour) is a behaviour of the simulated bench; bench '\(opened.description.name)' is real: a real client cannot be told to cheat")
            }
            try engine.setClientBehaviour(behaviour)
        }
        let storePath = resumed?.configuration.calibrationStore ?? store
        let store = try BenchOpening.store(storePath)
        if resumeId == nil { try await BenchOpening.calibrateTwinIfNeeded(opened, store: store, photons: newRun.photonsPerMode, gain: newRun.gain, log: !json) }
        let stop = StopRequest()
        let signals = installSignalHandlers(stop)
        defer { _ = signals }
        let terminal = TerminalObserver(enabled: !json)
        let pages = try await StationPages.start(live: live, station: "server", devices: nil, bench: opened,
                                                 budget: resumed?.configuration.budgetBitsPerMode ?? newRun.budgetBitsPerMode, next: terminal) {
            FileHandle.standardError.write(Data(($0 + "\n").utf8))
        }
        defer { pages.stop() }
        let observer = pages.observer
        var env = RunEnvironment(bench: opened, store: store, database: db, clientDatabase: clientDB, codeVersion: QBenchVersion.withCommit,
                                 arguments: CommandLine.arguments, stop: stop, observer: observer)
        env.dataLeakageBudgetBits = privacyBudget
        env.lifetimeBudgetBitsPerSymbol = lifetimeBudget
        try pauses.apply(to: &env)
        let result: RunResult
        do {
            if let id = resumeId {
                result = try await ProtocolRun.resume(runId: id, model: modelFile, testSet: testSet, env: env)
            } else {
                var config = newRun
                config.benchFile = try BenchOpening.url(bench).path
                config.modelFile = try modelOptions.model ?? ProjectPaths.defaultModel.path
                config.dataDirectory = try modelOptions.data ?? ProjectPaths.mnist.path
                config.calibrationStore = self.store.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                result = try await ProtocolRun.start(config, model: modelFile, testSet: testSet, env: env)
            }
        } catch let failure as RunFailure {
            if json { try printJSON(failure.result) }
            throw CLIError("\(failure)")
        }
        pages.live?.update { $0.state = result.aborted ? "aborted" : result.certified ? "completed, certified" : "completed, not certified" }
        if json { try printJSON(result); return }
        let firstCertified = try db.blocks(result.runId).first { $0.decision == "certified" }
        printResult(result, firstCertified: firstCertified)
    }

    /// A bench that is entirely the twin is calibrated on first use (records are per station and
    /// sealed with its key, so none ship with the repository): the same routines as `qbench
    /// calibrate all`, at this run's μ and G, into the station's store. A real bench is never
    /// calibrated behind the user's back: the run's preflight says which `qbench calibrate` to run.
    func printResult(_ r: RunResult, firstCertified: BlockRecord?) {
        let f = { (v: Double) in String(format: "%.5g", v) }
        let since = firstCertified.map { " since \($0.modes) modes (\($0.imagesDone) images)" } ?? ""
        printLine("""
            run               \(r.runId) on bench \(r.bench)
            images            \(r.images), accuracy \(r.accuracy.map(percent) ?? "—") (the client's)
            server's check    \(r.aborted ? "ABORTED: \(r.abortReason ?? "")" : (r.certified ? "certified within budget\(since)" : "not certified (not enough modes yet)"))
            channel           T̂ = \(f(r.transmittanceEstimate)), ε̂ = \(f(r.excessNoiseEstimate)) SNU (≤ \(f(r.excessNoiseUpperBound)))
            weight leakage    \(f(r.weightLeakageBitsPerMode)) bit/mode (≤ \(f(r.weightLeakageUpperBoundBitsPerMode)))
            data leakage      \(f(r.dataLeakageBits)) bit/symbol (Cramér–Rao)
            optical modes     \(r.modes) measured in \(r.blocks) blocks, \(String(format: "%.1f", r.seconds)) s (\(String(format: "%.3g", Double(r.modes) / max(r.seconds, 1e-9))) modes/s on \(availableCores) cores)
            records           server: qbench journal \(r.runId) · client: qbench journal \(r.runId) --station client
            report            qbench report \(r.runId)
            """)
    }
}

/// SIGINT/SIGTERM/SIGHUP (a closed terminal or SSH session) stop the run at the next safe point
/// (the engine then enters the safe state).
func installSignalHandlers(_ stop: StopRequest) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM, SIGHUP].map { sig in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { stop.request(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP") }
        source.resume()
        return source
    }
}

/// Progress on a terminal: images, modes/s, ETA, current ε̂.
final class TerminalObserver: RunObserver, @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var bar: ProgressBar?
    init(enabled: Bool) { self.enabled = enabled }

    func started(runId: String, plan: [PlanStep]) {
        // The server's run database (run, serve and experiment all keep theirs in $QBENCH_HOME).
        SafetyGuard.note(run: runId, database: StationOption.directory(.server))
        if enabled { FileHandle.standardError.write(Data("run \(runId): \(plan.count - 3) blocks\n".utf8)) }
    }

    func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        if bar == nil { bar = ProgressBar(total: images, unit: "images") }
        let eps = excessNoise.map { String(format: "ε̂ %.3g", $0) } ?? "ε̂ —"
        bar?.update(imagesDone, extra: String(format: "%.2g modes/s  %@", modesPerSecond, eps))
    }
}
