import Foundation
import SecureInference
import SessionProtocol

/// The server station's side of one session over any channel (the gRPC transport between two
/// sites, or the in-process channel): what `qbench serve` runs for every client it admits.
public enum ServerSession {
    /// Records a new session in the server's database and runs it with the client at the other
    /// end of `channel`. Returns the server's result (no accuracy: that is the client's).
    public static func serve(_ configuration: RunConfiguration, model: ModelFile, env: StationEnvironment, settings: ServerSettings,
                             channel: any SessionChannel) async throws -> RunResult {
        let station = try await ServerStation.create(configuration, model: model, env: env, settings: settings)
        return try await run(station, resuming: false, env: env, channel: channel)
    }

    /// Continues an interrupted session from its last commit with the client at the other end of `channel`.
    public static func resume(runId: String, model: ModelFile, env: StationEnvironment, settings: ServerSettings,
                              channel: any SessionChannel) async throws -> RunResult {
        let station = try ServerStation.reopen(runId: runId, model: model, env: env, settings: settings)
        return try await run(station, resuming: true, env: env, channel: channel)
    }

    static func run(_ station: ServerStation, resuming: Bool, env: StationEnvironment, channel: any SessionChannel) async throws -> RunResult {
        let endpoint = SessionEndpoint(side: .server, softwareVersion: env.codeVersion, channel: channel)
        let outcome = await station.serve(endpoint, resuming: resuming)
        if outcome.status == .completed || (outcome.status == .aborted && outcome.failure == nil) { return outcome.result }
        throw RunFailure(runId: outcome.runId, status: outcome.status, underlying: outcome.failure ?? RunError.check("ended \(outcome.status.rawValue)"),
                         result: outcome.result)
    }
}

/// The client station's side of one session (new or resumed: the server's request says which):
/// what `qbench client` runs.
public enum ClientSession {
    /// The predicted class of each image of a session so far, from the client's own records (its
    /// latest checkpoint; nothing of it ever travels to the server).
    public static func predictions(runId: String, database: RunDatabase) throws -> [Int] {
        let saved = try database.checkpoints(runId).compactMap { try? RunDatabase.decoder.decode(ClientCheckpoint.self, from: $0) }
        return (saved.max { $0.imagesDone < $1.imagesDone }?.predictions ?? []).map(Int.init)
    }

    /// Takes part in the session the server at the other end of `channel` offers, with the images
    /// of `testSet`. Returns the client's result: its accuracy beside the server's last verdict.
    public static func join(testSet: MNISTSet, env: StationEnvironment, settings: ClientSettings, channel: any SessionChannel) async throws -> RunResult {
        let station = ClientStation(env: env, testSet: testSet, settings: settings)
        let endpoint = SessionEndpoint(side: .client, softwareVersion: env.codeVersion, channel: channel)
        let outcome = await station.join(endpoint)
        let result = station.result(status: outcome.status)
        if outcome.status == .completed || (outcome.status == .aborted && outcome.failure == nil) { return result }
        throw RunFailure(runId: outcome.runId, status: outcome.status, underlying: outcome.failure ?? RunError.check("ended \(outcome.status.rawValue)"),
                         result: result)
    }
}
