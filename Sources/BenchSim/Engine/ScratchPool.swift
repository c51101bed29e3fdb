import Foundation

/// Scratch arrays the shot kernels reuse from burst to burst, so a long run does not allocate (and
/// page-fault) megabytes of temporaries per trigger.
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [FloatStorage] = []
    private let capacity = 24

    /// A buffer of exactly `count` floats (contents undefined).
    func take(_ count: Int) -> FloatStorage {
        lock.lock()
        if let k = free.lastIndex(where: { $0.count == count }) {
            let s = free.remove(at: k)
            lock.unlock()
            return s
        }
        lock.unlock()
        return FloatStorage(count: count, zeroed: false)
    }

    func give(_ storages: [FloatStorage?]) {
        lock.lock(); defer { lock.unlock() }
        for case let s? in storages where s.count > 0 {
            free.append(s)
            if free.count > capacity { free.removeFirst() }
        }
    }
}
