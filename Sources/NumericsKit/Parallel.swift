import Foundation

/// The number of cores this process may use (what benchmarks report beside their figures).
public var availableCores: Int { ProcessInfo.processInfo.activeProcessorCount }

/// Runs `body(chunk)` for `chunks` chunks on all cores and returns the results in chunk order.
public func parallelMap<T: Sendable>(chunks: Int, _ body: @Sendable (Int) -> T) -> [T] {
    guard chunks > 0 else { return [] }
    let box = ResultBox<T>(count: chunks)
    DispatchQueue.concurrentPerform(iterations: chunks) { i in box.set(i, body(i)) }
    return box.values()
}

private final class ResultBox<T>: @unchecked Sendable {
    private var storage: [T?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); storage[i] = value; lock.unlock() }
    func values() -> [T] { lock.lock(); defer { lock.unlock() }; return storage.map { $0! } }
}
