import Foundation
import SwiftProtobuf

/// How a session ended.
public enum SessionOutcome: Sendable, Equatable {
    /// Every block committed and End exchanged.
    case completed(summary: String)
    /// The client denied the proposed parameters.
    case denied(reason: String)
    /// A side sent Abort, or the server's verdict was abort (then `by` is the server).
    case aborted(by: SessionSide, reason: String)
    /// A side refused a message (sent Error); `by` is the refusing side.
    case failed(by: SessionSide, code: SessionErrorCode, message: String)
}

/// Where a session stands: whose message comes next, and which.
public enum SessionPhase: Sendable, Equatable, CustomStringConvertible {
    case clientHello, serverHello, request, answer
    case layerReady(block: Int, layer: Int)
    case armed(block: Int, layer: Int, burst: Int)
    case fired(block: Int, layer: Int, burst: Int)
    case measured(block: Int, layer: Int, burst: Int)
    case acquired(block: Int, layer: Int, burst: Int)
    case verdict(block: Int)
    case serverCommit(block: Int)
    case clientCommit(block: Int)
    case end, endReply
    case closed(SessionOutcome)

    /// The side whose protocol message comes next (nil once closed).
    public var sender: SessionSide? {
        switch self {
        case .clientHello, .answer, .armed, .measured, .clientCommit, .endReply: .client
        case .serverHello, .request, .layerReady, .fired, .acquired, .verdict, .serverCommit, .end: .server
        case .closed: nil
        }
    }

    /// What comes next, in words.
    public var expected: String {
        switch self {
        case .clientHello: "the client's hello"
        case .serverHello: "the server's hello"
        case .request: "the server's session request"
        case .answer: "the client's accept or deny"
        case let .layerReady(b, l): "layerReady(block \(b), layer \(l))"
        case let .armed(b, l, k): "clientArmed(block \(b), layer \(l), burst \(k))"
        case let .fired(b, l, k): "fired(block \(b), layer \(l), burst \(k))"
        case let .measured(b, l, k): "clientMeasured(block \(b), layer \(l), burst \(k))"
        case let .acquired(b, l, k): "returnedLightAcquired(block \(b), layer \(l), burst \(k))"
        case let .verdict(b): "the server's verdict for block \(b)"
        case let .serverCommit(b): "the server's commit of block \(b)"
        case let .clientCommit(b): "the client's commit of block \(b)"
        case .end: "the server's end"
        case .endReply: "the client's end"
        case let .closed(outcome): "nothing (session closed: \(outcome))"
        }
    }

    public var description: String { expected }

    /// Light may flow (pause and resume are allowed) from the first layer to the end.
    var isRunning: Bool {
        switch self {
        case .clientHello, .serverHello, .request, .answer, .closed: false
        default: true
        }
    }
}

/// A message from the peer that this side refused; an Error went back and the session is over.
public struct SessionViolation: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: SessionErrorCode
    public var message: String
    public var remedy: String
    /// The refused message's kind, when it could be decoded.
    public var received: String?

    public init(_ code: SessionErrorCode, _ message: String, remedy: String, received: String? = nil) {
        self.code = code
        self.message = message
        self.remedy = remedy
        self.received = received
    }

    public var description: String { "\(code): \(message) — \(remedy)" }
}

/// This side's own code tried to send something the protocol does not allow now; nothing was sent.
public struct SessionUsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var remedy: String
    public init(_ message: String, remedy: String) {
        self.message = message
        self.remedy = remedy
    }
    public var description: String { "\(message) — \(remedy)" }
}

/// What became of one received message.
public enum SessionReceipt: Sendable, Equatable {
    /// In order and well formed: act on it.
    case accepted(SessionMessage)
    /// Refused: journal the violation and send `reply` (an Error) when there is one. The session is over.
    case refused(SessionViolation, reply: SessionEnvelope?)
}

/// One side's view of a session: validates every message sent and received against the protocol
/// (order, sequence numbers, fields), keeps the transcript, and never traps on what a peer sends.
/// Pure: no I/O, no clock. `SessionEndpoint` drives it over a `SessionChannel`.
public struct SessionStateMachine: Sendable {
    public let side: SessionSide
    public let softwareVersion: String
    /// SHA-256 of parameters agreed out of band (empty: none); carried in this side's hello.
    public let agreedParametersSHA256: [UInt8]

    public private(set) var phase: SessionPhase = .clientHello
    public private(set) var transcript = SessionTranscript()
    public private(set) var clientHello: SessionHello?
    public private(set) var serverHello: SessionHello?
    public private(set) var sessionID: String?
    public private(set) var parameters: SessionParameters?
    /// The first block of this connection (0, or the block after the last commit on a resumed session).
    public private(set) var firstBlock = 0
    /// Sides that have paused (interlock) and not yet resumed: no light while non-empty.
    public private(set) var pausedBy: Set<SessionSide> = []
    public private(set) var lastVerdict: SessionVerdict?
    /// The last commit both sides agreed on: the resume point.
    public private(set) var lastCommit: SessionCommit?

    private var pendingCommit: SessionCommit?
    private var endSummary = ""
    private var verdictServerMessages: UInt64 = 0
    private var nextSendSequence: UInt64 = 0
    private var nextReceiveSequence: UInt64 = 0

    public init(side: SessionSide, softwareVersion: String, agreedParametersSHA256: [UInt8] = []) {
        self.side = side
        self.softwareVersion = softwareVersion
        self.agreedParametersSHA256 = agreedParametersSHA256
    }

    public var isClosed: Bool { if case .closed = phase { true } else { false } }
    public var outcome: SessionOutcome? { if case let .closed(o) = phase { o } else { nil } }
    public var isPaused: Bool { !pausedBy.isEmpty }

    /// This side's hello, ready to send.
    public var hello: SessionMessage { .hello(softwareVersion: softwareVersion, parametersSHA256: agreedParametersSHA256) }

    // MARK: Sending

    /// Validates `message` as this side's next message, numbers it and adds it to the transcript.
    /// Send the returned envelope. Throws (and changes nothing) when the protocol does not allow it now.
    public mutating func send(_ message: SessionMessage) throws(SessionUsageError) -> SessionEnvelope {
        if case let .closed(outcome) = phase {
            throw SessionUsageError("cannot send \(message.kind): the session is closed (\(outcome))", remedy: "start a new session")
        }
        var envelope = SessionEnvelope()
        envelope.sequence = nextSendSequence
        envelope.body = message
        var next = self
        do {
            try next.apply(envelope, message, from: side, local: true)
        } catch {
            throw SessionUsageError("cannot send \(message.kind) now: \(error.message)", remedy: error.remedy)
        }
        next.nextSendSequence += 1
        self = next
        return envelope
    }

    /// The commit this side must send now (server: over the transcript through the verdict; client:
    /// the server's commit, checked against its own transcript on receipt).
    public func makeCommit() throws(SessionUsageError) -> SessionMessage {
        switch phase {
        case let .serverCommit(block) where side == .server:
            let hash = transcript.hash(clientMessages: transcript.clientMessages, serverMessages: verdictServerMessages) ?? []
            return .commit(.with {
                $0.block = UInt32(block)
                $0.transcriptSha256 = Data(hash)
                $0.clientMessages = transcript.clientMessages
                $0.serverMessages = verdictServerMessages
            })
        case .clientCommit where side == .client:
            if let pendingCommit { return .commit(pendingCommit) }
        default: break
        }
        throw SessionUsageError("no commit is due from the \(side) now (next: \(phase.expected))", remedy: "commit right after a verdict")
    }

    // MARK: Receiving

    /// Decodes and checks bytes from the peer (for transports that deliver raw frames).
    public mutating func receive(bytes: [UInt8]) -> SessionReceipt {
        let envelope: SessionEnvelope
        do {
            envelope = try SessionEnvelope(serializedBytes: bytes)
        } catch {
            return refuse(SessionViolation(.malformed, "\(bytes.count) bytes that are not a session envelope (\(error))",
                                           remedy: "check that the peer speaks qbench session protocol v\(sessionProtocolVersion)"), incoming: nil)
        }
        return receive(envelope)
    }

    /// Checks one envelope from the peer. Never traps; a refusal closes the session with an Error reply.
    public mutating func receive(_ envelope: SessionEnvelope) -> SessionReceipt {
        guard let message = envelope.body else {
            return refuse(SessionViolation(.malformed, "envelope \(envelope.sequence) has no message",
                                           remedy: "the peer must set exactly one message per envelope"), incoming: nil)
        }
        if case let .closed(outcome) = phase {
            return refuse(SessionViolation(.unexpectedMessage, "\(message.kind) after the session closed (\(outcome))",
                                           remedy: "start a new session", received: message.kind), incoming: message)
        }
        guard envelope.sequence == nextReceiveSequence else {
            let what = envelope.sequence < nextReceiveSequence ? "duplicated or replayed" : "out of order (messages missing)"
            return refuse(SessionViolation(.sequence, "\(message.kind) with sequence \(envelope.sequence), expected \(nextReceiveSequence): \(what)",
                                           remedy: "start a new session; check the channel for replays", received: message.kind), incoming: message)
        }
        var next = self
        do {
            try next.apply(envelope, message, from: side.peer, local: false)
        } catch {
            var violation = error
            violation.received = message.kind
            return refuse(violation, incoming: message)
        }
        next.nextReceiveSequence += 1
        self = next
        return .accepted(message)
    }

    private mutating func refuse(_ violation: SessionViolation, incoming: SessionMessage?) -> SessionReceipt {
        // Never answer an Error with an Error once closed (no ping-pong between two refusing sides).
        if isClosed, case .error? = incoming { return .refused(violation, reply: nil) }
        var envelope = SessionEnvelope()
        envelope.sequence = nextSendSequence
        envelope.body = .error(violation.code, message: violation.message, remedy: violation.remedy)
        nextSendSequence += 1
        transcript.append(envelope, from: side)
        if !isClosed { phase = .closed(.failed(by: side, code: violation.code, message: violation.message)) }
        return .refused(violation, reply: envelope)
    }

    // MARK: The protocol

    private func unexpected(_ message: SessionMessage, from sender: SessionSide) -> SessionViolation {
        SessionViolation(.unexpectedMessage, "\(message.kind) from the \(sender) while expecting \(phase.expected)",
                         remedy: "both stations must run the same protocol version and follow the block plan; start a new session")
    }

    private func invalid(_ text: String) -> SessionViolation {
        SessionViolation(.invalidValue, text, remedy: "fix the sending station; start a new session")
    }

    /// Checks `message` from `sender` against the phase and applies it (called on a copy: all or nothing).
    /// Longest free text (reasons, messages, summaries) a message may carry; journals store them.
    public static let maximumTextBytes = 4096

    private mutating func apply(_ envelope: SessionEnvelope, _ message: SessionMessage, from sender: SessionSide, local: Bool) throws(SessionViolation) {
        let texts: [String]
        switch message {
        case let .deny(m): texts = [m.reason]
        case let .verdict(m): texts = [m.reason]
        case let .pause(m): texts = [m.reason]
        case let .abort(m): texts = [m.reason]
        case let .end(m): texts = [m.summary]
        case let .error(m): texts = [m.message, m.remedy]
        default: texts = []
        }
        if texts.contains(where: { $0.utf8.count > Self.maximumTextBytes }) {
            throw invalid("\(message.kind) carries text longer than \(Self.maximumTextBytes) bytes")
        }
        switch message {
        case let .abort(abort):
            phase = .closed(.aborted(by: sender, reason: abort.reason))
        case let .error(error):
            phase = .closed(.failed(by: sender, code: error.code, message: error.message))
        case .pause:
            guard phase.isRunning else { throw unexpected(message, from: sender) }
            guard !pausedBy.contains(sender) else {
                throw SessionViolation(.unexpectedMessage, "the \(sender) paused twice", remedy: "resume before pausing again")
            }
            pausedBy.insert(sender)
        case .resume:
            guard pausedBy.contains(sender) else {
                throw SessionViolation(.unexpectedMessage, "resume from the \(sender), which has not paused", remedy: "only the side that paused resumes")
            }
            pausedBy.remove(sender)
        default:
            guard phase.sender == sender else { throw unexpected(message, from: sender) }
            try applyFlow(message, from: sender, local: local)
        }
        transcript.append(envelope, from: sender)
        if case .verdict = message { verdictServerMessages = transcript.serverMessages }
    }

    private mutating func applyFlow(_ message: SessionMessage, from sender: SessionSide, local: Bool) throws(SessionViolation) {
        let lightMessage: Bool
        switch message {
        case .layerReady, .clientArmed, .fired: lightMessage = true
        default: lightMessage = false
        }
        if local, lightMessage, isPaused {
            throw SessionViolation(.unexpectedMessage, "paused by the \(pausedBy.map(\.rawValue).sorted().joined(separator: " and "))",
                                   remedy: "wait for resume before arming or firing")
        }
        switch (phase, message) {
        case let (.clientHello, .hello(hello)), let (.serverHello, .hello(hello)):
            guard hello.protocolVersion == sessionProtocolVersion else {
                throw SessionViolation(.versionMismatch, "the \(sender) speaks session protocol v\(hello.protocolVersion), this side v\(sessionProtocolVersion)",
                                       remedy: "install the same qbench release on both stations")
            }
            guard hello.parametersSha256.isEmpty || hello.parametersSha256.count == 32 else {
                throw invalid("parameters hash of \(hello.parametersSha256.count) bytes, need 0 or 32")
            }
            guard hello.softwareVersion.utf8.count <= 256 else { throw invalid("software version longer than 256 bytes") }
            if case .clientHello = phase {
                clientHello = hello
                phase = .serverHello
            } else {
                if let c = clientHello?.parametersSha256, !c.isEmpty, !hello.parametersSha256.isEmpty, c != hello.parametersSha256 {
                    throw SessionViolation(.parametersMismatch, "the stations hold different agreed parameters (hashes differ)",
                                           remedy: "give both stations the same session parameters")
                }
                serverHello = hello
                phase = .request
            }
        case let (.request, .request(request)):
            guard !request.sessionID.isEmpty, request.sessionID.utf8.count <= 128 else { throw invalid("session id must be 1...128 bytes") }
            guard request.hasParameters else { throw invalid("request without parameters") }
            if let problem = request.parameters.problem { throw invalid("parameters: \(problem)") }
            // first block = block count: a session killed after its last commit, resumed to its end.
            guard Int(request.firstBlock) <= request.parameters.blockCount else {
                throw invalid("first block \(request.firstBlock) of a session of \(request.parameters.blockCount) blocks")
            }
            let hash = Data(request.parameters.sha256)
            for agreed in [clientHello?.parametersSha256, serverHello?.parametersSha256].compactMap({ $0 }) where !agreed.isEmpty {
                guard agreed == hash else {
                    throw SessionViolation(.parametersMismatch, "the requested parameters differ from the agreed ones",
                                           remedy: "give both stations the same session parameters")
                }
            }
            sessionID = request.sessionID
            parameters = request.parameters
            firstBlock = Int(request.firstBlock)
            phase = .answer
        case let (.answer, .accept(accept)):
            guard let parameters, accept.parametersSha256 == Data(parameters.sha256) else {
                throw SessionViolation(.parametersMismatch, "the client accepted other parameters than requested",
                                       remedy: "accept exactly the requested parameters")
            }
            phase = firstBlock < parameters.blockCount ? .layerReady(block: firstBlock, layer: 0) : .end
        case let (.answer, .deny(deny)):
            phase = .closed(.denied(reason: deny.reason))
        case let (.layerReady(b, l), .layerReady(m)):
            guard Int(m.block) == b, Int(m.layer) == l else { throw invalid("layerReady(block \(m.block), layer \(m.layer)), expected block \(b), layer \(l)") }
            phase = .armed(block: b, layer: l, burst: 0)
        case let (.armed(b, l, k), .clientArmed(m)):
            guard Int(m.block) == b, Int(m.layer) == l, Int(m.burst) == k else {
                throw invalid("clientArmed(block \(m.block), layer \(m.layer), burst \(m.burst)), expected block \(b), layer \(l), burst \(k)")
            }
            let plan: (shots: UInt32, firstShotIndex: UInt64) = parameters?.burst(block: b, burst: k) ?? (shots: 0, firstShotIndex: 0)
            guard m.shots == plan.shots, m.firstShotIndex == plan.firstShotIndex else {
                throw invalid("clientArmed announces \(m.shots) shots from \(m.firstShotIndex), the block plan says \(plan.shots) from \(plan.firstShotIndex)")
            }
            phase = .fired(block: b, layer: l, burst: k)
        case let (.fired(b, l, k), .fired(m)):
            guard Int(m.block) == b, Int(m.layer) == l, Int(m.burst) == k else {
                throw invalid("fired(block \(m.block), layer \(m.layer), burst \(m.burst)), expected block \(b), layer \(l), burst \(k)")
            }
            phase = .measured(block: b, layer: l, burst: k)
        case let (.measured(b, l, k), .clientMeasured(m)):
            guard Int(m.block) == b, Int(m.layer) == l, Int(m.burst) == k else {
                throw invalid("clientMeasured(block \(m.block), layer \(m.layer), burst \(m.burst)), expected block \(b), layer \(l), burst \(k)")
            }
            phase = .acquired(block: b, layer: l, burst: k)
        case let (.acquired(b, l, k), .returnedLightAcquired(m)):
            guard Int(m.block) == b, Int(m.layer) == l, Int(m.burst) == k else {
                throw invalid("returnedLightAcquired(block \(m.block), layer \(m.layer), burst \(m.burst)), expected block \(b), layer \(l), burst \(k)")
            }
            guard let parameters else { throw unexpected(message, from: sender) }
            if k + 1 < parameters.burstCount(block: b) {
                phase = .armed(block: b, layer: l, burst: k + 1)
            } else if l + 1 < parameters.layers.count {
                phase = .layerReady(block: b, layer: l + 1)
            } else {
                phase = .verdict(block: b)
            }
        case let (.verdict(b), .verdict(v)):
            guard Int(v.block) == b else { throw invalid("verdict for block \(v.block), expected block \(b)") }
            if let problem = v.problem { throw invalid("verdict: \(problem)") }
            lastVerdict = v
            phase = .serverCommit(block: b)
        case let (.serverCommit(b), .commit(c)):
            guard Int(c.block) == b else { throw invalid("commit of block \(c.block), expected block \(b)") }
            // The server's commit covers its messages through the verdict, and the client messages it had.
            // (`verdictServerMessages` is set after the verdict was appended.)
            guard c.serverMessages == verdictServerMessages,
                  let own = transcript.hash(clientMessages: c.clientMessages, serverMessages: c.serverMessages),
                  c.transcriptSha256 == Data(own)
            else {
                throw SessionViolation(.transcriptMismatch, "the transcripts of block \(b) differ (\(c.clientMessages) client / \(c.serverMessages) server messages)",
                                       remedy: "the channel or a station altered messages: abort, keep both run databases for inspection")
            }
            pendingCommit = c
            phase = .clientCommit(block: b)
        case let (.clientCommit(b), .commit(c)):
            guard c == pendingCommit else {
                throw SessionViolation(.transcriptMismatch, "the client's commit of block \(b) differs from the server's",
                                       remedy: "the channel or a station altered messages: abort, keep both run databases for inspection")
            }
            lastCommit = c
            pendingCommit = nil
            let last = b + 1 >= (parameters?.blockCount ?? 0)
            phase = (lastVerdict?.decision == .abort || last) ? .end : .layerReady(block: b + 1, layer: 0)
        case let (.end, .end(e)):
            endSummary = e.summary
            phase = .endReply
        case (.endReply, .end):
            if let v = lastVerdict, v.decision == .abort {
                phase = .closed(.aborted(by: .server, reason: "verdict of block \(v.block): \(v.reason)"))
            } else {
                phase = .closed(.completed(summary: endSummary))
            }
        default:
            throw unexpected(message, from: sender)
        }
    }
}
