import Foundation
import NumericsKit
import Synchronization
import Testing

/// `parallelMap` keeps its chunks' order and runs on at most `ParallelWork.threads` threads, so
/// `qbench bench run --threads 1` measures one thread (before, the server's sums ran on every
/// core whatever the option said).
@Suite("parallelMap: chunk order, and the thread limit", .serialized)
struct ParallelMapTests {
    final class Concurrency: Sendable {
        let running = Atomic<Int>(0), most = Atomic<Int>(0)
        func enter() {
            let now = running.add(1, ordering: .relaxed).newValue
            var seen = most.load(ordering: .relaxed)
            while now > seen {
                let (exchanged, original) = most.compareExchange(expected: seen, desired: now, ordering: .relaxed)
                if exchanged { break }
                seen = original
            }
        }
        func leave() { running.subtract(1, ordering: .relaxed) }
    }

    @Test("results in chunk order, and never more threads at once than the limit", arguments: [1, 2, 3] as [Int?] + [nil])
    func limitIsKept(limit: Int?) {
        ParallelWork.limit(to: limit)
        defer { ParallelWork.limit(to: nil) }
        let seen = Concurrency()
        let out = parallelMap(chunks: 24) { i in
            seen.enter()
            defer { seen.leave() }
            // Long enough that chunks would overlap on every free core.
            var x = UInt64(i)
            for _ in 0..<3_000_000 { x = x &* 6_364_136_223_846_793_005 &+ 1 }
            return (i, x)
        }
        #expect(out.map(\.0) == Array(0..<24))
        let allowed = min(limit ?? availableCores, availableCores)
        #expect(seen.most.load(ordering: .relaxed) <= allowed, "\(seen.most.load(ordering: .relaxed)) at once with the limit \(String(describing: limit))")
        #expect(ParallelWork.threads == allowed)
    }
}
