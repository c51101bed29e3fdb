import Dispatch
import Foundation

/// Runs numbered work units on a fixed number of threads. Units are handed out in order from a
/// shared counter; each unit's result may depend only on its number (per-unit random streams), so
/// what is computed never depends on how many threads ran or which took which unit.
enum WorkPool {
    static func run(units: Int, threads: Int, _ body: @Sendable (Int) -> Void) {
        guard units > 0 else { return }
        let workers = max(1, min(threads, units))
        if workers == 1 {
            for u in 0..<units { body(u) }
            return
        }
        let counter = UnitCounter(limit: units)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let u = counter.next() { body(u) }
        }
    }
}

private final class UnitCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

/// A raw pointer handed to work units that write disjoint ranges of one buffer.
struct SharedBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    let count: Int
}

/// A read-only raw pointer shared by work units.
struct SharedConstBuffer<T>: @unchecked Sendable {
    let base: UnsafePointer<T>
    let count: Int
}
