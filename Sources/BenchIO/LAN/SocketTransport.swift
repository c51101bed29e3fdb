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
    private var stream: FramedStream
    private let executor: DedicatedThreadExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private init(fd: Int32, host: String, port: Int) {
        self.stream = FramedStream(fd: fd, isSocket: true)
        self.host = host
        self.port = port
        let name = "TCPIP \(host.contains(":") ? "[\(host)]" : host):\(port)"
        self.resourceName = name
        self.executor = DedicatedThreadExecutor(name: "socket \(name)")
    }

    deinit {
        stream.close()
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
            guard FramedStream.waitFor(fd, events: Int16(POLLOUT), timeout: timeout) else {
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

    static func errnoText(_ code: Int32) -> String { FramedStream.errnoText(code) }

    private func ensureOpen() throws(TransportError) {
        guard stream.fd >= 0 else { throw .closed(resource: resourceName) }
    }

    // MARK: - MessageTransport

    public func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        try ensureOpen()
        try stream.write(message, timeout: timeout, resource: resourceName)
    }

    public func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        try ensureOpen()
        return try stream.readChunk(maxLength: maxLength, timeout: timeout, resource: resourceName)
    }

    /// Discards what the instrument already sent (a raw socket has no device clear).
    public func clear(timeout: Duration) throws(TransportError) {
        try ensureOpen()
        stream.dropLateReplies()
    }

    /// Replies dropped because nobody read them (late replies after a timeout).
    public var discardedBytes: Int { stream.discardedBytes }

    /// Closes the socket; later calls throw `.closed`.
    public func close() { stream.close() }
}
