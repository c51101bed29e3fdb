#if canImport(Glibc)
import Glibc
#endif

/// SCPI over a raw TCP socket (LXI instruments' "SCPI raw socket", port 5025 by default;
/// VISA `TCPIP::HOST::PORT::SOCKET`, docs/hardware.md §2.4) as a `MessageTransport`, so every
/// driver runs over LAN unchanged.
///
/// A socket has no end-of-message bit: a reply ends at a newline outside quoted strings and
/// definite-length blocks (`SCPIStreamFramer`). Every timeout is a `Duration` (poll(2) on a
/// non-blocking socket). A raw socket has no device clear either: `clear` discards whatever
/// the instrument already sent, and every `write` first drops a late reply left by a query that
/// timed out, so it cannot be taken for the next reply. The blocking calls run on the actor's
/// own thread, never on Swift's cooperative pool.
public actor SocketTransport: MessageTransport {
    public nonisolated let resourceName: String
    public nonisolated let host: String
    public nonisolated let port: Int
    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already run through the framer, and where the first message ends.
    private var scanned = 0
    private var messageEnd: Int?
    private var framer = SCPIStreamFramer()
    /// Replies dropped because nobody read them (late replies after a timeout).
    public private(set) var discardedBytes = 0
    private let executor: DedicatedThreadExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private init(fd: Int32, host: String, port: Int) {
        self.fd = fd
        self.host = host
        self.port = port
        let name = "TCPIP \(host.contains(":") ? "[\(host)]" : host):\(port)"
        self.resourceName = name
        self.executor = DedicatedThreadExecutor(name: "socket \(name)")
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
        executor.shutdown()
    }

    /// Connects to `host:port` within `connectTimeout`.
    public static func open(host: String, port: Int = 5025, connectTimeout: Duration = .seconds(5)) async throws(TransportError) -> SocketTransport {
        let name = "TCPIP \(host):\(port)"
        guard (1...65535).contains(port) else { throw .connectionFailed(resource: name, detail: "port \(port) is not 1…65535") }
        let fd = try connect(host: host, port: port, timeout: connectTimeout, name: name)
        return SocketTransport(fd: fd, host: host, port: port)
    }

    private static func connect(host: String, port: Int, timeout: Duration, name: String) throws(TransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .connectionFailed(resource: name, detail: "name lookup failed: \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            entry = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            guard fd >= 0 else { lastError = errnoText(errno); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else { lastError = errnoText(errno); _ = Glibc.close(fd); continue }
            guard waitFor(fd, events: Int16(POLLOUT), timeout: timeout) else {
                lastError = "no answer within \(timeout.benchDescription)"
                _ = Glibc.close(fd)
                continue
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return fd }
            lastError = errnoText(soError)
            _ = Glibc.close(fd)
        }
        throw .connectionFailed(resource: name, detail: lastError)
    }

    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// poll(2) for `events` until `timeout`; true when ready (or in error, which the next call reports).
    static func waitFor(_ fd: Int32, events: Int16, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            let ms = left <= .zero ? 0 : Int32(min(Double(Int32.max), (Double(left.components.seconds) * 1e3 + Double(left.components.attoseconds) / 1e15).rounded(.up)))
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&p, 1, ms)
            if rc > 0 { return true }
            if rc == 0 { return false }
            if errno != EINTR { return true }
        }
    }

    private func ensureOpen() throws(TransportError) {
        guard fd >= 0 else { throw .closed(resource: resourceName) }
    }

    // MARK: - MessageTransport

    public func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        try ensureOpen()
        guard !message.isEmpty else {
            throw .unsupported(resource: resourceName, feature: "an empty message", hint: "send a command and its newline")
        }
        dropLateReplies()
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < message.count {
            let n = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                guard Self.waitFor(fd, events: Int16(POLLOUT), timeout: deadline - ContinuousClock.now) else {
                    throw .timeout(resource: resourceName, operation: "sending \(describeBytes(message, limit: 48))", limit: timeout,
                                   recovery: "\(sent) of \(message.count) bytes were sent; the instrument is not reading its socket")
                }
                continue
            }
            throw connectionLost(during: "sending", code: errno)
        }
    }

    public func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        try ensureOpen()
        let limit = Swift.max(1, maxLength)
        let deadline = ContinuousClock.now + timeout
        while true {
            scan()
            if let end = messageEnd {
                let n = Swift.min(end, limit)
                return take(n, endOfMessage: n == end)
            }
            if !buffer.isEmpty { return take(Swift.min(buffer.count, limit), endOfMessage: false) }
            try receive(until: deadline, limit: timeout)
        }
    }

    /// Discards what the instrument already sent (a raw socket has no device clear).
    public func clear(timeout: Duration) throws(TransportError) {
        try ensureOpen()
        dropLateReplies()
    }

    /// Closes the socket; later calls throw `.closed`.
    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    // MARK: - Plumbing

    private func take(_ n: Int, endOfMessage: Bool) -> MessageChunk {
        let bytes = Array(buffer[..<n])
        buffer.removeFirst(n)
        scanned -= n
        messageEnd = messageEnd.flatMap { $0 - n > 0 ? $0 - n : nil }
        return MessageChunk(bytes: bytes, isEndOfMessage: endOfMessage)
    }

    /// Runs new bytes through the framer until the first message end.
    private func scan() {
        guard messageEnd == nil else { return }
        while scanned < buffer.count {
            let ends = framer.consume(buffer[scanned])
            scanned += 1
            if ends { messageEnd = scanned; return }
        }
    }

    private func receive(until deadline: ContinuousClock.Instant, limit: Duration) throws(TransportError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { buffer += chunk[..<n]; return }
            if n == 0 { throw connectionLost(during: "reading a reply", code: nil) }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { throw connectionLost(during: "reading a reply", code: errno) }
            guard Self.waitFor(fd, events: Int16(POLLIN), timeout: deadline - ContinuousClock.now) else {
                throw .timeout(resource: resourceName, operation: "reading a reply", limit: limit,
                               recovery: "nothing was aborted (a raw socket has no device clear); a late reply is discarded before the next command")
            }
        }
    }

    /// Drops buffered bytes and whatever is already readable, and restarts the framer.
    private func dropLateReplies() {
        discardedBytes += buffer.count
        buffer = []
        scanned = 0
        messageEnd = nil
        framer.reset()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { return }
            discardedBytes += n
        }
    }

    private func connectionLost(during operation: String, code: Int32?) -> TransportError {
        .deviceGone(resource: resourceName, detail: "the connection was closed while \(operation)" + (code.map { ": \(Self.errnoText($0))" } ?? " by the instrument"))
    }
}
