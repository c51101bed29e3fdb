import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import SessionProtocol

/// Both stations in one process (`qbench run`, tests): the server's and the client's environment
/// share the bench (each station touching only its own roles) and, by default, the calibration
/// store; each keeps its own run database.
public struct RunEnvironment: Sendable {
    public let bench: Bench
    /// The client station's own bench, when it is not `bench`: the client's site of a twin split at
    /// the fibre (`qbench bench run --split`). Nil: both stations use `bench`.
    public var clientBench: Bench?
    public let store: CalibrationStore
    /// The server station's run database.
    public let database: RunDatabase
    /// The client station's run database (its images' results; nothing of the server's).
    public let clientDatabase: RunDatabase
    public let codeVersion: String
    public let arguments: [String]
    public let stop: StopRequest
    public let observer: any RunObserver
    /// Shots per trigger burst (memory per burst ∝ this × slots per shot).
    /// (The commands default to 32, fewer round trips between the stations; the tests' statistics
    /// are pinned at 8.)
    public var chunkShots = 8
    /// Back-to-back reference shots per client shot, interleaved in every block and layer.
    public var referenceFraction = 0.3
    /// How long to wait for a tripped interlock to clear before giving up.
    public var interlockTimeout: Duration = .seconds(60)
    /// How long to wait for an instrument found gone before a burst to be reconnected.
    public var reconnectTimeout: Duration = .seconds(60)
    /// The secret basis: always `.secret` outside tests.
    public var basis: BasisPolicy = .secret
    /// Sees every burst of returned light the server measured through the client (its own data):
    /// how a curious server's analysis is measured on the twin (`TwinValidation.CuriousServer`).
    public var returnedLightTap: (any ReturnedLightTap)?
    /// The client's data-leakage budget, bit per symbol.
    public var dataLeakageBudgetBits = 0.01
    /// The server's lifetime budget of weight leakage per client, bit per weight symbol (nil: unlimited).
    public var lifetimeBudgetBitsPerSymbol: Double?

    public init(bench: Bench, store: CalibrationStore, database: RunDatabase, clientDatabase: RunDatabase, codeVersion: String,
                arguments: [String], stop: StopRequest = StopRequest(), observer: any RunObserver = SilentObserver()) {
        self.bench = bench; self.store = store; self.database = database; self.clientDatabase = clientDatabase
        self.codeVersion = codeVersion; self.arguments = arguments; self.stop = stop; self.observer = observer
    }

    func station(_ database: RunDatabase, observer: any RunObserver, bench: Bench? = nil) -> StationEnvironment {
        var e = StationEnvironment(bench: bench ?? self.bench, store: store, database: database, codeVersion: codeVersion, arguments: arguments,
                                   stop: stop, observer: observer)
        e.chunkShots = chunkShots
        e.interlockTimeout = interlockTimeout
        e.reconnectTimeout = reconnectTimeout
        return e
    }

    var serverSettings: ServerSettings {
        ServerSettings(referenceFraction: referenceFraction, basis: basis, returnedLightTap: returnedLightTap,
                               lifetimeBudgetBitsPerSymbol: lifetimeBudgetBitsPerSymbol)
    }

    func clientSettings(_ configuration: RunConfiguration) -> ClientSettings {
        ClientSettings(dataLeakageBudgetBits: dataLeakageBudgetBits, dataDirectory: configuration.dataDirectory, behaviour: configuration.client)
    }
}

public enum RunError: Error, CustomStringConvertible {
    case operatingPoint(String)
    case stopped(String)
    case interlock(String)
    case notResumable(String)
    case invalidOption(name: String, value: String, expected: String)
    case saturated(String)
    case check(String)
    /// The peer station went away, aborted, or broke the protocol.
    case peer(String)
    /// The client refused the offered session (its reason).
    case denied(String)
    /// The operating point would leak more of the client's data than its budget allows.
    case privacy(String)
    /// The client's accumulated weight leakage would exceed the server's lifetime budget.
    case ledger(String)

    /// How a session continues from its last commit, in either form of running the stations.
    static let resumeAdvice = "continue from the last commit with `qbench run --resume <run id>` (both stations in one process) or `qbench serve --resume <run id>` and `qbench client` again (two stations)"

    public var description: String {
        switch self {
        case let .operatingPoint(s): s
        case let .stopped(why): "stopped: \(why); this station's instruments are in their safe state; \(Self.resumeAdvice)"
        case let .interlock(s): s
        case let .notResumable(s): s
        case let .invalidOption(name, value, expected):
            value.isEmpty ? "\(name) is refused before any light: \(expected)" : "\(name) \(value) is refused before any light: expected \(expected)"
        case let .saturated(s): "the server's receiver is saturated: \(s); the session stops (a clipped receiver hides excess noise). Lower the LO power or the digitiser gain, recalibrate `homodyne`, and start a new session"
        case let .check(s): s
        case let .peer(s): "the other station: \(s); this station's instruments are in their safe state; \(Self.resumeAdvice)"
        case let .denied(s): "the client refused the session before any light: \(s)"
        case let .privacy(s): s
        case let .ledger(s): "refused before any light: \(s)"
        }
    }
}

/// A run that ended early: the run id, how it ended, why, and what it had measured.
public struct RunFailure: Error, CustomStringConvertible {
    public let runId: String
    public let status: RunStatus
    public let underlying: Error
    public let result: RunResult
    public var description: String { "run \(runId) \(status.rawValue): \(underlying)" }
}

/// The secure-inference protocol with both stations in one process: a server station and a client
/// station, each with its own records, talking only through the session protocol over an
/// in-process channel (the same messages, state machines and transcripts as between two sites).
/// The result joins the server's verdict with the client's accuracy.
public enum ProtocolRun {
    /// Starts a new session and runs it to the end (or to an abort, a stop, a refusal or an error).
    public static func start(_ configuration: RunConfiguration, model: ModelFile, testSet: MNISTSet, env: RunEnvironment) async throws -> RunResult {
        try configuration.validate(model: model, testImages: testSet.count)
        let server = try await ServerStation.create(configuration, model: model, env: env.station(env.database, observer: env.observer),
                                                    settings: env.serverSettings)
        return try await pair(server, resuming: false, configuration: configuration, testSet: testSet, env: env)
    }

    /// Continues an interrupted, failed or killed session from the last commit of both stations.
    public static func resume(runId: String, model: ModelFile, testSet: MNISTSet, env: RunEnvironment) async throws -> RunResult {
        let server = try ServerStation.reopen(runId: runId, model: model, env: env.station(env.database, observer: env.observer), settings: env.serverSettings)
        var configuration = server.configuration
        if let client = try? env.clientDatabase.run(runId) { configuration.dataDirectory = client.configuration.dataDirectory }
        return try await pair(server, resuming: true, configuration: configuration, testSet: testSet, env: env)
    }

    static func pair(_ server: ServerStation, resuming: Bool, configuration: RunConfiguration, testSet: MNISTSet, env: RunEnvironment) async throws -> RunResult {
        let channels = InProcessSessionChannel.pair()
        let serverEnd = SessionEndpoint(side: .server, softwareVersion: env.codeVersion, channel: channels.server)
        let clientEnd = SessionEndpoint(side: .client, softwareVersion: env.codeVersion, channel: channels.client)
        let client = ClientStation(env: env.station(env.clientDatabase, observer: ClientStepObserver(env.observer), bench: env.clientBench), testSet: testSet,
                                   settings: env.clientSettings(configuration))
        async let clientOutcome = client.join(clientEnd)
        let s = await server.serve(serverEnd, resuming: resuming)
        let c = await clientOutcome
        var result = s.result
        result.accuracy = c.accuracy
        // A cheating client's abort is the server's verdict, not a failure of the run.
        if s.status == .aborted, s.failure == nil { return result }
        if s.status == .completed, c.status == .completed { return result }
        // The run's status is the worse of the two; the failure is that side's own (a device
        // fault at the client reaches the server only as "the client aborted").
        let order: [RunStatus] = [.failed, .interrupted, .aborted, .running, .completed]
        let clientWorse = (order.firstIndex(of: c.status) ?? 0) < (order.firstIndex(of: s.status) ?? 0)
        let status = clientWorse ? c.status : s.status
        let underlying: Error = (clientWorse ? c.failure ?? s.failure : s.failure ?? c.failure) ?? RunError.check("the client ended \(c.status.rawValue)")
        throw RunFailure(runId: s.runId, status: status, underlying: underlying, result: result)
    }
}

/// The client's view in the shared terminal: its steps only (progress and blocks are the server's).
struct ClientStepObserver: RunObserver {
    let base: any RunObserver
    init(_ base: any RunObserver) { self.base = base }
    func step(_ text: String) { base.step(text) }
}
