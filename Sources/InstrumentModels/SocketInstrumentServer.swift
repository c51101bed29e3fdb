import BenchIO
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An emulated LAN instrument: a TCP listener on 127.0.0.1 (an ephemeral port unless given)
/// that serves the SCPI raw-socket protocol (docs/hardware.md §2.4) in front of any
/// `SCPIMessageDevice`, i.e. the same instrument models the in-memory and USB bus tests use.
/// Program messages are framed like the client frames replies (`SCPIStreamFramer`: newline
/// outside strings and blocks); each reply the device produces is sent back whole. One client at
/// a time, like most instruments' socket server; for tests.
public final class SocketInstrumentServer: @unchecked Sendable {
    public let device: any SCPIMessageDevice
    public let port: Int
    private let listener: Int32
    private let stopping = Mutex(false)
    private let connections = Mutex(0)
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    /// How many clients have connected so far.
    public var connectionCount: Int { connections.withLock { $0 } }

    public init(device: any SCPIMessageDevice, port: Int = 0) throws {
        self.device = device
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError(detail: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            let text = String(cString: strerror(errno))
            _ = Glibc.close(fd)
            throw ServerError(detail: "bind/listen on 127.0.0.1:\(port): \(text)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.listener = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let t = Thread { [self] in self.serve() }
        t.name = "emulated LAN instrument :\(self.port)"
        thread = t
        t.start()
    }

    deinit { stop() }

    /// Stops accepting and closes the listener; the serving thread ends within 50 ms.
    public func stop() {
        let wasStopping = stopping.withLock { s -> Bool in defer { s = true }; return s }
        guard !wasStopping else { return }
        done.wait()
        _ = Glibc.close(listener)
    }

    public struct ServerError: Error, CustomStringConvertible {
        public let detail: String
        public var description: String { "emulated LAN instrument: \(detail)" }
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    private func ready(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 50) > 0
    }

    private func serve() {
        defer { done.signal() }
        while !isStopping {
            guard ready(listener) else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            connections.withLock { $0 += 1 }
            handle(client)
            _ = Glibc.close(client)
        }
    }

    private func handle(_ client: Int32) {
        Self.serve(device: device, fd: client, isSocket: true) { [self] in isStopping }
    }

    /// Serves `device` on a connected stream (socket or pseudo-terminal master) until the other
    /// end closes it or `stop()` says so: frames program messages, hands each to the device and
    /// writes back every reply it produces.
    static func serve(device: any SCPIMessageDevice, fd: Int32, isSocket: Bool, stop: () -> Bool) {
        var framer = SCPIStreamFramer()
        var message: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while !stop() {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { isSocket ? recv(fd, $0.baseAddress, $0.count, 0) : Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            if n <= 0 {
                // A pty master reads EIO while no slave is open: wait for the next client.
                if !isSocket { usleep(10_000); continue }
                return
            }
            for byte in chunk[..<n] {
                message.append(byte)
                guard framer.consume(byte) else { continue }
                device.receive(message)
                message = []
                while let reply = device.readResponse(maxLength: 1 << 20) {
                    guard writeAll(fd, reply.bytes, isSocket: isSocket) else { return }
                    if reply.isEndOfMessage { break }
                }
            }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], isSocket: Bool) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { isSocket ? send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { usleep(1000); continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }
}

/// An emulated serial instrument: a pseudo-terminal pair whose master side runs
/// an `SCPIMessageDevice` (the same models as every other test) and whose slave side, `path`
/// (`/dev/pts/N`), is what the driver opens as its serial port. For tests.
public final class PseudoTerminalInstrument: @unchecked Sendable {
    public let device: any SCPIMessageDevice
    public let path: String
    private let master: Int32
    private let stopping = Mutex(false)
    private let done = DispatchSemaphore(value: 0)

    public init(device: any SCPIMessageDevice) throws {
        self.device = device
        // posix_openpt(3), unlockpt(3) and ptsname(3) as glibc implements them on Linux (the
        // Swift Glibc module does not export them): open /dev/ptmx, clear the lock with
        // TIOCSPTLCK, read the slave's number with TIOCGPTN (asm-generic/ioctls.h encodings).
        let tiocsptlck: UInt = 0x4004_5431, tiocgptn: UInt = 0x8004_5430
        let fd = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard fd >= 0, ioctl(fd, tiocsptlck, &unlock) == 0, ioctl(fd, tiocgptn, &number) == 0 else {
            let text = String(cString: strerror(errno))
            if fd >= 0 { _ = Glibc.close(fd) }
            throw SocketInstrumentServer.ServerError(detail: "opening a pseudo-terminal (/dev/ptmx): \(text)")
        }
        master = fd
        path = "/dev/pts/\(number)"
        // The master side raw too, so the line discipline passes bytes through unchanged.
        var t = termios()
        if tcgetattr(fd, &t) == 0 { cfmakeraw(&t); _ = tcsetattr(fd, TCSANOW, &t) }
        let thread = Thread { [self] in
            SocketInstrumentServer.serve(device: self.device, fd: self.master, isSocket: false) { self.stopping.withLock { $0 } }
            self.done.signal()
        }
        thread.name = "emulated serial instrument \(path)"
        thread.start()
    }

    /// Stops serving and closes the master side (the slave then reads EIO / hangs up).
    public func stop() {
        let was = stopping.withLock { s -> Bool in defer { s = true }; return s }
        guard !was else { return }
        done.wait()
        _ = Glibc.close(master)
    }
}
