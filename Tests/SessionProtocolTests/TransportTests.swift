import Foundation
import SessionProtocol
import SessionTransport
import Testing
import X509
#if canImport(Glibc)
import Glibc
#endif

/// Certificates made in the test: one lab CA, a server and a client station; another CA for refusals.
struct TestLab: Sendable {
    let ca: LabCertificateAuthority
    let server: StationCredentials
    let client: StationCredentials

    init() throws {
        ca = try LabCertificateAuthority.create()
        server = try ca.issue(name: "server-1", role: .server)
        client = try ca.issue(name: "client-1", role: .client)
    }

    var allowList: [AllowListEntry] { [AllowListEntry.entries(for: client.certificate)[0]] }

    func serverConfiguration(allowList: [AllowListEntry]? = nil) -> SessionServerConfiguration {
        SessionServerConfiguration(host: "127.0.0.1", port: 0, security: .mutualTLS(credentials: server, trustRoots: [ca.certificate], allowList: allowList ?? self.allowList))
    }

    func clientConfiguration(port: Int, credentials: StationCredentials? = nil) -> SessionClientConfiguration {
        SessionClientConfiguration(host: "127.0.0.1", port: port, security: .mutualTLS(credentials: credentials ?? client, trustRoots: [ca.certificate],
                                                                                        serverAllowList: [.commonName("server-1")]))
    }
}

/// What the server saw.
actor ServerLog {
    struct Session: Sendable {
        var peer: PeerIdentity
        var error: String?
        var failure: SessionFailure?
        var transcript: SessionTranscript
        var outcome: SessionOutcome?
        var failedAt: ContinuousClock.Instant?
    }
    var sessions: [Session] = []
    var refusals: [PeerRefusal] = []
    var mark: ContinuousClock.Instant?

    func add(_ s: Session) { sessions.append(s) }
    func refuse(_ r: PeerRefusal) { refusals.append(r) }
    func setMark() { mark = .now }

    /// Waits (bounded) until `count` sessions have finished.
    func waitForSessions(_ count: Int, within limit: Duration = .seconds(10)) async -> [Session] {
        let deadline = ContinuousClock.now + limit
        while sessions.count < count, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return sessions
    }
    func waitForRefusals(_ count: Int, within limit: Duration = .seconds(5)) async -> [PeerRefusal] {
        let deadline = ContinuousClock.now + limit
        while refusals.count < count, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return refusals
    }
}

/// Runs a server whose handler plays `runServer` (a whole scripted session) and logs the result.
func withSessionServer(
    _ configuration: SessionServerConfiguration,
    _ body: @Sendable (Int, ServerLog) async throws -> Void
) async throws {
    let log = ServerLog()
    let server = try SessionServer(configuration: configuration, onRefusal: { r in Task { await log.refuse(r) } }) { session in
        let endpoint = SessionEndpoint(side: .server, softwareVersion: "server-test", channel: session.channel)
        var failure: SessionFailure?
        var errorText: String?
        do { try await runServer(endpoint, timeout: .seconds(5)) } catch let f as SessionFailure { failure = f } catch { errorText = "\(error)" }
        let failedAt: ContinuousClock.Instant? = failure == nil ? nil : .now
        await log.add(.init(peer: session.peer, error: errorText, failure: failure, transcript: await endpoint.transcript,
                            outcome: await endpoint.outcome, failedAt: failedAt))
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let port = try await server.listeningPort()
        do {
            try await body(port, log)
        } catch {
            server.shutdown()
            group.cancelAll()
            throw error
        }
        server.shutdown()
        group.cancelAll()
    }
}

/// A complete honest client session; returns the client's transcript and the server identity it saw.
func honestClientSession(_ configuration: SessionClientConfiguration) async throws -> (SessionTranscript, SessionOutcome?, PeerIdentity) {
    try await SessionClient.withSession(configuration) { channel in
        let endpoint = SessionEndpoint(side: .client, softwareVersion: "client-test", channel: channel)
        try await runClient(endpoint, timeout: .seconds(5))
        return (await endpoint.transcript, await endpoint.outcome, channel.peer)
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct TransportTests {
    @Test func mutualTLSFullSessionWithMatchingTranscripts() async throws {
        let lab = try TestLab()
        try await withSessionServer(lab.serverConfiguration()) { port, log in
            let (transcript, outcome, serverPeer) = try await honestClientSession(lab.clientConfiguration(port: port))
            let sessions = await log.waitForSessions(1)
            try #require(sessions.count == 1)
            let s = sessions[0]
            #expect(s.failure == nil && s.error == nil)
            #expect(s.outcome == .completed(summary: "done"))
            #expect(outcome == .completed(summary: "done"))
            #expect(s.transcript == transcript)
            // hello, accept, 2 × (armed, measured) per burst and layer (block 0: 2 bursts, block 1: 1), a commit per block, end.
            #expect(s.transcript.clientMessages == 17)
            // The server records who the client is.
            #expect(s.peer.authenticated)
            #expect(s.peer.commonName == "client-1")
            #expect(s.peer.certificateSHA256 == lab.client.certificate.sha256Fingerprint)
            #expect(serverPeer.commonName == "server-1")
        }
    }

    enum BadClient: String, CaseIterable, Sendable {
        case unknownCertificate, expiredCertificate, notYetValidCertificate, otherCA, plaintext, serverCertificateAsClient
    }

    /// Each bad client is refused at the handshake, no session starts, and the server then serves a good client.
    @Test(arguments: BadClient.allCases)
    func refusedClients(_ bad: BadClient) async throws {
        let lab = try TestLab()
        let otherCA = try LabCertificateAuthority.create(commonName: "another lab")
        try await withSessionServer(lab.serverConfiguration()) { port, log in
            let configuration: SessionClientConfiguration
            let reason: PeerRefusal.Reason?
            switch bad {
            case .unknownCertificate:
                configuration = lab.clientConfiguration(port: port, credentials: try lab.ca.issue(name: "client-2", role: .client))
                reason = .notOnAllowList
            case .expiredCertificate:
                let expired = try lab.ca.issue(name: "client-1", role: .client, days: 1, notBefore: Date().addingTimeInterval(-2 * 86_400))
                configuration = lab.clientConfiguration(port: port, credentials: expired)
                reason = .expired
            case .notYetValidCertificate:
                let future = try lab.ca.issue(name: "client-1", role: .client, days: 10, notBefore: Date().addingTimeInterval(86_400))
                configuration = lab.clientConfiguration(port: port, credentials: future)
                reason = .notYetValid
            case .otherCA:
                configuration = lab.clientConfiguration(port: port, credentials: try otherCA.issue(name: "client-1", role: .client))
                reason = .untrustedIssuer
            case .plaintext:
                configuration = SessionClientConfiguration(host: "127.0.0.1", port: port, security: .plaintextOnLoopbackForTesting)
                reason = nil
            case .serverCertificateAsClient:
                configuration = lab.clientConfiguration(port: port, credentials: lab.server)
                reason = .wrongRole
            }
            let start = ContinuousClock.now
            await #expect(throws: SessionTransportError.self) { _ = try await honestClientSession(configuration) }
            #expect(ContinuousClock.now - start < .seconds(10))
            if let reason {
                let refusals = await log.waitForRefusals(1)
                #expect(refusals.map(\.reason) == [reason])
            }
            #expect(await log.sessions.isEmpty)
            // The server keeps serving.
            let (transcript, _, _) = try await honestClientSession(lab.clientConfiguration(port: port))
            let sessions = await log.waitForSessions(1)
            #expect(sessions.count == 1 && sessions.first?.transcript == transcript)
        }
    }

    @Test func clientRefusesAServerFromAnotherCA() async throws {
        let lab = try TestLab()
        let otherCA = try LabCertificateAuthority.create(commonName: "another lab")
        let impostor = try otherCA.issue(name: "server-1", role: .server)
        let configuration = SessionServerConfiguration(host: "127.0.0.1", port: 0,
                                                       security: .mutualTLS(credentials: impostor, trustRoots: [lab.ca.certificate], allowList: lab.allowList))
        try await withSessionServer(configuration) { port, log in
            let refused = RefusalBox()
            await #expect(throws: SessionTransportError.self) {
                _ = try await SessionClient.withSession(lab.clientConfiguration(port: port), onRefusal: { refused.set($0) }) { _ in 0 }
            }
            #expect(refused.get()?.reason == .untrustedIssuer)
            #expect(await log.sessions.isEmpty)
        }
    }

    @Test func protocolVersionMismatchIsRefusedAtHello() async throws {
        let lab = try TestLab()
        try await withSessionServer(lab.serverConfiguration()) { port, log in
            let reply = try await SessionClient.withSession(lab.clientConfiguration(port: port)) { channel in
                var hello = SessionEnvelope()
                hello.body = .hello(softwareVersion: "future", protocolVersion: sessionProtocolVersion + 1)
                try await channel.send(hello)
                return try await channel.receive(timeout: .seconds(5))
            }
            guard case let .error(e)? = reply.body else { Issue.record("no error reply: \(reply)"); return }
            #expect(e.code == .versionMismatch)
            let sessions = await log.waitForSessions(1)
            guard case let .refused(v)? = sessions.first?.failure else { Issue.record("server did not refuse"); return }
            #expect(v.code == .versionMismatch)
        }
    }

    @Test func replayedMessageIsRefusedAndTheServerGoesOn() async throws {
        let lab = try TestLab()
        try await withSessionServer(lab.serverConfiguration()) { port, log in
            let codes = try await SessionClient.withSession(lab.clientConfiguration(port: port)) { channel in
                var machine = SessionStateMachine(side: .client, softwareVersion: "c")
                let hello = try machine.send(machine.hello)
                try await channel.send(hello)
                try await channel.send(hello)  // replayed
                var codes: [SessionErrorCode] = []
                while codes.isEmpty {
                    let e = try await channel.receive(timeout: .seconds(5))
                    if case let .error(err)? = e.body { codes.append(err.code) }
                }
                return codes
            }
            #expect(codes == [.sequence])
            var sessions = await log.waitForSessions(1)
            guard case let .refused(v)? = sessions.first?.failure else { Issue.record("server did not refuse the replay"); return }
            #expect(v.code == .sequence)
            let (transcript, _, _) = try await honestClientSession(lab.clientConfiguration(port: port))
            sessions = await log.waitForSessions(2)
            #expect(sessions.count == 2 && sessions.last?.transcript == transcript,
                    "\(sessions.map { "\(String(describing: $0.failure)) \(String(describing: $0.error)) \(String(describing: $0.outcome)) \($0.transcript.clientMessages)/\($0.transcript.serverMessages)" }) vs \(transcript.clientMessages)/\(transcript.serverMessages)")
        }
    }

    @Test func garbageBytesOnThePortDoNotStopTheServer() async throws {
        let lab = try TestLab()
        try await withSessionServer(lab.serverConfiguration()) { port, log in
            let payloads: [[UInt8]] = [
                Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
                [0x16, 0x03, 0x01, 0xff, 0xff] + [UInt8](repeating: 0, count: 64),  // a TLS record header that lies about its length
            ]
            for bytes in payloads { try rawTCP(port: port, send: bytes) }
            #expect(await log.sessions.isEmpty)
            let (transcript, outcome, _) = try await honestClientSession(lab.clientConfiguration(port: port))
            #expect(outcome == .completed(summary: "done"))
            let sessions = await log.waitForSessions(1)
            #expect(sessions.count == 1 && sessions.first?.transcript == transcript)
        }
    }

    @Test func peerVanishingMidSessionIsPeerLostWithinOneSecond() async throws {
        let lab = try TestLab()
        try await withSessionServer(lab.serverConfiguration()) { port, log in
            let configuration = lab.clientConfiguration(port: port)
            let client = Task {
                try await SessionClient.withSession(configuration) { channel in
                    let endpoint = SessionEndpoint(side: .client, softwareVersion: "c", channel: channel)
                    try await endpoint.send(await endpoint.hello)
                    _ = try await endpoint.receive(timeout: .seconds(5))  // server hello
                    _ = try await endpoint.receive(timeout: .seconds(5))  // request
                    await log.setMark()
                    try await Task.sleep(for: .seconds(60))  // never answers: cancelled below
                }
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while await log.mark == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let mark = try #require(await log.mark)
            client.cancel()
            let sessions = await log.waitForSessions(1)
            let s = try #require(sessions.first)
            guard case .channel(.peerLost)? = s.failure else { Issue.record("not peer lost: \(String(describing: s.failure)) \(String(describing: s.error))"); return }
            let elapsed = try #require(s.failedAt) - mark
            #expect(elapsed <= .seconds(1), "peer loss noticed after \(elapsed)")
        }
    }

    @Test func plaintextIsRefusedOffLoopback() throws {
        #expect(throws: SessionTransportError.self) {
            _ = try SessionServer(configuration: SessionServerConfiguration(host: "0.0.0.0", port: 0, security: .plaintextOnLoopbackForTesting)) { _ in }
        }
        #expect(isLoopbackHost("127.0.0.1") && isLoopbackHost("localhost") && isLoopbackHost("::1"))
        #expect(!isLoopbackHost("10.0.0.1") && !isLoopbackHost("0.0.0.0") && !isLoopbackHost("127.0.0.1.example.org"))
    }

    @Test func plaintextSessionOnLoopbackWhenExplicitlyAllowed() async throws {
        try await withSessionServer(SessionServerConfiguration(host: "127.0.0.1", port: 0, security: .plaintextOnLoopbackForTesting)) { port, log in
            let (transcript, _, _) = try await honestClientSession(SessionClientConfiguration(host: "127.0.0.1", port: port, security: .plaintextOnLoopbackForTesting))
            let s = await log.waitForSessions(1)
            #expect(s.first?.transcript == transcript)
            #expect(s.first?.peer.authenticated == false)
        }
        await #expect(throws: SessionTransportError.self) {
            _ = try await SessionClient.withSession(SessionClientConfiguration(host: "192.0.2.1", port: 1, security: .plaintextOnLoopbackForTesting)) { _ in 0 }
        }
    }
}

final class RefusalBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: PeerRefusal?
    func set(_ r: PeerRefusal) { lock.lock(); value = value ?? r; lock.unlock() }
    func get() -> PeerRefusal? { lock.lock(); defer { lock.unlock() }; return value }
}

/// Connects to 127.0.0.1:port over plain TCP, writes `bytes`, reads until the server closes (≤ 5 s), closes.
func rawTCP(port: Int, send bytes: [UInt8]) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    while read(fd, &buffer, buffer.count) > 0 {}
}
