import BenchKit
import BenchSim
import Calibrate
import Foundation
import SecureInference
import Sequencer
import SessionProtocol
import SessionTransport
import Testing
import X509

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let simBench = repositoryRoot.appendingPathComponent("Devices/benches/sim.yaml")

func scratch() -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-stations-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

/// The twin calibrated once, the model, the images, and a lab PKI with a server, an admitted
/// client and a client nobody admitted.
actor Fixture {
    static let shared = Fixture()
    let model: ModelFile
    let testSet: MNISTSet
    let ca: LabCertificateAuthority
    let server: StationCredentials
    let client: StationCredentials
    let stranger: StationCredentials
    private var store: CalibrationStore?

    init() {
        model = try! ModelFile.read(from: repositoryRoot.appendingPathComponent("Models/mnist-784-784-10.qbm"))
        testSet = try! MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 100)
        ca = try! LabCertificateAuthority.create()
        server = try! ca.issue(name: "server-site", role: .server)
        client = try! ca.issue(name: "client-site", role: .client)
        stranger = try! ca.issue(name: "unlisted-client", role: .client)
    }

    func calibratedStore() async throws -> CalibrationStore {
        if let store { return store }
        let s = CalibrationStore(root: scratch().appendingPathComponent("Calibration"), key: .generate())
        var settings = CalibrationSettings()
        settings.referenceShots = 64
        _ = try await CalibrationRunner.all(CalibrationContext(bench: try await SimulatedBench.open(simBench), store: s, settings: settings, codeVersion: "test"))
        store = s
        return s
    }
}

func configuration(images: Int, block: Int) -> RunConfiguration {
    RunConfiguration(benchFile: simBench.path, modelFile: "Models/mnist-784-784-10.qbm", dataDirectory: "Data/mnist", images: images, blockImages: block)
}

/// The two stations' environments on one twin (each station touches its own roles only); the
/// channel between them is the real gRPC transport with mutual TLS on loopback.
struct Sites {
    let bench: Bench
    let engine: SimulationEngine
    let server: StationEnvironment
    let client: StationEnvironment

    static func make(serverDb: RunDatabase? = nil, clientDb: RunDatabase? = nil) async throws -> Sites {
        let bench = try await SimulatedBench.open(simBench)
        let store = try await Fixture.shared.calibratedStore()
        let s = StationEnvironment(bench: bench, store: store, database: try serverDb ?? RunDatabase(directory: scratch()), codeVersion: "test", arguments: [])
        let c = StationEnvironment(bench: bench, store: store, database: try clientDb ?? RunDatabase(directory: scratch()), codeVersion: "test", arguments: [])
        return Sites(bench: bench, engine: try await SimulatedBench.engine(of: bench), server: s, client: c)
    }
}

/// A channel that dies (as a killed peer's would) after `sends` messages of this side.
final class DyingChannel: SessionChannel, @unchecked Sendable {
    let base: any SessionChannel
    let lock = NSLock()
    var left: Int
    init(_ base: any SessionChannel, sends: Int) { self.base = base; left = sends }
    func send(_ envelope: SessionEnvelope) async throws(SessionChannelError) {
        let dead = lock.withLock { left -= 1; return left < 0 }
        if dead { await base.close(); throw .peerLost("killed") }
        try await base.send(envelope)
    }
    func receive(timeout: Duration?) async throws(SessionChannelError) -> SessionEnvelope { try await base.receive(timeout: timeout) }
    func close() async { await base.close() }
}

/// Runs one server session per admitted connection (`serve` or `resume`) and one client session.
func session(_ sites: Sites, client credentials: StationCredentials, images: Int, block: Int, resume runId: String? = nil,
             clientSettings: ClientSettings = ClientSettings(), clientSends: Int? = nil, serverSends: Int? = nil, expectServer: Bool = true)
    async throws -> (server: Result<RunResult, Error>?, client: Result<RunResult, Error>, refusals: [PeerRefusal]) {
    let f = Fixture.shared
    let box = ResultBox()
    let allow = [AllowListEntry.entries(for: f.client.certificate)[0]]
    let serverConfig = SessionServerConfiguration(host: "127.0.0.1", port: 0, security: .mutualTLS(credentials: f.server, trustRoots: [f.ca.certificate], allowList: allow))
    let listener = try SessionServer(configuration: serverConfig, onRefusal: { r in Task { await box.refused(r) } }) { incoming in
        let channel: any SessionChannel = serverSends.map { DyingChannel(incoming.channel, sends: $0) } ?? incoming.channel
        let identity = incoming.peer.certificateSHA256.map { "cert-sha256:\($0)" } ?? "unknown"
        let settings = ServerSettings(basis: .deterministicForTests(seed: 3), clientIdentity: identity)
        let outcome: Result<RunResult, Error>
        do {
            if let runId {
                outcome = .success(try await ServerSession.resume(runId: runId, model: f.model, env: sites.server, settings: settings, channel: channel))
            } else {
                outcome = .success(try await ServerSession.serve(configuration(images: images, block: block), model: f.model, env: sites.server,
                                                                 settings: settings, channel: channel))
            }
        } catch { outcome = .failure(error) }
        await box.served(outcome)
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await listener.run() }
        let port = try await listener.listeningPort()
        let clientConfig = SessionClientConfiguration(host: "127.0.0.1", port: port,
                                                      security: .mutualTLS(credentials: credentials, trustRoots: [f.ca.certificate], serverAllowList: [.commonName("server-site")]))
        let clientResult: Result<RunResult, Error>
        do {
            clientResult = .success(try await SessionClient.withSession(clientConfig) { channel in
                let c: any SessionChannel = clientSends.map { DyingChannel(channel, sends: $0) } ?? channel
                return try await ClientSession.join(testSet: f.testSet, env: sites.client, settings: clientSettings, channel: c)
            })
        } catch { clientResult = .failure(error) }
        let server = await box.waitForServer(within: expectServer ? .seconds(30) : .seconds(2))
        listener.shutdown()
        group.cancelAll()
        return (server, clientResult, await box.refusals)
    }
}

actor ResultBox {
    var server: Result<RunResult, Error>?
    var refusals: [PeerRefusal] = []
    func served(_ r: Result<RunResult, Error>) { server = r }
    func refused(_ r: PeerRefusal) { refusals.append(r) }
    func waitForServer(within limit: Duration) async -> Result<RunResult, Error>? {
        let deadline = ContinuousClock.now + limit
        while server == nil, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return server
    }
}

@Suite("Stations over mutual TLS", .serialized)
struct StationsOverTLSTests {
    /// The same session through the gRPC transport as through the in-process channel: the same
    /// numbers, to the last digit (same twin seed, same test basis).
    @Test func sessionOverTLSEqualsTheInProcessRun() async throws {
        let f = Fixture.shared
        let sites = try await Sites.make()
        let (server, client, _) = try await session(sites, client: f.client, images: 20, block: 10)
        let s = try #require(try server?.get()), c = try client.get()
        let local = try await Sites.make()
        var env = RunEnvironment(bench: local.bench, store: local.server.store, database: local.server.database, clientDatabase: local.client.database,
                                 codeVersion: "test", arguments: [])
        env.basis = .deterministicForTests(seed: 3)
        let inProcess = try await ProtocolRun.start(configuration(images: 20, block: 10), model: f.model, testSet: f.testSet, env: env)
        #expect(c.accuracy == inProcess.accuracy && s.accuracy == nil)
        #expect(s.transmittanceEstimate == inProcess.transmittanceEstimate && s.excessNoiseEstimate == inProcess.excessNoiseEstimate)
        #expect(s.modes == inProcess.modes && s.certified == inProcess.certified)
        #expect(c.excessNoiseEstimate == s.excessNoiseEstimate)
        // The server records the client's certificate with the session and charges it.
        let identity = "cert-sha256:\(f.client.certificate.sha256Fingerprint)"
        #expect(try sites.server.database.journalEntries(s.runId).contains { $0.step == "ledger" && ($0.detail ?? "").contains(identity) })
        #expect(try sites.server.database.account(identity).sessions == 1)
    }

    /// A client whose certificate is not on the allow-list never reaches a station: no session, no light.
    @Test func unlistedClientIsRefusedBeforeAnyLight() async throws {
        let sites = try await Sites.make()
        let (server, client, refusals) = try await session(sites, client: Fixture.shared.stranger, images: 10, block: 10, expectServer: false)
        #expect(server == nil)
        #expect(throws: (any Error).self) { try client.get() }
        #expect(!refusals.isEmpty)
        #expect(sites.engine.shotsFired == 0)
        #expect(try sites.server.database.runs().isEmpty)
    }

    /// The client's privacy budget refuses the offered operating point; the server records why.
    @Test func clientDeniesAnOperatingPointAboveItsBudget() async throws {
        let sites = try await Sites.make()
        let (server, client, _) = try await session(sites, client: Fixture.shared.client, images: 10, block: 10,
                                                    clientSettings: ClientSettings(dataLeakageBudgetBits: 0.005))
        guard case let .failure(failure as RunFailure)? = server else { Issue.record("the server served: \(String(describing: server))"); return }
        #expect("\(failure.underlying)".contains("above its budget"))
        #expect(throws: (any Error).self) { try client.get() }
        #expect(sites.engine.shotsFired == 0)
    }

    /// The client dies mid-block (its channel goes away): the server goes safe and records the
    /// session as interrupted; a new connection resumes it from the last commit to the same
    /// result as an uninterrupted session.
    @Test func clientLostMidBlockResumesFromTheLastCommit() async throws {
        let f = Fixture.shared
        let whole = try await session(try await Sites.make(), client: f.client, images: 30, block: 10)
        let reference = try #require(try whole.server?.get())
        let serverDb = try RunDatabase(directory: scratch()), clientDb = try RunDatabase(directory: scratch())
        let first = try await Sites.make(serverDb: serverDb, clientDb: clientDb)
        // Client messages per block: 2 layers × (2 bursts × 2 + ...) — dying after 14 sends is inside block 1.
        let broken = try await session(first, client: f.client, images: 30, block: 10, clientSends: 14)
        guard case let .failure(failure as RunFailure)? = broken.server else { Issue.record("the server did not notice: \(String(describing: broken.server))"); return }
        #expect(failure.status == .interrupted)
        #expect(try await first.bench.laser().isEmitting() == false)
        #expect(try serverDb.run(failure.runId).status == .interrupted)
        let done = try serverDb.blocks(failure.runId).count
        #expect(done >= 1 && done < 3)
        let second = try await Sites.make(serverDb: serverDb, clientDb: clientDb)
        let resumed = try await session(second, client: f.client, images: 30, block: 10, resume: failure.runId)
        let r = try #require(try resumed.server?.get()), c = try resumed.client.get()
        #expect(r.images == 30 && c.images == 30)
        #expect(r.excessNoiseEstimate == reference.excessNoiseEstimate && r.modes == reference.modes)
        #expect(c.accuracy == (try whole.client.get()).accuracy)
    }

    /// The server dies mid-block: the client stops, goes safe and says the peer is lost; its
    /// record is interrupted at its last commit.
    @Test func serverLostMidBlockLeavesTheClientSafeAndInterrupted() async throws {
        let sites = try await Sites.make()
        let broken = try await session(sites, client: Fixture.shared.client, images: 30, block: 10, serverSends: 20)
        guard case let .failure(failure as RunFailure) = broken.client else { Issue.record("the client did not notice: \(broken.client)"); return }
        #expect(failure.status == .interrupted)
        #expect("\(failure.underlying)".contains("peer lost") || "\(failure.underlying)".contains("closed"))
        let journal = try sites.client.database.journalEntries(failure.runId)
        #expect(journal.contains { $0.kind == .safeState && $0.step == "client.processor: safe" && $0.detail == "ok" })
        #expect(try sites.client.database.run(failure.runId).status == .interrupted)
        #expect(try sites.client.database.blocks(failure.runId).count >= 1)
    }
}
