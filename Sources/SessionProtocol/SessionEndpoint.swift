import Foundation

/// Why a session step failed, for the station's journal; each case says what to do next.
public enum SessionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer sent a message this side refused (an Error went back); the session is over.
    case refused(SessionViolation)
    /// This station tried to send something the protocol does not allow now; nothing was sent.
    case misuse(SessionUsageError)
    /// The channel failed (peer lost, timeout, transport).
    case channel(SessionChannelError)

    public var description: String {
        switch self {
        case let .refused(v): "refused the peer's message: \(v)"
        case let .misuse(u): "protocol misuse by this station: \(u)"
        case let .channel(c): "\(c)"
        }
    }
}

/// One side of a session over a channel: every message goes through the state machine both ways,
/// refusals are answered with an Error and recorded, and the transcript is kept. What the stations call.
///
///     let endpoint = SessionEndpoint(side: .server, softwareVersion: v, channel: channel)
///     let hello = try await endpoint.receive(timeout: .seconds(10))   // the client's hello
///     try await endpoint.send(endpoint.hello)
///     try await endpoint.send(.request(sessionID: id, parameters: p))
public actor SessionEndpoint {
    public nonisolated let side: SessionSide
    public let channel: any SessionChannel
    private var machine: SessionStateMachine
    /// Every refusal of a peer's message, in order (for the journal).
    public private(set) var violations: [SessionViolation] = []
    /// Set when the channel failed before the session closed.
    public private(set) var channelFailure: SessionChannelError?

    public init(side: SessionSide, softwareVersion: String, agreedParametersSHA256: [UInt8] = [], channel: any SessionChannel) {
        self.side = side
        self.channel = channel
        self.machine = SessionStateMachine(side: side, softwareVersion: softwareVersion, agreedParametersSHA256: agreedParametersSHA256)
    }

    public var phase: SessionPhase { machine.phase }
    public var outcome: SessionOutcome? { machine.outcome }
    public var transcript: SessionTranscript { machine.transcript }
    public var parameters: SessionParameters? { machine.parameters }
    public var sessionID: String? { machine.sessionID }
    public var firstBlock: Int { machine.firstBlock }
    public var lastVerdict: SessionVerdict? { machine.lastVerdict }
    public var lastCommit: SessionCommit? { machine.lastCommit }
    public var isPaused: Bool { machine.isPaused }
    public var state: SessionStateMachine { machine }
    /// This side's hello.
    public var hello: SessionMessage { machine.hello }

    /// Checks and sends one message.
    public func send(_ message: SessionMessage) async throws(SessionFailure) {
        let envelope: SessionEnvelope
        do { envelope = try machine.send(message) } catch { throw .misuse(error) }
        do { try await channel.send(envelope) } catch {
            channelFailure = channelFailure ?? error
            throw .channel(error)
        }
    }

    /// Sends the commit that is due (server: over the transcript through the verdict; client: the echo).
    @discardableResult
    public func commit() async throws(SessionFailure) -> SessionCommit {
        let message: SessionMessage
        do { message = try machine.makeCommit() } catch { throw .misuse(error) }
        try await send(message)
        guard case let .commit(c) = message else { throw .misuse(SessionUsageError("internal: commit expected", remedy: "report this")) }
        return c
    }

    /// The next accepted message from the peer. A refused message is answered with an Error, recorded
    /// in `violations` and thrown as `.refused`; a lost peer is thrown as `.channel(.peerLost)`.
    public func receive(timeout: Duration?) async throws(SessionFailure) -> SessionMessage {
        let envelope: SessionEnvelope
        do { envelope = try await channel.receive(timeout: timeout) } catch {
            if case .timedOut = error {} else { channelFailure = channelFailure ?? error }
            throw .channel(error)
        }
        switch machine.receive(envelope) {
        case let .accepted(message):
            return message
        case let .refused(violation, reply):
            violations.append(violation)
            if let reply { try? await channel.send(reply) }
            throw .refused(violation)
        }
    }

    /// Closes the channel (after End, Abort or a failure).
    public func close() async { await channel.close() }
}
