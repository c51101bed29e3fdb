import Foundation
import SessionProtocol
import Testing

/// One message of every kind, with plausible fields (block/layer/burst 0), for the message × state matrix.
let catalog: [SessionMessage] = [
    .hello(softwareVersion: "x"),
    .request(sessionID: "s", parameters: testParameters),
    .accept(parameters: testParameters),
    .deny(reason: "no"),
    .layerReady(block: 0, layer: 0),
    .clientArmed(block: 0, layer: 0, burst: 0, shots: 2, firstShotIndex: 0),
    .fired(block: 0, layer: 0, burst: 0),
    .clientMeasured(block: 0, layer: 0, burst: 0),
    .returnedLightAcquired(block: 0, layer: 0, burst: 0),
    verdict(block: 0),
    .commit(.with { $0.block = 0; $0.transcriptSha256 = Data(repeating: 7, count: 32); $0.clientMessages = 1; $0.serverMessages = 1 }),
    .pause(reason: "interlock"),
    .resume(),
    .abort(reason: "operator"),
    .end(summary: "x"),
    .error(.internal, message: "x", remedy: "y"),
]

struct StateMachineTests {
    @Test func canonicalSessionCompletesWithEqualTranscripts() throws {
        var pair = MachinePair()
        for step in canonicalScript() { try pair.advance(step) }
        #expect(pair.server.outcome == .completed(summary: "5 images"))
        #expect(pair.client.outcome == .completed(summary: "5 images"))
        #expect(pair.server.transcript == pair.client.transcript)
        #expect(pair.server.lastCommit != nil && pair.server.lastCommit == pair.client.lastCommit)
        #expect(pair.server.lastCommit?.block == 1)
        #expect(pair.server.transcript.clientMessages > 10 && pair.server.transcript.serverMessages > 10)
    }

    /// Every state of the canonical session × every message kind × both senders: the expected next message
    /// is accepted, abort and error always are, pause whenever light may flow, deny instead of accept;
    /// everything else is refused
    /// by the receiver (with an Error reply, the session closed as failed) and cannot be sent either.
    @Test(arguments: 0..<canonicalScript().count)
    func messageStateMatrix(position: Int) throws {
        let script = canonicalScript()
        var pair = MachinePair()
        for step in script[..<position] { try pair.advance(step) }
        let phase = pair.server.phase
        #expect(phase == pair.client.phase)
        let expected = try pair.message(for: script[position])
        for sender in SessionSide.allCases {
            for candidate in catalog {
                let isExpected = sender == script[position].sender && candidate.kind == expected.kind
                let message = isExpected ? expected : candidate
                // Also valid besides the script's next message: abort and error at any time, pause while
                // light may flow, and a deny instead of the accept.
                let alsoValid: Bool
                switch message {
                case .abort, .error: alsoValid = true
                case .pause: alsoValid = phase != .clientHello && phase != .serverHello && phase != .request && phase != .answer
                case .deny: alsoValid = phase == .answer && sender == .client
                default: alsoValid = false
                }
                let shouldAccept = isExpected || alsoValid
                var sending = pair[sender]
                var receiving = pair[sender.peer]
                let sent = Result { try sending.send(message) }
                switch sent {
                case .success:
                    #expect(shouldAccept, "\(sender) could send \(message.kind) in \(phase)")
                case .failure:
                    #expect(!shouldAccept, "\(sender) could not send \(message.kind) in \(phase)")
                }
                // The receiver judges the message on its own, whatever the sender's machine allowed.
                var envelope = SessionEnvelope()
                envelope.sequence = sender == .server ? pair.server.transcript.serverMessages : pair.client.transcript.clientMessages
                envelope.body = message
                switch receiving.receive(envelope) {
                case .accepted:
                    #expect(shouldAccept, "\(sender.peer) accepted \(message.kind) in \(phase)")
                case let .refused(violation, reply):
                    #expect(!shouldAccept, "\(sender.peer) refused \(message.kind) in \(phase): \(violation)")
                    guard case .error(let e)? = reply?.body else {
                        Issue.record("no Error reply to a refused \(message.kind) in \(phase)")
                        continue
                    }
                    #expect(e.code == violation.code && !e.remedy.isEmpty)
                    #expect(receiving.outcome == .failed(by: sender.peer, code: violation.code, message: violation.message))
                    // Anything after the refusal is refused too, and nothing traps.
                    envelope.sequence += 1
                    if case .refused = receiving.receive(envelope) {} else { Issue.record("accepted after failure") }
                }
            }
        }
    }

    struct WrongField: Sendable, CustomTestStringConvertible {
        let name: String
        let position: Int         // index in the canonical script the wrong message replaces
        let message: SessionMessage
        let code: SessionErrorCode
        var testDescription: String { name }
    }

    static let wrongFields: [WrongField] = {
        let s = canonicalScript()
        func index(_ kind: String, _ n: Int = 0) -> Int {
            s.indices.filter { if case let .message(_, m) = s[$0] { m.kind == kind } else { false } }[n]
        }
        var badParameters = testParameters
        badParameters.delta = 2
        var otherParameters = testParameters
        otherParameters.images = 6
        return [
            WrongField(name: "hello of another protocol version", position: 0, message: .hello(softwareVersion: "x", protocolVersion: 2), code: .versionMismatch),
            WrongField(name: "hello with a 5-byte parameters hash", position: 0, message: .hello(softwareVersion: "x", parametersSHA256: [1, 2, 3, 4, 5]), code: .invalidValue),
            WrongField(name: "request with δ = 2", position: 2, message: .request(sessionID: "s", parameters: badParameters), code: .invalidValue),
            WrongField(name: "request without session id", position: 2, message: .request(sessionID: "", parameters: testParameters), code: .invalidValue),
            WrongField(name: "accept of other parameters", position: 3, message: .accept(parameters: otherParameters), code: .parametersMismatch),
            WrongField(name: "layerReady of layer 1 first", position: index("layerReady"), message: .layerReady(block: 0, layer: 1), code: .invalidValue),
            WrongField(name: "armed with too many shots", position: index("clientArmed"), message: .clientArmed(block: 0, layer: 0, burst: 0, shots: 3, firstShotIndex: 0), code: .invalidValue),
            WrongField(name: "armed with a wrong first shot", position: index("clientArmed"), message: .clientArmed(block: 0, layer: 0, burst: 0, shots: 2, firstShotIndex: 9), code: .invalidValue),
            WrongField(name: "armed for burst 1 first", position: index("clientArmed"), message: .clientArmed(block: 0, layer: 0, burst: 1, shots: 1, firstShotIndex: 2), code: .invalidValue),
            WrongField(name: "fired for another burst", position: index("fired"), message: .fired(block: 0, layer: 0, burst: 1), code: .invalidValue),
            WrongField(name: "measured for another layer", position: index("clientMeasured"), message: .clientMeasured(block: 0, layer: 1, burst: 0), code: .invalidValue),
            WrongField(name: "acquired for another block", position: index("returnedLightAcquired"), message: .returnedLightAcquired(block: 1, layer: 0, burst: 0), code: .invalidValue),
            WrongField(name: "verdict for block 1 first", position: index("verdict"), message: verdict(block: 1), code: .invalidValue),
            WrongField(name: "verdict without decision", position: index("verdict"), message: verdict(block: 0, decision: .unspecified), code: .invalidValue),
            WrongField(name: "verdict with NaN", position: index("verdict"),
                       message: .verdict(.with { $0.block = 0; $0.transmittance = .nan; $0.decision = .collecting }), code: .invalidValue),
            WrongField(name: "pause with a 5000-byte reason", position: index("fired"), message: .pause(reason: String(repeating: "x", count: 5000)), code: .invalidValue),
            WrongField(name: "commit with a wrong transcript hash", position: index("verdict") + 1,
                       message: .commit(.with { $0.block = 0; $0.transcriptSha256 = Data(repeating: 0, count: 32); $0.clientMessages = 1; $0.serverMessages = 1 }),
                       code: .transcriptMismatch),
        ]
    }()

    /// A message of the right kind with a wrong field is refused with the right code.
    @Test(arguments: wrongFields)
    func wrongFieldsAreRefused(_ c: WrongField) throws {
        let script = canonicalScript()
        var pair = MachinePair()
        for step in script[..<c.position] { try pair.advance(step) }
        let sender = script[c.position].sender
        #expect(throws: SessionUsageError.self) { try pair[sender].send(c.message) }
        var envelope = SessionEnvelope()
        envelope.sequence = sender == .server ? pair.server.transcript.serverMessages : pair.client.transcript.clientMessages
        envelope.body = c.message
        guard case let .refused(violation, reply) = pair[sender.peer].receive(envelope) else {
            Issue.record("\(c.name) accepted")
            return
        }
        #expect(violation.code == c.code)
        #expect(reply != nil)
    }

    @Test func duplicatedReplayedAndMissingMessagesAreRefused() throws {
        var pair = MachinePair()
        let hello = try pair.client.send(pair.client.hello)
        #expect(pair.server.receive(hello) == .accepted(pair.client.hello))
        // Replay of the same envelope.
        var server = pair.server
        guard case let .refused(v, reply) = server.receive(hello) else { Issue.record("replay accepted"); return }
        #expect(v.code == .sequence)
        #expect(v.message.contains("duplicated or replayed"))
        #expect(reply?.sequence == 0)  // the server's first message
        // A gap: sequence 5 where 1 is due.
        server = pair.server
        var gap = SessionEnvelope()
        gap.sequence = 5
        gap.body = .abort(reason: "x")
        guard case let .refused(g, _) = server.receive(gap) else { Issue.record("gap accepted"); return }
        #expect(g.code == .sequence)
    }

    @Test(arguments: [[UInt8]([0xff, 0xff, 0xff]), [0x08], Array("GET / HTTP/1.1\r\n".utf8), []])
    func malformedBytesAreRefused(_ bytes: [UInt8]) {
        var server = SessionStateMachine(side: .server, softwareVersion: "s")
        guard case let .refused(v, reply) = server.receive(bytes: bytes) else { Issue.record("garbage accepted"); return }
        #expect(v.code == .malformed)
        #expect(reply != nil)
        #expect(server.isClosed)
    }

    @Test func pauseBlocksLightUntilTheSameSideResumes() throws {
        var pair = MachinePair()
        let script = canonicalScript()
        let firstArmed = script.firstIndex { $0.description == "client:clientArmed" }!
        for step in script[..<firstArmed] { try pair.advance(step) }
        let pause = try pair.server.send(.pause(reason: "interlock open"))
        #expect(pair.client.receive(pause) == .accepted(.pause(reason: "interlock open")))
        // No arming while the server's interlock is open; the client cannot resume the server's pause.
        #expect(throws: SessionUsageError.self) { try pair.client.send(try pair.message(for: script[firstArmed])) }
        #expect(throws: SessionUsageError.self) { try pair.client.send(.resume()) }
        let resume = try pair.server.send(.resume())
        #expect(pair.client.receive(resume) == .accepted(.resume()))
        for step in script[firstArmed...] { try pair.advance(step) }
        #expect(pair.server.outcome == .completed(summary: "5 images"))
        #expect(pair.server.transcript == pair.client.transcript)
    }

    /// A pause that crosses the verdict and the server's commit on the wire: the commit names the
    /// messages it covers, so both transcripts still agree and the session goes on.
    @Test func crossingPauseKeepsCommitsEqual() throws {
        var pair = MachinePair()
        let script = canonicalScript()
        let verdictIndex = script.firstIndex { $0.description == "server:verdict" }!
        for step in script[..<verdictIndex] { try pair.advance(step) }
        let verdictEnvelope = try pair.server.send(try pair.message(for: script[verdictIndex]))
        let commitEnvelope = try pair.server.send(try pair.server.makeCommit())
        let pauseEnvelope = try pair.client.send(.pause(reason: "client interlock"))  // before it saw the verdict
        #expect(pair.server.receive(pauseEnvelope) == .accepted(.pause(reason: "client interlock")))
        guard case .accepted = pair.client.receive(verdictEnvelope), case .accepted = pair.client.receive(commitEnvelope) else {
            Issue.record("crossing verdict/commit refused")
            return
        }
        let resume = try pair.client.send(.resume())
        #expect(pair.server.receive(resume) == .accepted(.resume()))
        for step in script[(verdictIndex + 2)...] { try pair.advance(step) }
        #expect(pair.server.outcome == .completed(summary: "5 images"))
        #expect(pair.server.transcript == pair.client.transcript)
    }

    @Test func abortVerdictEndsTheSessionAsAborted() throws {
        var pair = MachinePair()
        for step in canonicalScript(lastDecision: .abort) { try pair.advance(step) }
        guard case let .aborted(by, reason)? = pair.client.outcome else { Issue.record("\(String(describing: pair.client.outcome))"); return }
        #expect(by == .server && reason.contains("block 1"))
        // After an abort verdict in block 0 no further block may start.
        var early = MachinePair()
        let script = canonicalScript()
        let v = script.firstIndex { $0.description == "server:verdict" }!
        for step in script[..<v] { try early.advance(step) }
        try early.advance(.message(.server, verdict(block: 0, decision: .abort)))
        try early.advance(.commit(.server))
        try early.advance(.commit(.client))
        #expect(throws: SessionUsageError.self) { try early.server.send(.layerReady(block: 1, layer: 0)) }
        #expect(early.server.phase == .end)
    }

    @Test func agreedParametersMustMatchTheRequest() throws {
        var client = SessionStateMachine(side: .client, softwareVersion: "c", agreedParametersSHA256: testParameters.sha256)
        var server = SessionStateMachine(side: .server, softwareVersion: "s")
        _ = server.receive(try client.send(client.hello))
        _ = client.receive(try server.send(server.hello))
        var other = testParameters
        other.gain = 3
        // The server's own machine knows the client's agreed hash and will not send other parameters...
        #expect(throws: SessionUsageError.self) { try server.send(.request(sessionID: "s", parameters: other)) }
        // ...and a server that sends them anyway is refused by the client.
        var request = SessionEnvelope()
        request.sequence = 1
        request.body = .request(sessionID: "s", parameters: other)
        guard case let .refused(v, _) = client.receive(request) else { Issue.record("other parameters accepted"); return }
        #expect(v.code == .parametersMismatch)
        // The agreed parameters themselves pass.
        var fresh = SessionStateMachine(side: .client, softwareVersion: "c", agreedParametersSHA256: testParameters.sha256)
        var s2 = SessionStateMachine(side: .server, softwareVersion: "s")
        _ = s2.receive(try fresh.send(fresh.hello))
        _ = fresh.receive(try s2.send(s2.hello))
        #expect(fresh.receive(try s2.send(.request(sessionID: "s", parameters: testParameters))) == .accepted(.request(sessionID: "s", parameters: testParameters)))
    }

    @Test func transcriptHashDependsOnEveryMessageAndItsDirection() {
        var a = SessionTranscript(), b = SessionTranscript()
        var e = SessionEnvelope()
        e.body = .fired(block: 0, layer: 0, burst: 0)
        a.append(e, from: .server)
        b.append(e, from: .client)
        #expect(a.head != b.head)
        var c = SessionTranscript()
        e.sequence = 1
        c.append(e, from: .server)
        #expect(a.head != c.head)
        #expect(a.hash(clientMessages: 0, serverMessages: 1) == a.head)
        #expect(a.hash(clientMessages: 1, serverMessages: 1) == nil)
        #expect(a.head.count == 32)
    }
}

/// A session resumed on a new connection starts at the block after the last commit (Request.first_block).
struct ResumedSessionTests {
    /// After the hellos: the server's machine sends the request if it may, and the client receives
    /// it (a request the server's own machine refuses is crafted, as a broken or hostile server would).
    static func opened(firstBlock: UInt32) -> (pair: MachinePair, serverSent: Bool, receipt: SessionReceipt) {
        var pair = MachinePair()
        for step in canonicalScript().prefix(2) { try? pair.advance(step) }
        let message = SessionMessage.request(sessionID: "session-1", parameters: testParameters, firstBlock: firstBlock)
        var envelope = SessionEnvelope()
        envelope.sequence = 1
        envelope.body = message
        var serverSent = false
        if let sent = try? pair.server.send(message) { envelope = sent; serverSent = true }
        let receipt = pair.client.receive(envelope)
        return (pair, serverSent, receipt)
    }

    /// Block 1 of 2 continues at its first layer; block 2 of 2 (killed after its last commit) goes
    /// straight to the end; beyond the plan is refused.
    @Test(arguments: [(UInt32(1), SessionPhase?.some(.layerReady(block: 1, layer: 0))), (2, .some(.end)), (3, nil)])
    func requestStartsAtItsFirstBlock(firstBlock: UInt32, after: SessionPhase?) throws {
        var (pair, serverSent, receipt) = Self.opened(firstBlock: firstBlock)
        guard let after else {
            #expect(!serverSent)
            guard case let .refused(violation, _) = receipt else { Issue.record("first block \(firstBlock) accepted"); return }
            #expect(violation.code == .invalidValue)
            return
        }
        #expect(serverSent)
        guard case .accepted = receipt else { Issue.record("first block \(firstBlock) refused: \(receipt)"); return }
        try pair.advance(.message(.client, .accept(parameters: testParameters)))
        #expect(pair.server.phase == after && pair.client.phase == after)
        #expect(pair.client.firstBlock == Int(firstBlock))
    }
}
