import BenchKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The server's site of a split twin: listens at the fibre's address, takes the client twin that
/// connects (a newer connection replaces an older one: a restarted client station), and sends each
/// burst down the fibre, waiting for the light that comes back.
final class TCPFiberServer: FiberEnd, @unchecked Sendable {
    let host: String, port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var peer: FiberSocket?
    /// One burst on the fibre at a time.
    private let exchangeLock = NSLock()
    private var stopped = false

    init(host: String, port: Int) throws {
        self.host = host; self.port = port
        listener = try FiberSocket.listen(host, port)
        let thread = Thread { [weak self] in self?.acceptLoop() }
        thread.name = "sim-fiber accept \(host):\(port)"
        thread.start()
    }

    deinit {
        stopped = true
        _ = Glibc.shutdown(listener, Int32(SHUT_RDWR))
        _ = Glibc.close(listener)
    }

    var peerDescription: String { "the client's twin on the fibre at \(host):\(port)" }

    /// How long a measured burst waits for a client twin to connect before it fails.
    static let connectWait: Duration = .seconds(5)

    var connected: Bool { lock.withLock { peer != nil } }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let socket = FiberSocket(fd: fd)
            // The other end says what it is within 5 s, or is dropped.
            do {
                let (kind, length) = try FiberWire.header(try socket.receive(16, deadline: .now + .seconds(5)))
                guard kind == .hello, length == FiberWire.hello.count,
                      try socket.receive(length, deadline: .now + .seconds(5)) == FiberWire.hello else { socket.close(); continue }
                try socket.send(.hello, FiberWire.hello)
            } catch {
                socket.close()
                continue
            }
            lock.withLock {
                peer?.close()
                peer = socket
            }
        }
    }

    func exchange(_ light: ArrivingLight, timeout: Duration) throws -> ReturnedLight? {
        exchangeLock.lock(); defer { exchangeLock.unlock() }
        // A client station just started may still be connecting its end: wait for it a little
        // when someone measures this light.
        var socket = lock.withLock { peer }
        let connectDeadline = ContinuousClock.now + Self.connectWait
        while socket == nil, light.returnShots > 0, ContinuousClock.now < connectDeadline {
            Thread.sleep(forTimeInterval: 0.01)
            socket = lock.withLock { peer }
        }
        guard let socket else {
            guard light.returnShots == 0 else {
                throw DeviceError(.notReady, device: Role.link.rawValue, message: "no client twin is connected to the fibre at \(host):\(port)",
                                  remedy: "start the client station, whose site bench binds link to sim-fiber://\(host):\(port), then fire again")
            }
            return nil
        }
        do {
            try socket.send(.burst, FiberWire.encode(light))
            let deadline = ContinuousClock.now + timeout
            let (kind, length) = try FiberWire.header(try socket.receive(16, deadline: deadline))
            guard kind == .answer else { throw FiberSocketError("expected an answer, got a \(kind) frame") }
            switch try FiberWire.decodeAnswer(try socket.receive(length, deadline: deadline), for: light) {
            case let .success(returned): return returned
            case let .failure(error): throw error
            }
        } catch let error as FiberSocketError {
            lock.withLock {
                if peer === socket { peer = nil }
            }
            socket.close()
            throw DeviceError(.disconnected, device: Role.link.rawValue, message: "the fibre to the client's twin at \(host):\(port) failed: \(error)",
                              remedy: "restart the client station; the light of this burst is lost")
        }
    }
}

/// The client's site of a split twin: connects to the server's fibre port (retrying until it
/// listens), and answers each burst with what its optics send back.
final class TCPFiberClient: @unchecked Sendable {
    let host: String, port: Int
    private weak var engine: SimulationEngine?
    private let lock = NSLock()
    private var stopped = false
    private var socket: FiberSocket?

    init(host: String, port: Int, engine: SimulationEngine) {
        self.host = host; self.port = port; self.engine = engine
        let thread = Thread { [self] in self.run() }
        thread.name = "sim-fiber client \(host):\(port)"
        thread.start()
    }

    func stop() {
        lock.withLock {
            stopped = true
            socket?.close()
        }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func run() {
        while !isStopped, engine != nil {
            guard let s = try? FiberSocket.connect(host, port) else {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            lock.withLock { socket = s }
            do {
                try s.send(.hello, FiberWire.hello)
                let (kind, length) = try FiberWire.header(try s.receive(16, deadline: .now + .seconds(5)))
                guard kind == .hello, try s.receive(length, deadline: .now + .seconds(5)) == FiberWire.hello else { throw FiberSocketError("not a fibre port") }
                try serve(s)
            } catch {
                s.close()
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    /// Answers bursts until the fibre breaks or the twin closes.
    private func serve(_ s: FiberSocket) throws {
        while true {
            let header = try s.receive(16, deadline: nil, stop: { [weak self] in self?.isStopped ?? true })
            let (kind, length) = try FiberWire.header(header)
            let body = try s.receive(length, deadline: .now + .seconds(60))
            guard kind == .burst else { throw FiberSocketError("expected a burst, got a \(kind) frame") }
            let light = try FiberWire.decodeBurst(body)
            guard let engine else { return }
            let answer: [UInt8]
            do { answer = FiberWire.encode(try engine.receive(light)) } catch let error as DeviceError {
                answer = FiberWire.encode(error)
            } catch {
                answer = FiberWire.encode(DeviceError(.instrumentError, device: Role.clientProcessor.rawValue, message: "\(error)", remedy: "check the client station's log"))
            }
            try s.send(.answer, answer)
        }
    }
}
