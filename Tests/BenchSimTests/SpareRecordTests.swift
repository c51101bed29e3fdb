@testable import BenchSim
import Testing

/// The server receiver's records reused burst after burst: a block's bursts of the client (full,
/// then a short last one) and its back-to-back reference must not make the twin fill a full
/// record with zeros each block (it did: 26 of 32 shots' worth per block and layer).
@Suite("Spare records")
struct SpareRecordTests {
    /// One block of 100 images in bursts of 32 (layer 1: 32, 32, 32, 4 and a 30-shot reference;
    /// layer 2 the same with 10 rows instead of 784), repeated: sizes in samples per shot × shots.
    static func block() -> [Int] {
        let big = 784 * 784, small = 10 * 784
        return [32, 32, 32, 4, 30].map { $0 * big } + [32, 32, 32, 4, 30].map { $0 * small }
    }

    @Test("a block's bursts are served by two kept records; growing one back fills at most two shots per block")
    func blocksReuseTwoRecords() {
        var spares = SpareRecords()
        for _ in 0..<5 {
            for count in Self.block() {
                let r = spares.record(count: count)
                #expect(r.count == count)
                spares.give(r)
            }
        }
        #expect(spares.capacities.count == 2)
        #expect(spares.capacities.max()! >= 32 * 784 * 784)
        // The first block allocates its records; every block grows the 30-shot record back to 32
        // (2 shots) and the short record from a layer-2 burst to 4 full shots, and nothing more.
        let perBlock = 2 * 784 * 784 + 4 * 784 * 784
        #expect(spares.zeroFilled <= 5 * perBlock, "\(spares.zeroFilled) samples zero-filled over 5 blocks")
        #expect(spares.zeroFilled < 5 * 26 * 784 * 784 / 2)
    }

    @Test("a record is exactly the burst's size, fresh or kept")
    func exactSizes() {
        var spares = SpareRecords()
        for count in [10, 3, 7, 10, 25, 1] {
            let r = spares.record(count: count)
            #expect(r.count == count)
            spares.give(r)
            #expect(spares.capacities.count <= 2)
        }
    }
}
