import Foundation

/// Why a channel could not deliver.
public enum SessionChannelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer went away (connection reset or closed, stream ended, process gone) before this side closed.
    case peerLost(String)
    /// Nothing arrived within the timeout.
    case timedOut(Duration)
    /// This side closed the channel.
    case closed
    /// Two tasks called `receive` at once; one receiver per channel.
    case concurrentReceive
    /// The transport refused or failed (connection, TLS, certificate); the text says which.
    case transport(String)

    public var description: String {
        switch self {
        case let .peerLost(why): "peer lost: \(why) — check the other station and the network, then resume from the last commit"
        case let .timedOut(d): "nothing received within \(d) — check that the other station is running; the timeout may be too short for its step"
        case .closed: "the channel is closed on this side — open a new session"
        case .concurrentReceive: "two concurrent receives on one channel — receive from one task only"
        case let .transport(why): "transport: \(why)"
        }
    }
}

/// A bidirectional, ordered, authenticated message channel between the two stations, one per session.
/// Implementations: `InProcessSessionChannel` (one process, tests) and the gRPC + mutual-TLS channel
/// of `SessionTransport`.
public protocol SessionChannel: Sendable {
    /// Queues one envelope for the peer.
    func send(_ envelope: SessionEnvelope) async throws(SessionChannelError)
    /// The next envelope from the peer; waits at most `timeout` (nil: until one arrives or the peer is lost).
    func receive(timeout: Duration?) async throws(SessionChannelError) -> SessionEnvelope
    /// Closes this side (the peer's receive then fails with `peerLost`). Idempotent.
    func close() async
}

/// A FIFO of envelopes with one waiting receiver, a timeout and a terminal error.
/// Shared by the in-process channel and the gRPC channel (which feeds it from its inbound stream).
public actor SessionMailbox {
    private var items: [SessionEnvelope] = []
    private var head = 0
    private var terminal: SessionChannelError?
    private var waiter: (id: UInt64, continuation: CheckedContinuation<Result<SessionEnvelope, SessionChannelError>, Never>)?
    private var nextWaiterID: UInt64 = 0

    public init() {}

    /// Delivers one envelope (ignored once finished).
    public func push(_ envelope: SessionEnvelope) {
        guard terminal == nil else { return }
        if let w = waiter {
            waiter = nil
            w.continuation.resume(returning: .success(envelope))
        } else {
            items.append(envelope)
        }
    }

    /// Ends the mailbox: queued envelopes are still delivered, then `error` forever. The first error wins.
    public func finish(_ error: SessionChannelError) {
        guard terminal == nil else { return }
        terminal = error
        if let w = waiter, head == items.count {
            waiter = nil
            w.continuation.resume(returning: .failure(error))
        }
    }

    public var isFinished: Bool { terminal != nil }
    /// The error the mailbox was finished with (queued envelopes may still be waiting before it).
    public var finishedWith: SessionChannelError? { terminal }

    public func next(timeout: Duration?) async throws(SessionChannelError) -> SessionEnvelope {
        if head < items.count {
            let item = items[head]
            head += 1
            if head > 64, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
        if let terminal { throw terminal }
        guard waiter == nil else { throw .concurrentReceive }
        nextWaiterID &+= 1
        let id = nextWaiterID
        let timer: Task<Void, Never>? = timeout.map { timeout in
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { await self?.expire(id, with: .timedOut(timeout)) }
            }
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<SessionEnvelope, SessionChannelError>, Never>) in
                waiter = (id, continuation)
            }
        } onCancel: {
            Task { await self.expire(id, with: .closed) }
        }
        timer?.cancel()
        return try result.get()
    }

    private func expire(_ id: UInt64, with error: SessionChannelError) {
        guard let w = waiter, w.id == id else { return }
        waiter = nil
        w.continuation.resume(returning: .failure(error))
    }
}

/// Two connected ends in one process (`qbench run` in one process, tests). Envelopes are serialised
/// and decoded on the way, like on the wire, so both transports behave the same.
public final class InProcessSessionChannel: SessionChannel {
    private let inbox: SessionMailbox
    private let outbox: SessionMailbox
    private let closedFlag: SessionMailbox  // finished when this end closes

    private init(inbox: SessionMailbox, outbox: SessionMailbox) {
        self.inbox = inbox
        self.outbox = outbox
        self.closedFlag = SessionMailbox()
    }

    /// A connected pair: what `server` sends, `client` receives, and the reverse.
    public static func pair() -> (server: InProcessSessionChannel, client: InProcessSessionChannel) {
        let toServer = SessionMailbox()
        let toClient = SessionMailbox()
        return (InProcessSessionChannel(inbox: toServer, outbox: toClient), InProcessSessionChannel(inbox: toClient, outbox: toServer))
    }

    public func send(_ envelope: SessionEnvelope) async throws(SessionChannelError) {
        guard await !closedFlag.isFinished else { throw .closed }
        guard await !outbox.isFinished else { throw .peerLost("the peer closed the in-process channel") }
        guard let copy = try? SessionEnvelope(serializedBytes: envelope.wireBytes) else {
            throw .transport("envelope \(envelope.sequence) did not survive serialisation")
        }
        await outbox.push(copy)
    }

    public func receive(timeout: Duration?) async throws(SessionChannelError) -> SessionEnvelope {
        guard await !closedFlag.isFinished else { throw .closed }
        return try await inbox.next(timeout: timeout)
    }

    public func close() async {
        await closedFlag.finish(.closed)
        await inbox.finish(.closed)
        await outbox.finish(.peerLost("the peer closed the in-process channel"))
    }
}
