import Synchronization

/// A first-in, first-out lock for async code. An SCPI exchange (a set command and the error-queue
/// drain after it, or a query and its reply) spans several suspension points; holding this lock
/// across the whole exchange keeps other tasks, and other roles sharing the same instrument (an
/// AWG driving both the modulator and the receiver's LO phase), from interleaving on the wire.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func lock() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if !s.locked { s.locked = true; return true }
                s.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    func unlock() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.locked = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Runs `body` holding the lock, on the caller's actor.
    func withLock<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
