#if canImport(Glibc)
import Glibc
#endif

/// Newline-framed SCPI messages over a non-blocking file descriptor: a TCP socket
/// (`SocketTransport`) or a serial port (`SerialTransport`). Replies end at a newline outside
/// quoted strings and definite-length blocks (`SCPIStreamFramer`); every wait is poll(2) with a
/// `Duration`; a late reply (left by a query that timed out) is dropped before the next command.
/// Not thread-safe: each transport actor owns one.
struct FramedStream {
    private(set) var fd: Int32
    let isSocket: Bool
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already run through the framer, and where the first message ends.
    private var scanned = 0
    private var messageEnd: Int?
    private var framer = SCPIStreamFramer()
    private(set) var discardedBytes = 0

    init(fd: Int32, isSocket: Bool) {
        self.fd = fd
        self.isSocket = isSocket
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

    private func rawWrite(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.withUnsafeBytes { isSocket ? send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    private func rawRead(_ chunk: inout [UInt8]) -> Int {
        chunk.withUnsafeMutableBytes { isSocket ? recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) : Glibc.read(fd, $0.baseAddress, $0.count) }
    }

    mutating func write(_ message: [UInt8], timeout: Duration, resource: String) throws(TransportError) {
        guard !message.isEmpty else {
            throw .unsupported(resource: resource, feature: "an empty message", hint: "send a command and its newline")
        }
        dropLateReplies()
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < message.count {
            let n = rawWrite(message[sent...])
            if n > 0 { sent += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                guard Self.waitFor(fd, events: Int16(POLLOUT), timeout: deadline - ContinuousClock.now) else {
                    throw .timeout(resource: resource, operation: "sending \(describeBytes(message, limit: 48))", limit: timeout,
                                   recovery: "\(sent) of \(message.count) bytes were sent; the instrument is not reading")
                }
                continue
            }
            throw connectionLost(resource, during: "sending", code: errno)
        }
    }

    mutating func readChunk(maxLength: Int, timeout: Duration, resource: String) throws(TransportError) -> MessageChunk {
        let limit = Swift.max(1, maxLength)
        let deadline = ContinuousClock.now + timeout
        while true {
            scan()
            if let end = messageEnd {
                let n = Swift.min(end, limit)
                return take(n, endOfMessage: n == end)
            }
            if !buffer.isEmpty { return take(Swift.min(buffer.count, limit), endOfMessage: false) }
            try receive(until: deadline, limit: timeout, resource: resource)
        }
    }

    mutating func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    private mutating func take(_ n: Int, endOfMessage: Bool) -> MessageChunk {
        let bytes = Array(buffer[..<n])
        buffer.removeFirst(n)
        scanned -= n
        messageEnd = messageEnd.flatMap { $0 - n > 0 ? $0 - n : nil }
        return MessageChunk(bytes: bytes, isEndOfMessage: endOfMessage)
    }

    /// Runs new bytes through the framer until the first message end.
    private mutating func scan() {
        guard messageEnd == nil else { return }
        while scanned < buffer.count {
            let ends = framer.consume(buffer[scanned])
            scanned += 1
            if ends { messageEnd = scanned; return }
        }
    }

    private mutating func receive(until deadline: ContinuousClock.Instant, limit: Duration, resource: String) throws(TransportError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = rawRead(&chunk)
            if n > 0 { buffer += chunk[..<n]; return }
            // 0 bytes: the peer closed the socket, or the tty hung up (raw mode reads 0 only then).
            if n == 0 { throw connectionLost(resource, during: "reading a reply", code: nil) }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw connectionLost(resource, during: "reading a reply", code: errno)
            }
            guard Self.waitFor(fd, events: Int16(POLLIN), timeout: deadline - ContinuousClock.now) else {
                throw .timeout(resource: resource, operation: "reading a reply", limit: limit,
                               recovery: "nothing was aborted (a stream has no device clear); a late reply is discarded before the next command")
            }
        }
    }

    /// Drops buffered bytes and whatever is already readable, and restarts the framer.
    mutating func dropLateReplies() {
        discardedBytes += buffer.count
        buffer = []
        scanned = 0
        messageEnd = nil
        framer.reset()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while fd >= 0 {
            let n = rawRead(&chunk)
            guard n > 0 else { return }
            discardedBytes += n
        }
    }

    private func connectionLost(_ resource: String, during operation: String, code: Int32?) -> TransportError {
        .deviceGone(resource: resource, detail: "the connection was closed while \(operation)" + (code.map { ": \(Self.errnoText($0))" } ?? " by the other end"))
    }
}
