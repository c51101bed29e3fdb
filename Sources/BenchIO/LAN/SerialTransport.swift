#if canImport(Glibc)
import Glibc
#endif

/// SCPI over a serial port (RS-232 or a USB serial adapter such as an FTDI cable; termios, raw
/// mode, 8N1, no flow control) as a `MessageTransport`. Messages are newline-terminated like on
/// a socket and framed the same way (`SCPIStreamFramer`, docs/hardware.md §2.4); every timeout is
/// a `Duration` (poll(2)). A serial line has no device clear: `clear` discards what the
/// instrument already sent, and a late reply is dropped before the next command.
public actor SerialTransport: MessageTransport {
    public nonisolated let resourceName: String
    public nonisolated let path: String
    public nonisolated let baudRate: Int
    private var stream: FramedStream
    private let executor: DedicatedThreadExecutor

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// The rates termios offers by name.
    public static let baudRates: [Int: speed_t] = [
        1200: speed_t(B1200), 2400: speed_t(B2400), 4800: speed_t(B4800), 9600: speed_t(B9600), 19200: speed_t(B19200),
        38400: speed_t(B38400), 57600: speed_t(B57600), 115200: speed_t(B115200), 230400: speed_t(B230400),
        460800: speed_t(B460800), 921600: speed_t(B921600),
    ]

    private init(fd: Int32, path: String, baudRate: Int) {
        self.stream = FramedStream(fd: fd, isSocket: false)
        self.path = path
        self.baudRate = baudRate
        self.resourceName = "ASRL \(path) at \(baudRate) Bd"
        self.executor = DedicatedThreadExecutor(name: "serial \(path)")
    }

    deinit {
        stream.close()
        executor.shutdown()
    }

    /// Opens `path` (e.g. `/dev/ttyUSB0`) raw, 8N1, at `baudRate`.
    public static func open(path: String, baudRate: Int = 9600) throws(TransportError) -> SerialTransport {
        let name = "ASRL \(path)"
        guard let speed = baudRates[baudRate] else {
            throw .unsupported(resource: name, feature: "\(baudRate) Bd", hint: "use one of \(baudRates.keys.sorted().map(String.init).joined(separator: ", ")) Bd")
        }
        let fd = Glibc.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let hint = code == EACCES ? ": add the user to the dialout group" : ""
            throw .connectionFailed(resource: name, detail: "cannot open \(path): \(FramedStream.errnoText(code))\(hint)")
        }
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw .connectionFailed(resource: name, detail: "\(path) is not a serial port: \(FramedStream.errnoText(code))")
        }
        cfmakeraw(&t)
        t.c_cflag |= tcflag_t(CLOCAL) | tcflag_t(CREAD)
        t.c_cflag &= ~(tcflag_t(CSTOPB) | tcflag_t(PARENB) | tcflag_t(CRTSCTS))
        _ = cfsetispeed(&t, speed)
        _ = cfsetospeed(&t, speed)
        guard tcsetattr(fd, TCSANOW, &t) == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw .connectionFailed(resource: name, detail: "cannot configure \(path): \(FramedStream.errnoText(code))")
        }
        _ = tcflush(fd, TCIOFLUSH)
        return SerialTransport(fd: fd, path: path, baudRate: baudRate)
    }

    private func ensureOpen() throws(TransportError) {
        guard stream.fd >= 0 else { throw .closed(resource: resourceName) }
    }

    public func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        try ensureOpen()
        try stream.write(message, timeout: timeout, resource: resourceName)
    }

    public func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        try ensureOpen()
        return try stream.readChunk(maxLength: maxLength, timeout: timeout, resource: resourceName)
    }

    /// Discards what the instrument already sent (a serial line has no device clear).
    public func clear(timeout: Duration) throws(TransportError) {
        try ensureOpen()
        stream.dropLateReplies()
    }

    public var discardedBytes: Int { stream.discardedBytes }

    public func close() { stream.close() }
}
