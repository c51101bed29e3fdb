import ArgumentParser
import BenchKit
import Calibrate
import BenchSim
import Foundation
import SecureInference
import Sequencer
import SessionTransport

/// `qbench client`: the client station of a two-site testbed. It owns its images, its site's
/// instruments, its calibration and its run database; it checks the offered operating point
/// against its data-leakage budget before any light and alone computes predictions.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Run the client station: join (or resume) a session of a server station over mutual TLS with your own images.",
        discussion: "docs/two-sites.md covers certificates, ports and site bench files.")

    @Option(help: "The client site's bench file (its roles only), or with --fiber a simulated bench to run the client's half of.") var bench: String
    @Option(help: "The server station's HOST:PORT.") var connect: String
    @OptionGroup var site: SiteOptions
    @OptionGroup var pauses: PauseOptions
    @Option(name: .customLong("server-allow"), help: "Accept only this server certificate (cert-sha256:HEX or key-sha256:HEX); default: any server the lab CA issued.") var serverAllow: [String] = []
    @Option(name: .customLong("privacy-budget"), parsing: .unconditional, help: "Data-leakage budget I_x, bit per symbol: an operating point above it is refused before any light.") var privacyBudget = 0.01
    @Option(help: "Directory holding the MNIST test-set .gz files (default: the repository's Data/mnist).") var data: String?
    @Option(help: "Your own 28×28 grey images instead of the MNIST test set (white digit on black): an IDX image file (raw or .gz), a PGM or PNG, or a directory of PGM/PNG files (file-name order).") var images: String?
    @Option(help: "IDX label file for --images (one label per image); without it the session reports predictions only.") var labels: String?
    @Option(help: "Calibration folder (default: $QBENCH_HOME/calibration).") var store: String?
    @Option(help: "How the simulated client optics treat the light (a cheating client, to see the server's check abort it): honest | greedy-tap:R | over-amplify:G2 | intercept-resend. Only on a simulated bench.") var behaviour: String?
    @Flag(name: .customLong("calibrate-link"), help: "Join a link calibration (the server runs `qbench serve --calibrate-link`) instead of an inference: this station records how its readings map to the light, which its decoder needs.") var calibrateLink = false
    @Flag(help: "One JSON object on stdout.") var json = false

    @OptionGroup var logging: LoggingOptions
    @Option(help: "Serve a live page of this station, with its accuracy, at [HOST:]PORT (HOST defaults to 127.0.0.1, loopback only; docs/live-view.md).") var live: String?

    func run() async throws {
        try logging.bootstrap()
        let dir = try data.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.mnist
        if labels != nil, images == nil { throw CLIError("--labels goes with --images (the MNIST test set has its own)") }
        let testSet = try images.map { try ClientImageFiles.load(URL(fileURLWithPath: $0), labels: labels.map { URL(fileURLWithPath: $0) }) }
            ?? MNISTSet.load(.test, directory: dir)
        let calibration = try BenchOpening.store(store)
        let opened = try await site.openBench(bench, as: .client, store: calibration)
        if let behaviour {
            guard let b = ClientBehaviour(argument: behaviour) else {
                throw CLIError("--behaviour '\(behaviour)' is not honest, greedy-tap:R, over-amplify:G2 or intercept-resend")
            }
            guard let engine = try? await SimulatedBench.engine(of: opened) else {
                throw CLIError("--behaviour is a behaviour of the simulated client optics; bench '\(opened.description.name)' is real: a real client cannot be told to cheat")
            }
            try engine.setClientBehaviour(b)
        }
        let (credentials, roots) = try site.credentials()
        let (host, port) = try SiteOptions.endpoint(connect)
        let serverList = try serverAllow.map { entry in
            guard let e = AllowListEntry(entry) else { throw CLIError("--server-allow '\(entry)' is not cert-sha256:HEX or key-sha256:HEX") }
            return e
        }
        let stop = StopRequest()
        let signals = installSignalHandlers(stop)
        defer { _ = signals }
        let database = try RunDatabase(directory: StationOption.directory(.client))
        let pages = try await StationPages.start(live: live, station: "client", devices: .client, bench: opened, budget: nil, next: SilentObserver()) {
            FileHandle.standardError.write(Data(($0 + "\n").utf8))
        }
        defer { pages.stop() }
        pages.live?.update { $0.state = "connecting" }
        let observer = pages.observer
        var stationEnv = StationEnvironment(bench: opened, store: calibration, database: database,
                                     codeVersion: QBenchVersion.withCommit, arguments: CommandLine.arguments, stop: stop, observer: observer)
        try pauses.apply(to: &stationEnv)
        let env = stationEnv
        let settings = ClientSettings(dataLeakageBudgetBits: privacyBudget, dataDirectory: images ?? dir.path, behaviour: behaviour ?? "honest")
        let config = SessionClientConfiguration(host: host, port: port,
                                                security: .mutualTLS(credentials: credentials, trustRoots: roots, serverAllowList: serverList.isEmpty ? nil : serverList))
        if calibrateLink {
            let record = try await SessionClient.withSession(config) { channel in try await LinkCalibrationSession.join(env: env, channel: channel) }
            if json { try printJSON(LinkCalibrationReport(record, station: .client)) } else { printLine("link calibration: record \(record.id)") }
            return
        }
        let result: RunResult
        do {
            result = try await SessionClient.withSession(config) { channel in
                try await ClientSession.join(testSet: testSet, env: env, settings: settings, channel: channel)
            }
        } catch let failure as RunFailure {
            if json {
                try printJSON(StationReport(failure.result, station: .client, database: database.url, ended: failure.status,
                                            predictions: try? ClientSession.predictions(runId: failure.runId, database: database)))
            }
            throw CLIError("\(failure)")
        }
        let predictions = try ClientSession.predictions(runId: result.runId, database: database)
        if json { try printJSON(StationReport(result, station: .client, database: database.url, predictions: predictions)); return }
        printLine("""
            session           \(result.runId)
            images            \(result.images), accuracy \(result.accuracy.map(percent) ?? "—")
            server's verdict  \(result.aborted ? "ABORTED: \(result.abortReason ?? "")" : result.certified ? "certified within budget" : "not certified")
            data leakage      \(String(format: "%.4g", result.dataLeakageBits)) bit/symbol (budget \(privacyBudget))
            predictions       \(predictions.prefix(40).map(String.init).joined(separator: " "))\(predictions.count > 40 ? " … (\(predictions.count); all with --json)" : "")
            """)
    }
}
