import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOCore
import NIOSSL
import SessionProtocol
import X509

/// A transport step that failed, and what to do next.
public struct SessionTransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case plaintextNotAllowed, configuration, bind, connection, refusedByServer }
    public var kind: Kind
    public var message: String
    public var remedy: String
    public init(_ kind: Kind, _ message: String, remedy: String) {
        self.kind = kind
        self.message = message
        self.remedy = remedy
    }
    public var description: String { "\(message) — \(remedy)" }
}

/// True for 127.0.0.0/8, ::1 and "localhost".
public func isLoopbackHost(_ host: String) -> Bool {
    if host == "localhost" || host == "::1" || host == "[::1]" { return true }
    let parts = host.split(separator: ".")
    return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
}

// MARK: - Security settings

/// How the server authenticates itself and its clients.
public enum SessionServerSecurity: Sendable {
    /// Mutual TLS: the server presents `credentials`; a client must present a certificate issued by one of
    /// `trustRoots` (the lab CA), valid now, for the client role, and named by `allowList` (non-empty).
    case mutualTLS(credentials: StationCredentials, trustRoots: [Certificate], allowList: [AllowListEntry])
    /// No TLS: accepted only on a loopback address, for tests and single-machine runs.
    case plaintextOnLoopbackForTesting
}

/// How the client authenticates itself and the server.
public enum SessionClientSecurity: Sendable {
    /// Mutual TLS: the client presents `credentials`; the server must present a certificate issued by one
    /// of `trustRoots`, valid now, for the server role and (when given) named by `serverAllowList`.
    case mutualTLS(credentials: StationCredentials, trustRoots: [Certificate], serverAllowList: [AllowListEntry]? = nil)
    /// No TLS: only to a loopback address, for tests.
    case plaintextOnLoopbackForTesting
}

public struct SessionServerConfiguration: Sendable {
    public var host: String
    /// 0: any free port (read it with `SessionServer.listeningPort()`).
    public var port: Int
    public var security: SessionServerSecurity
    /// HTTP/2 keepalive: a ping after this much silence, the connection dropped when unanswered within
    /// `keepaliveTimeout`, so a peer that vanished without closing is noticed.
    public var keepaliveInterval: Duration
    public var keepaliveTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 0, security: SessionServerSecurity,
                keepaliveInterval: Duration = .seconds(5), keepaliveTimeout: Duration = .seconds(2)) {
        self.host = host
        self.port = port
        self.security = security
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveTimeout = keepaliveTimeout
    }
}

public struct SessionClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var security: SessionClientSecurity
    public var keepaliveInterval: Duration
    public var keepaliveTimeout: Duration

    public init(host: String, port: Int, security: SessionClientSecurity,
                keepaliveInterval: Duration = .seconds(5), keepaliveTimeout: Duration = .seconds(2)) {
        self.host = host
        self.port = port
        self.security = security
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveTimeout = keepaliveTimeout
    }
}

private func certificateSource(_ certificate: Certificate) -> TLSConfig.CertificateSource {
    .bytes(certificate.derBytes, format: .der)
}

// MARK: - The channel over one gRPC stream

/// A `SessionChannel` over one bidirectional gRPC stream (either side).
public final class GRPCSessionChannel: SessionChannel {
    let inbox = SessionMailbox()
    let outbox = SessionMailbox()
    let closedFlag = SessionMailbox()
    /// The authenticated peer (for the server: the client station; for the client: the server station).
    public let peer: PeerIdentity

    init(peer: PeerIdentity) { self.peer = peer }

    public func send(_ envelope: SessionEnvelope) async throws(SessionChannelError) {
        guard await !closedFlag.isFinished else { throw .closed }
        // The peer's stream already ended: it is gone; say so instead of queuing into the void.
        if case let .peerLost(why)? = await inbox.finishedWith { throw .peerLost(why) }
        await outbox.push(envelope)
    }

    public func receive(timeout: Duration?) async throws(SessionChannelError) -> SessionEnvelope {
        guard await !closedFlag.isFinished else { throw .closed }
        return try await inbox.next(timeout: timeout)
    }

    public func close() async {
        await closedFlag.finish(.closed)
        await outbox.finish(.closed)
    }

    /// Finished once the pump has written everything (or failed).
    let pumpDone = SessionMailbox()

    /// Writes queued envelopes to the stream until the channel closes.
    func pump(into writer: RPCWriter<SessionEnvelope>) async throws {
        defer { Task { await pumpDone.finish(.closed) } }
        while true {
            let envelope: SessionEnvelope
            do { envelope = try await outbox.next(timeout: nil) } catch { return }
            try await writer.write(envelope)
        }
    }

    /// Feeds the inbox from the stream; its end (clean or not) is a lost peer.
    func drain(_ messages: some AsyncSequence<SessionEnvelope, any Error>, who: String) async {
        do {
            for try await envelope in messages { await inbox.push(envelope) }
            await inbox.finish(.peerLost("the \(who) closed the stream"))
        } catch {
            await inbox.finish(.peerLost("the \(who)'s stream failed: \(Self.describe(error))"))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let rpc = error as? RPCError { return "\(rpc.code): \(rpc.message)" }
        return String(describing: error)
    }
}

/// One admitted session on the server: the client's identity (record it) and the channel.
public struct IncomingSession: Sendable {
    public var peer: PeerIdentity
    public var channel: GRPCSessionChannel
}

struct SessionServiceImpl: Qbench_Session_V1_SessionService.SimpleServiceProtocol {
    let requireCertificate: Bool
    let verifier: PeerVerifier?
    let handler: @Sendable (IncomingSession) async -> Void

    func session(request: RPCAsyncSequence<SessionEnvelope, any Error>, response: RPCWriter<SessionEnvelope>, context: ServerContext) async throws {
        let transportContext = context.transportSpecific as? HTTP2ServerTransport.Posix.Context
        let leaf = transportContext?.peerCertificateChain?.leaf ?? transportContext?.peerCertificate
        if requireCertificate {
            // Defence in depth: the handshake already checked this; a stream without a verified certificate never runs.
            guard let leaf, let verifier, case .success = await verifier.verify([leaf]) else {
                throw RPCError(code: .permissionDenied, message: "client certificate missing or not admitted")
            }
        }
        let channel = GRPCSessionChannel(peer: PeerIdentity(certificate: requireCertificate ? leaf : nil, remoteAddress: context.remotePeer))
        await withTaskGroup(of: Void.self) { reader in
            reader.addTask { await channel.drain(request, who: "client") }
            try? await withThrowingTaskGroup(of: Void.self) { writer in
                writer.addTask { try await channel.pump(into: response) }
                await handler(IncomingSession(peer: channel.peer, channel: channel))
                // Closing queues the end after what the handler sent (an Error reply, say): the pump
                // delivers everything, then the response stream ends.
                await channel.close()
                try await writer.waitForAll()
            }
            reader.cancelAll()
            await channel.inbox.finish(.closed)
        }
    }
}

// MARK: - Server

/// The server station's listener: one session per incoming stream, each handed to `handler` with the
/// client's authenticated identity; refused handshakes are reported to `onRefusal` (for the journal).
///
///     let server = try SessionServer(configuration: config, onRefusal: { journal($0) }) { session in
///         let endpoint = SessionEndpoint(side: .server, softwareVersion: v, channel: session.channel)
///         ...   // record session.peer with the run
///     }
///     try await withThrowingTaskGroup { group in group.addTask { try await server.run() }; ... server.shutdown() }
public final class SessionServer: Sendable {
    public let configuration: SessionServerConfiguration
    private let transport: HTTP2ServerTransport.Posix
    private let server: GRPCServer<HTTP2ServerTransport.Posix>

    public init(
        configuration: SessionServerConfiguration,
        onRefusal: @escaping @Sendable (PeerRefusal) -> Void = { _ in },
        handler: @escaping @Sendable (IncomingSession) async -> Void
    ) throws(SessionTransportError) {
        self.configuration = configuration
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.connection.keepalive = .init(
            time: configuration.keepaliveInterval, timeout: configuration.keepaliveTimeout,
            clientBehavior: .init(minPingIntervalWithoutCalls: configuration.keepaliveInterval, allowWithoutCalls: true)
        )
        let security: HTTP2ServerTransport.Posix.TransportSecurity
        let service: SessionServiceImpl
        switch configuration.security {
        case .plaintextOnLoopbackForTesting:
            guard isLoopbackHost(configuration.host) else {
                throw SessionTransportError(.plaintextNotAllowed, "plaintext refused on \(configuration.host): only loopback may run without TLS",
                                            remedy: "configure mutual TLS (qbench pki) for a listener reachable from the network")
            }
            security = .plaintext
            service = SessionServiceImpl(requireCertificate: false, verifier: nil, handler: handler)
        case let .mutualTLS(credentials, trustRoots, allowList):
            guard !allowList.isEmpty else {
                throw SessionTransportError(.configuration, "the client allow-list is empty: no client could connect",
                                            remedy: "add each client station's `qbench pki fingerprint` entry")
            }
            guard !trustRoots.isEmpty else {
                throw SessionTransportError(.configuration, "no lab CA given", remedy: "pass the lab CA certificate (DIR/ca.pem)")
            }
            let verifier = PeerVerifier(trustRoots: trustRoots, role: .client, allowList: allowList)
            let callback = verifier.nioCallback(onRefusal: onRefusal)
            security = .mTLS(
                certificateChain: [certificateSource(credentials.certificate)],
                privateKey: .bytes(Array(credentials.privateKeyPEM.utf8), format: .pem)
            ) { tls in
                tls.trustRoots = .certificates(trustRoots.map(certificateSource))
                tls.clientCertificateVerification = .noHostnameVerification
                tls.customVerificationCallback = callback
            }
            service = SessionServiceImpl(requireCertificate: true, verifier: verifier, handler: handler)
        }
        transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: configuration.host, port: configuration.port), transportSecurity: security, config: config
        )
        server = GRPCServer(transport: transport, services: [service])
    }

    /// Serves until `shutdown()` or cancellation. Refused handshakes and garbage on the port end that
    /// connection only; the server keeps serving.
    public func run() async throws(SessionTransportError) {
        do { try await server.serve() } catch {
            throw SessionTransportError(.bind, "the session server stopped: \(GRPCSessionChannel.describe(error))",
                                        remedy: "check that \(configuration.host):\(configuration.port) is free and this user may bind it")
        }
    }

    /// The bound port (waits until listening).
    public func listeningPort() async throws(SessionTransportError) -> Int {
        do {
            let address = try await transport.listeningAddress
            if let v4 = address.ipv4 { return v4.port }
            if let v6 = address.ipv6 { return v6.port }
            throw SessionTransportError(.bind, "listening on a non-IP address \(address)", remedy: "use an IP host")
        } catch let error as SessionTransportError {
            throw error
        } catch {
            throw SessionTransportError(.bind, "the server did not start listening: \(GRPCSessionChannel.describe(error))",
                                        remedy: "check that the port is free")
        }
    }

    /// Stops accepting; open sessions finish.
    public func shutdown() { server.beginGracefulShutdown() }
}

// MARK: - Client

/// The client station's side: connects, opens the session's stream and runs `body` with the channel.
/// The stream closes when `body` returns.
public enum SessionClient {
    public static func withSession<Result: Sendable>(
        _ configuration: SessionClientConfiguration,
        onRefusal: @escaping @Sendable (PeerRefusal) -> Void = { _ in },
        _ body: @escaping @Sendable (GRPCSessionChannel) async throws -> Result
    ) async throws -> Result {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.connection.keepalive = .init(time: configuration.keepaliveInterval, timeout: configuration.keepaliveTimeout, allowWithoutCalls: true)
        config.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        let address = "\(configuration.host):\(configuration.port)"
        let identity: @Sendable () -> PeerIdentity
        switch configuration.security {
        case .plaintextOnLoopbackForTesting:
            guard isLoopbackHost(configuration.host) else {
                throw SessionTransportError(.plaintextNotAllowed, "plaintext refused to \(configuration.host): only loopback may run without TLS",
                                            remedy: "configure mutual TLS (qbench pki)")
            }
            security = .plaintext
            identity = { PeerIdentity(certificate: nil, remoteAddress: address) }
        case let .mutualTLS(credentials, trustRoots, serverAllowList):
            guard !trustRoots.isEmpty else {
                throw SessionTransportError(.configuration, "no lab CA given", remedy: "pass the lab CA certificate (DIR/ca.pem)")
            }
            let verifier = PeerVerifier(trustRoots: trustRoots, role: .server, allowList: serverAllowList)
            let seen = ServerCertificateBox()
            let callback = verifier.nioCallback(onRefusal: onRefusal)
            security = .mTLS(
                certificateChain: [certificateSource(credentials.certificate)],
                privateKey: .bytes(Array(credentials.privateKeyPEM.utf8), format: .pem)
            ) { tls in
                tls.trustRoots = .certificates(trustRoots.map(certificateSource))
                tls.serverCertificateVerification = .noHostnameVerification
                tls.customVerificationCallback = { certificates, promise in
                    if let first = certificates.first, let der = try? first.toDERBytes(), let cert = try? Certificate(derEncoded: der) {
                        seen.set(cert)
                    }
                    callback(certificates, promise)
                }
            }
            identity = { PeerIdentity(certificate: seen.get(), remoteAddress: address) }
        }
        return try await run(configuration, security: security, config: config, identity: identity, body)
    }

    private static func run<Result: Sendable>(
        _ configuration: SessionClientConfiguration,
        security: HTTP2ClientTransport.Posix.TransportSecurity,
        config: HTTP2ClientTransport.Posix.Config,
        identity: @escaping @Sendable () -> PeerIdentity,
        _ body: @escaping @Sendable (GRPCSessionChannel) async throws -> Result
    ) async throws -> Result {
        let target: any ResolvableTarget
        if LabPKI.ipAddressBytes(configuration.host) != nil, !configuration.host.contains(":") {
            let ipv4: ResolvableTargets.IPv4 = .ipv4(address: configuration.host, port: configuration.port)
            target = ipv4
        } else {
            let dns: ResolvableTargets.DNS = .dns(host: configuration.host, port: configuration.port)
            target = dns
        }
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: security, config: config)
        } catch {
            throw SessionTransportError(.configuration, "cannot set up the client transport: \(GRPCSessionChannel.describe(error))",
                                        remedy: "check the host name, certificate and key")
        }
        var options = CallOptions.defaults
        options.waitForReady = false  // a refused or unreachable server fails the call instead of retrying forever
        let box = ResultBox<Result>()
        do {
            try await withGRPCClient(transport: transport) { client in
                let service = Qbench_Session_V1_SessionService.Client(wrapping: client)
                let holder = ChannelHolder()
                try await service.session(
                    request: StreamingClientRequest(of: SessionEnvelope.self) { writer in
                        let channel = await holder.channel(identity)
                        try await channel.pump(into: writer)
                    },
                    options: options
                ) { response in
                    let channel = await holder.channel(identity)
                    switch response.accepted {
                    case let .failure(error):
                        throw error
                    case .success:
                        break
                    }
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { await channel.drain(response.messages, who: "server") }
                        do {
                            box.set(.success(try await body(channel)))
                        } catch {
                            box.set(.failure(error))
                        }
                        // Deliver what the body queued (its last End, say) before the stream goes, then give the
                        // server a moment to end its side cleanly; both bounded.
                        await channel.close()
                        _ = try? await channel.pumpDone.next(timeout: .seconds(5))
                        group.addTask { try? await Task.sleep(for: .seconds(2)) }
                        _ = await group.next()
                        group.cancelAll()
                    }
                }
                client.beginGracefulShutdown()
            }
        } catch let error as RPCError {
            if let result = box.get() { return try result.get() }
            throw SessionTransportError(.connection, "no session with \(configuration.host):\(configuration.port): \(error.code): \(error.message)",
                                        remedy: "check that the server runs, that this station's certificate is on its allow-list, and that both use the lab CA and TLS")
        } catch {
            if let result = box.get() { return try result.get() }
            throw SessionTransportError(.connection, "no session with \(configuration.host):\(configuration.port): \(error)",
                                        remedy: "check that the server runs and the network between the stations")
        }
        guard let result = box.get() else {
            throw SessionTransportError(.connection, "the session stream ended before it started", remedy: "retry; check the server's journal")
        }
        return try result.get()
    }
}

/// The one channel of a client stream, created on first use by either closure.
private actor ChannelHolder {
    private var made: GRPCSessionChannel?
    func channel(_ identity: @Sendable () -> PeerIdentity) -> GRPCSessionChannel {
        if let made { return made }
        let c = GRPCSessionChannel(peer: identity())
        made = c
        return c
    }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Swift.Result<T, any Error>?
    func set(_ v: Swift.Result<T, any Error>) { lock.lock(); if value == nil { value = v }; lock.unlock() }
    func get() -> Swift.Result<T, any Error>? { lock.lock(); defer { lock.unlock() }; return value }
}

private final class ServerCertificateBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Certificate?
    func set(_ c: Certificate) { lock.lock(); value = c; lock.unlock() }
    func get() -> Certificate? { lock.lock(); defer { lock.unlock() }; return value }
}
