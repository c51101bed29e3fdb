import Foundation
import Synchronization

/// The number of cores this process may use (what benchmarks report beside their figures), read
/// once: on Linux, Foundation's `activeProcessorCount` opens and parses the process's cgroup files
/// on every call (about 11 µs and eight system calls here), and `parallelMap` asks for it on every
/// call, hundreds of times per burst of a protocol run.
public let availableCores: Int = ProcessInfo.processInfo.activeProcessorCount

/// How many threads `parallelMap` runs its chunks on: every core, unless a command limits the
/// process (`qbench bench run --threads N` measures the run on N threads: the twin's workers and
/// the server's sums alike). Results never depend on it: chunks are fixed and merged in order.
public enum ParallelWork {
    private static let limit = Atomic<Int>(0)   // 0: every core

    public static var threads: Int {
        let l = limit.load(ordering: .relaxed)
        return l > 0 ? min(l, availableCores) : availableCores
    }

    /// Limits `parallelMap` to `threads` threads (at least 1); `nil` lifts the limit.
    public static func limit(to threads: Int?) { limit.store(threads.map { max(1, $0) } ?? 0, ordering: .relaxed) }
}

/// Runs `body(chunk)` for `chunks` chunks on `ParallelWork.threads` threads and returns the results
/// in chunk order. With one thread the chunks run in order on the caller's thread.
public func parallelMap<T: Sendable>(chunks: Int, _ body: @Sendable (Int) -> T) -> [T] {
    guard chunks > 0 else { return [] }
    let box = ResultBox<T>(count: chunks)
    let threads = min(chunks, ParallelWork.threads)
    if threads == 1 {
        for i in 0..<chunks { box.set(i, body(i)) }
    } else {
        // Worker w takes chunks w, w + threads, …: never more than `threads` run at once.
        DispatchQueue.concurrentPerform(iterations: threads) { w in
            for i in stride(from: w, to: chunks, by: threads) { box.set(i, body(i)) }
        }
    }
    return box.values()
}

private final class ResultBox<T>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); storage[i] = value; lock.unlock() }
    func values() -> [T] { lock.lock(); defer { lock.unlock() }; return storage.map { $0! } }
}
