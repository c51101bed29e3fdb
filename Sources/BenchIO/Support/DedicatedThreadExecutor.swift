import Foundation
import Synchronization

/// A serial executor that runs every job on one dedicated thread.
///
/// Device actors (`USBTMCInstrument`) use it because libusb's synchronous transfers block the
/// calling thread for up to their timeout; on a dedicated thread that blocking is harmless,
/// whereas on Swift's cooperative pool (one thread per core, two cores here) it would stall
/// unrelated tasks. The thread ends when the executor is shut down (the owning actor's
/// `deinit` does that) and every queued job has run.
final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var head = 0
        var stopping = false
    }
    private let queue = Mutex(Queue())
    private let wakeup = NSCondition()

    init(name: String) {
        let thread = Thread { [self] in self.run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        wakeup.lock()
        queue.withLock { $0.jobs.append(job) }
        wakeup.signal()
        wakeup.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread finish once the queued jobs have run.
    func shutdown() {
        wakeup.lock()
        queue.withLock { $0.stopping = true }
        wakeup.signal()
        wakeup.unlock()
    }

    private func next() -> UnownedJob? {
        wakeup.lock()
        defer { wakeup.unlock() }
        while true {
            let (job, stop): (UnownedJob?, Bool) = queue.withLock { q in
                if q.head < q.jobs.count {
                    let job = q.jobs[q.head]
                    q.head += 1
                    if q.head > 64 && q.head * 2 > q.jobs.count {
                        q.jobs.removeFirst(q.head)
                        q.head = 0
                    }
                    return (job, false)
                }
                return (nil, q.stopping)
            }
            if let job { return job }
            if stop { return nil }
            wakeup.wait()
        }
    }

    private func run() {
        while let job = next() {
            job.runSynchronously(on: asUnownedSerialExecutor())
        }
    }
}
