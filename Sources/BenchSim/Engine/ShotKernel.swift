import BenchKit
import CKernels
import Foundation
import Numerics
import NumericsKit

/// The server's side of the shots of one trigger burst, in work units of (shot, block) that run in
/// any order on any thread: each unit draws from its own streams, keyed by the global shot number
/// and the block, so the samples are the same for any thread count.
///
/// Client path: the burst's light goes to the client's twin (`ArrivingLight`, through a
/// `FiberEnd`) and what returns (`ReturnedLight`: the arrival plus ξ_j D per row, plus the
/// heterodyne outcomes of an intercept-resend client) comes through the return link √T e^{iφ} to
/// the server receiver, whose sample of slot s is offset + q_s + Re(ξ_j D' w_s) + N(0, g² + σ_el²),
/// D' = √T e^{iφ} D, quantised. Back-to-back: offset + q_s + N(0, g² + σ_el²).
final class ShotComputation: @unchecked Sendable {
    let p: ShotPlan
    let fields: ShotFields
    let bulk: Gaussian.BulkSampler
    let pool: ScratchPool

    static let slotsPerBlock = 32_768

    init(_ plan: ShotPlan, bulk: Gaussian.BulkSampler, pool: ScratchPool) {
        p = plan
        self.bulk = bulk
        self.pool = pool
        fields = ShotFields(plan, pool: pool)
    }

    /// Returns the scratch arrays to the pool (call once the burst is done).
    func recycle() { fields.recycle(into: pool) }

    static func stream(_ shot: UInt64, _ block: Int) -> UInt64 { shot << 20 | UInt64(block) }

    /// The burst as the client's input sees it: its light on the client path, dark back-to-back.
    func arriving() -> ArrivingLight {
        let lit = p.path == .client
        return ArrivingLight(firstShot: p.firstShot, shots: p.shots, returnShots: lit ? p.serverShots : 0, time: p.time + p.linkDelay, slots: p.slots,
                             re: lit ? fields.aRe : nil, im: lit ? fields.aIm : nil)
    }

    /// The server receiver's samples (serverShots × slots) of the back-to-back path, or of the
    /// client path with the light that came back. Returns how many sit at the digitiser's rails
    /// (counted by each unit as it quantises). Units run block-major: consecutive units read the
    /// same block of the burst's fields, still in cache, for the next shot.
    func run(server: SharedBuffer<Float>, returned: ReturnedLight?) -> Int {
        let clientPath = p.path == .client && returned != nil
        let (rowsPerBlock, rowBlocks) = returned.map { ClientShotComputation.blocks($0.layout) } ?? (0, 0)
        let blocks = clientPath ? rowBlocks : (p.slots + Self.slotsPerBlock - 1) / Self.slotsPerBlock
        let units = p.serverShots * blocks
        let rails = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, units))
        defer { rails.deallocate() }
        let counts = SharedBuffer(base: rails.baseAddress!, count: units)
        if clientPath, let returned {
            let rows = returned.layout.rows
            WorkPool.run(units: units, threads: p.threads) { u in
                let b = u / p.serverShots
                counts.base[u] = self.clientPathUnit(shot: u % p.serverShots, rows: b * rowsPerBlock..<min(rows, (b + 1) * rowsPerBlock), block: b,
                                                     returned: returned, server: server)
            }
        } else {
            WorkPool.run(units: units, threads: p.threads) { u in
                counts.base[u] = self.directUnit(shot: u % p.serverShots, block: u / p.serverShots, server: server)
            }
        }
        return rails.prefix(units).reduce(0, +)
    }

    // MARK: client path

    private func clientPathUnit(shot k: Int, rows: Range<Int>, block: Int, returned: ReturnedLight, server: SharedBuffer<Float>) -> Int {
        let layout = returned.layout
        let id = Self.stream(p.firstShot + UInt64(k), block)
        var slotRng = Xoshiro256(seed: p.seeds.slot, stream: id)
        let n = layout.modesPerRow, spr = layout.slotsPerRow, L = p.slots
        let sigma = Float(p.server.vacuumSigma)
        let offset = p.server.digitiser.offset
        let dig = p.server.digitiser
        let backRe = Float(p.back.real), backIm = Float(p.back.imaginary)
        var digitiser = dig.transfer
        let blockSlots = rows.count * spr
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, blockSlots)) { noise in
            var rails = 0
            bulk.fill(UnsafeMutableBufferPointer(rebasing: noise[0..<blockSlots]), &slotRng)
            for r in rows {
                let dRaw = Complex(Double(returned.rowDisplacement[2 * (k * layout.rows + r)]), Double(returned.rowDisplacement[2 * (k * layout.rows + r) + 1]))
                let d = p.back * dRaw
                let dr = Float(d.real), di = Float(d.imaginary)
                let s0 = r * spr, nz = (r - rows.lowerBound) * spr
                let out = server.base + k * L + s0
                let q = fields.q!.base + s0, wr = fields.wRe!.base + s0, wi = fields.wIm!.base + s0
                let xr = returned.xiRe.base + k * n, xim = returned.xiIm.base + k * n
                let z = noise.baseAddress! + nz
                if let dense = returned.dense {
                    let h = dense.base + 2 * (k * L + s0)
                    for j in 0..<n {
                        let ar = xr[j] * dr - xim[j] * di, ai = xr[j] * di + xim[j] * dr
                        out[j] = q[j] + ar * wr[j] - ai * wi[j] + sigma * z[j] + offset
                    }
                    for j in n..<spr { out[j] = q[j] + sigma * z[j] + offset }
                    // The re-prepared modes' extra amplitude h through the return link to the receiver.
                    for j in 0..<spr {
                        let hr = backRe * h[2 * j] - backIm * h[2 * j + 1], hi = backRe * h[2 * j + 1] + backIm * h[2 * j]
                        out[j] += hr * wr[j] - hi * wi[j]
                    }
                    rails += dig.quantise(UnsafeMutableBufferPointer(start: out, count: spr))
                    continue
                }
                // Mean, rank-one term along ξ, vacuum noise, offset, then the digitiser (fused, in C:
                // the AVX2 build where the CPU has it), counting the samples at its rails.
                rails += Int(qk_returned_row(q, wr, wi, xr, xim, n, spr, dr, di, sigma, z, &digitiser, out, QK_BEST))
            }
            return rails
        }
    }

    // MARK: back-to-back

    private func directUnit(shot k: Int, block: Int, server: SharedBuffer<Float>) -> Int {
        let id = Self.stream(p.firstShot + UInt64(k), block)
        var slotRng = Xoshiro256(seed: p.seeds.slot, stream: id)
        let start = block * Self.slotsPerBlock, end = min(p.slots, start + Self.slotsPerBlock)
        let out = UnsafeMutableBufferPointer(start: server.base + k * p.slots + start, count: end - start)
        bulk.fill(out, &slotRng)
        let sigma = Float(p.server.vacuumSigma), offset = p.server.digitiser.offset
        let q = fields.q!.base + start
        for j in 0..<out.count { out[j] = q[j] + sigma * out[j] + offset }
        return p.server.digitiser.quantise(out)
    }
}
