import ArgumentParser
import BenchKit
import Foundation
import SecureInference
import Sequencer
import SessionProtocol
import SessionTransport

/// `qbench serve`: the server station of a two-site testbed. It owns the model, its site's
/// instruments, its calibration, its run database and the secret basis; it admits only clients
/// whose certificate is on its allow-list and serves them one session after another.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server station: serve secure-inference sessions to admitted client stations over mutual TLS.",
        discussion: "Each admitted client gets one recorded session (its certificate's SHA-256 in the journal and the ledger). docs/two-sites.md covers certificates, ports and site bench files.")

    @Option(help: "The server site's bench file (its roles only), or with --fiber a simulated bench to run the server's half of.") var bench: String
    @Option(help: "HOST:PORT to listen on.") var listen = "0.0.0.0:7443"
    @OptionGroup var site: SiteOptions
    @OptionGroup var pauses: PauseOptions
    @Option(name: .customLong("station-file"), help: "The server station's file: the clients it admits (by certificate or key fingerprint) and the lifetime budget per client (format: docs/two-sites.md).") var stationFile: String?
    @Option(name: .customLong("allow"), help: "An admitted client besides the station file's: cert-sha256:HEX or key-sha256:HEX (`qbench pki fingerprint CLIENT.pem`); repeat per client.") var allow: [String] = []
    @Option(parsing: .unconditional, help: "Sessions to serve before exiting (0: until stopped).") var sessions = 1
    @Option(name: .customLong("resume"), help: "Continue this interrupted session (from its last commit) with the first client that connects; later sessions are new.") var resumeId: String?
    @Option(parsing: .unconditional, help: "Test images per session (1–10000).") var images = 10_000
    @Option(parsing: .unconditional, help: "Client amplifier gain G the server offers.") var gain = 2.0
    @Option(parsing: .unconditional, help: "Mean photons per mode μ at the client input.") var photons = 4.0
    @Option(name: .customLong("block-images"), parsing: .unconditional, help: "Images per block (the check runs after every block).") var blockImages = 100
    @Option(name: .customLong("burst-shots"), parsing: .unconditional, help: "Shots per trigger burst: each burst is four messages between the stations, and the server's memory per burst grows with it.") var burstShots = 32
    @Option(parsing: .unconditional, help: "Weight-leakage budget, bit per mode.") var budget = 0.1
    @Option(parsing: .unconditional, help: "Error probability δ of the check's statements.") var delta = 1e-6
    @Option(name: .customLong("vacuum-slots"), parsing: .unconditional, help: "Vacuum slots per row.") var vacuumSlots = 392
    @Option(name: .customLong("lifetime-budget"), parsing: .unconditional, help: "Lifetime weight-leakage budget per client, bit per weight symbol, instead of the station file's (default: the file's, or unlimited, recorded).") var lifetimeBudget: Double?
    @Option(help: "Calibration folder (default: $QBENCH_HOME/calibration).") var store: String?
    @Option(help: "Model file (default: the shipped model).") var model: String?
    @Flag(name: .customLong("calibrate-link"), help: "Serve link calibrations instead of inference: the public calibration frame at --photons through each client's optics at --gain, each station recording its part (docs/two-sites.md).") var calibrateLink = false
    @Flag(help: "One JSON object per session on stdout (what the server station knows of it); messages go to stderr.") var json = false

    /// Whom the ledger charges: the admission entry the client's certificate matched (a key
    /// fingerprint keeps its account across re-issued certificates), else its certificate.
    static func ledgerIdentity(_ peer: PeerIdentity, admitted: [ServerStationFile.Admitted]) -> String {
        for a in admitted {
            switch a.entry {
            case let .certificateSHA256(h) where h == peer.certificateSHA256: return a.entry.description
            case let .publicKeySHA256(h) where h == peer.publicKeySHA256: return a.entry.description
            default: continue
            }
        }
        return peer.certificateSHA256.map { "cert-sha256:\($0)" } ?? peer.description
    }

    /// Status lines: stdout, or stderr when stdout carries the JSON.
    func say(_ line: String) {
        if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { printLine(line) }
    }

    @OptionGroup var logging: LoggingOptions
    @Option(help: "Serve a live page of this station at [HOST:]PORT (HOST defaults to 127.0.0.1, loopback only; docs/live-view.md).") var live: String?
    @Option(help: "Serve Prometheus metrics at http://[HOST:]PORT/metrics (HOST defaults to 127.0.0.1): sessions by outcome, aborts by reason, each client's certified leakage, modes/s (docs/live-view.md).") var metrics: String?

    func run() async throws {
        try logging.bootstrap()
        let station: ServerStationFile?
        do { station = try stationFile.map { try ServerStationFile.load(URL(fileURLWithPath: $0)) } } catch let e as ServerStationFile.ReadError {
            throw CLIError("station file \(e)")
        }
        let admitted = try (station?.admitted ?? []) + allow.map { entry in
            guard let e = AllowListEntry(entry) else { throw CLIError("--allow '\(entry)' is not cert-sha256:HEX or key-sha256:HEX: see `qbench pki fingerprint`") }
            return ServerStationFile.Admitted(client: entry, entry: e)
        }
        let allowList = admitted.map(\.entry)
        guard !allowList.isEmpty else { throw CLIError("no client is admitted: list each client's fingerprint in a station file (--station-file) or give --allow (`qbench pki fingerprint CLIENT.pem`)") }
        let lifetimeBudget = self.lifetimeBudget ?? station?.lifetimeBudgetBitsPerSymbol
        if let b = lifetimeBudget, !(b.isFinite && b >= 0) { throw CLIError("--lifetime-budget \(b) is refused before any light: expected a finite number ≥ 0") }
        let modelFile = try ModelFile.read(from: model.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.defaultModel)
        let calibration = try BenchOpening.store(store)
        let opened = try await site.openBench(bench, as: .server, store: calibration, photons: photons, gain: gain)
        let (credentials, roots) = try site.credentials()
        let (host, port) = try SiteOptions.endpoint(listen)
        let db = try RunDatabase(directory: StationOption.directory(.server))
        let stop = StopRequest()
        let signals = installSignalHandlers(stop)
        defer { _ = signals }
        let pages = try await StationPages.start(live: live, metrics: metrics, station: "server", devices: .server, bench: opened, budget: budget,
                                                 database: db, next: TerminalObserver(enabled: true), announce: say)
        defer { pages.stop() }
        let observer = pages.observer
        var stationEnv = StationEnvironment(bench: opened, store: calibration, database: db, codeVersion: QBenchVersion.withCommit,
                                     arguments: CommandLine.arguments, stop: stop, observer: observer)
        try pauses.apply(to: &stationEnv)
        let env = stationEnv
        var configuration = RunConfiguration(benchFile: try BenchOpening.url(bench).path, modelFile: try model ?? ProjectPaths.defaultModel.path, dataDirectory: "",
                                             images: images, gain: gain, photonsPerMode: photons, blockImages: blockImages, budgetBitsPerMode: budget,
                                             delta: delta, vacuumSlotsPerRow: vacuumSlots)
        configuration.shotsPerBurst = burstShots
        let config = configuration
        try config.validate(model: modelFile)
        let queue = SessionQueue(limit: sessions)
        let server = try SessionServer(
            configuration: SessionServerConfiguration(host: host, port: port, security: .mutualTLS(credentials: credentials, trustRoots: roots, allowList: allowList)),
            onRefusal: { refusal in say("refused a connection: \(refusal)") }
        ) { incoming in
            // One session at a time: the bench is one.
            await queue.serve {
                var settings = ServerSettings(clientIdentity: Self.ledgerIdentity(incoming.peer, admitted: admitted))
                settings.lifetimeBudgetBitsPerSymbol = lifetimeBudget
                say("session with \(incoming.peer)")
                if calibrateLink {
                    do {
                        var plan = LinkCalibrationSession.Plan()
                        plan.gain = gain; plan.photonsPerMode = photons
                        let record = try await LinkCalibrationSession.serve(plan, env: env, client: settings.clientIdentity, channel: incoming.channel)
                        say("link calibration with \(incoming.peer): record \(record.id)")
                        if json { try? printJSON(LinkCalibrationReport(record, station: .server)) }
                    } catch {
                        say("link calibration ended: \(error)")
                    }
                    return
                }
                do {
                    let r: RunResult
                    if let id = await queue.takeResume(resumeId) {
                        r = try await ServerSession.resume(runId: id, model: modelFile, env: env, settings: settings, channel: incoming.channel)
                    } else {
                        r = try await ServerSession.serve(config, model: modelFile, env: env, settings: settings, channel: incoming.channel)
                    }
                    say("session \(r.runId): \(r.aborted ? "ABORTED: \(r.abortReason ?? "")" : r.certified ? "certified" : "not certified"), \(r.images) images, I_w ≤ \(r.weightLeakageUpperBoundBitsPerMode)")
                    pages.metrics?.ended(r)
                    if json { try? printJSON(StationReport(r, station: .server, database: db.url)) }
                } catch let failure as RunFailure {
                    say("session ended: \(failure)")
                    pages.metrics?.ended(failure.status, because: failure)
                    if json { try? printJSON(StationReport(failure.result, station: .server, database: db.url, ended: failure.status)) }
                } catch {
                    say("session ended: \(error)")
                    pages.metrics?.ended(.failed, because: error)
                }
            }
        }
        say("serving on \(host):\(port) (mutual TLS; \(allowList.count) admitted client(s))")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask {
                while !(await queue.isDone), stop.requested == nil { try await Task.sleep(for: .milliseconds(200)) }
                server.shutdown()
            }
            try await group.waitForAll()
        }
    }
}

/// Serves sessions one at a time and counts them.
actor SessionQueue {
    let limit: Int
    private var served = 0
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var resumed = false
    init(limit: Int) { self.limit = limit }

    /// The session to resume, for the first session only.
    func takeResume(_ id: String?) -> String? {
        guard let id, !resumed else { return nil }
        resumed = true
        return id
    }
    var isDone: Bool { limit > 0 && served >= limit && !busy }

    func serve(_ body: @Sendable () async -> Void) async {
        while busy { await withCheckedContinuation { waiting.append($0) } }
        guard limit == 0 || served < limit else { return }
        busy = true
        await body()
        served += 1
        busy = false
        if !waiting.isEmpty { waiting.removeFirst().resume() }
    }
}
