import BenchKit
import Foundation

/// Drive waveforms uploaded to the IQ modulator, with what the physics needs precomputed once per
/// upload: for each sample the cosine and sine of the drive angle π V/(2Vπ) of each arm. At a shot
/// the bias angle b (set bias plus drifting φ0) enters by angle addition, so a bias change or drift
/// costs a few multiply-adds per sample, not a trigonometric call.
final class DriveFrame: Sendable {
    let i: [Float]
    let q: [Float]
    let cosI: [Float], sinI: [Float], cosQ: [Float], sinQ: [Float]
    var count: Int { i.count }

    init(i: [Float], q: [Float], vPiI: Double, vPiQ: Double, threads: Int) {
        self.i = i; self.q = q
        let n = i.count
        var ci = [Float](repeating: 0, count: n), si = ci, cq = ci, sq = ci
        let kI = Float(Double.pi / (2 * vPiI)), kQ = Float(Double.pi / (2 * vPiQ))
        let block = 16_384
        i.withUnsafeBufferPointer { pi in q.withUnsafeBufferPointer { pq in
            ci.withUnsafeMutableBufferPointer { bci in si.withUnsafeMutableBufferPointer { bsi in
                cq.withUnsafeMutableBufferPointer { bcq in sq.withUnsafeMutableBufferPointer { bsq in
                    let vi = SharedConstBuffer(base: pi.baseAddress!, count: n), vq = SharedConstBuffer(base: pq.baseAddress!, count: n)
                    let oci = SharedBuffer(base: bci.baseAddress!, count: n), osi = SharedBuffer(base: bsi.baseAddress!, count: n)
                    let ocq = SharedBuffer(base: bcq.baseAddress!, count: n), osq = SharedBuffer(base: bsq.baseAddress!, count: n)
                    WorkPool.run(units: (n + block - 1) / block, threads: threads) { u in
                        for k in (u * block)..<min(n, (u + 1) * block) {
                            let ai = kI * vi.base[k], aq = kQ * vq.base[k]
                            oci.base[k] = cos(ai); osi.base[k] = sin(ai)
                            ocq.base[k] = cos(aq); osq.base[k] = sin(aq)
                        }
                    }
                }}
            }}
        }}
        cosI = ci; sinI = si; cosQ = cq; sinQ = sq
    }

    func holds(i: [Float], q: [Float]) -> Bool { self.i == i && self.q == q }
}

/// The last few prepared frames, so alternating between the layers of a network (the protocol
/// reloads each layer's frames for every batch) does not redo the precomputation.
struct DriveFrameCache: Sendable {
    private var frames: [DriveFrame] = []
    let capacity = 4

    mutating func frame(i: [Float], q: [Float]) -> DriveFrame? {
        guard let k = frames.firstIndex(where: { $0.holds(i: i, q: q) }) else { return nil }
        let f = frames.remove(at: k)
        frames.append(f)
        return f
    }

    mutating func insert(_ f: DriveFrame) {
        frames.append(f)
        if frames.count > capacity { frames.removeFirst() }
    }
}
