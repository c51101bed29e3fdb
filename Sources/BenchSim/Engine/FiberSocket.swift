import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What went wrong on the twin's fibre socket.
struct FiberSocketError: Error, CustomStringConvertible, Sendable {
    let description: String
    init(_ description: String) { self.description = description }
    static func system(_ call: String) -> FiberSocketError { FiberSocketError("\(call): \(String(cString: strerror(errno)))") }
}

/// A connected stream socket of the twin's fibre: whole-buffer sends, receives bounded by a
/// deadline, closed once.
final class FiberSocket: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var closed = false

    init(fd: Int32) {
        self.fd = fd
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    func close() {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
        _ = Glibc.close(fd)
    }

    /// A frame: its header, then its body as it is (no copy of the two joined).
    func send(_ kind: FiberWire.Kind, _ body: [UInt8]) throws {
        try send(FiberWire.header(kind, length: body.count))
        try send(body)
    }

    func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FiberSocketError.system("send")
                }
                offset += n
            }
        }
    }

    /// Reads exactly `count` bytes. Waits up to `deadline` (nil: until `stop` says so, checked
    /// every 200 ms).
    func receive(_ count: Int, deadline: ContinuousClock.Instant?, stop: () -> Bool = { false }) throws -> [UInt8] {
        // Not zeroed first: every byte is written by recv before it is returned.
        var bytes = [UInt8](unsafeUninitializedCapacity: count) { _, initialised in initialised = count }
        var offset = 0
        while offset < count {
            var wait: Int32 = 200
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { throw FiberSocketError("no answer within the deadline (\(offset) of \(count) bytes)") }
                let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
                wait = Int32(max(1, min(200, ms)))
            }
            if stop() { throw FiberSocketError("stopped") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, wait)
            if r == 0 { continue }
            if r < 0 {
                if errno == EINTR { continue }
                throw FiberSocketError.system("poll")
            }
            let n = bytes.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress! + offset, count - offset, 0) }
            if n == 0 { throw FiberSocketError("the other end closed the fibre") }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw FiberSocketError.system("recv")
            }
            offset += n
        }
        return bytes
    }

    /// Addresses of HOST:PORT (numeric or a name), stream sockets.
    static func resolve(_ host: String, _ port: Int, passive: Bool) throws -> [(family: Int32, address: [UInt8])] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw FiberSocketError("cannot resolve \(host):\(port): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(first) }
        var out: [(Int32, [UInt8])] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let a = p {
            let bytes = [UInt8](UnsafeRawBufferPointer(start: a.pointee.ai_addr, count: Int(a.pointee.ai_addrlen)))
            out.append((a.pointee.ai_family, bytes))
            p = a.pointee.ai_next
        }
        return out
    }

    /// A listening socket at HOST:PORT.
    static func listen(_ host: String, _ port: Int) throws -> Int32 {
        var last = FiberSocketError("no address for \(host):\(port)")
        for (family, address) in try resolve(host, port, passive: true) {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { last = .system("socket"); continue }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let bound = address.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.count)) }
            guard bound == 0, Glibc.listen(fd, 4) == 0 else { last = .system("bind/listen"); _ = Glibc.close(fd); continue }
            return fd
        }
        throw last
    }

    /// A connection to HOST:PORT (nil: nobody listens yet).
    static func connect(_ host: String, _ port: Int) throws -> FiberSocket? {
        for (family, address) in try resolve(host, port, passive: false) {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            let rc = address.withUnsafeBytes { Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.count)) }
            if rc == 0 { return FiberSocket(fd: fd) }
            _ = Glibc.close(fd)
        }
        return nil
    }
}
