import Foundation

/// Runs blocking work (a GPIO pulse train, a wait for an edge) on a thread of its own, so it
/// never occupies one of the two cooperative-pool threads of this machine.
enum BlockingWork {
    static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
