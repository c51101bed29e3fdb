import BenchKit
import CKernels
import Foundation
import Numerics
import NumericsKit

/// The server's side of the shots of one trigger burst, in tiles of `slotsPerTile` slots of every
/// shot, computed in any order on any thread: each shot's part of a tile draws from its own stream,
/// keyed by the global shot number and the tile, so the samples are the same for any thread count
/// and whether the record is written whole (`run`) or handed to the server's sums tile by tile
/// while still in the cache (`stream`).
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

    /// Slots per tile: the server's sums are cut at the same ranges
    /// (`ReturnedLightStatistics.slotsPerUnit`), so a streamed tile is one unit of them, and a
    /// tile of a 32-shot burst (1 MiB) stays in a core's L2 cache between the two.
    static let slotsPerTile = 8_192
    /// Floats between one shot's part of a streamed tile and the next (one cache line).
    static let tilePadding = 16

    init(_ plan: ShotPlan, bulk: Gaussian.BulkSampler, pool: ScratchPool) {
        p = plan
        self.bulk = bulk
        self.pool = pool
        fields = ShotFields(plan, pool: pool)
    }

    /// Returns the scratch arrays to the pool (call once the burst is done).
    func recycle() { fields.recycle(into: pool) }

    static func stream(_ shot: UInt64, _ tile: Int) -> UInt64 { shot << 20 | UInt64(tile) }

    /// The burst as the client's input sees it: its light on the client path, dark back-to-back.
    func arriving() -> ArrivingLight {
        let lit = p.path == .client
        return ArrivingLight(firstShot: p.firstShot, shots: p.shots, returnShots: lit ? p.serverShots : 0, time: p.time + p.linkDelay, slots: p.slots,
                             re: lit ? fields.aRe : nil, im: lit ? fields.aIm : nil)
    }

    var tiles: Int { (p.slots + Self.slotsPerTile - 1) / Self.slotsPerTile }

    func slots(ofTile t: Int) -> Range<Int> { (t * Self.slotsPerTile)..<min(p.slots, (t + 1) * Self.slotsPerTile) }

    /// The server receiver's samples (serverShots × slots) of the back-to-back path, or of the
    /// client path with the light that came back, written whole into `server`. Returns how many
    /// sit at the digitiser's rails.
    func run(server: SharedBuffer<Float>, returned: ReturnedLight?) -> Int {
        eachTile { t in self.tile(t, returned: returned, out: server.base + self.slots(ofTile: t).lowerBound, stride: self.p.slots) }
    }

    /// The same samples handed to `sink` one tile at a time, each as soon as it is computed, from
    /// the worker that computed it; nothing is kept. Returns how many sit at the digitiser's rails.
    func stream(returned: ReturnedLight?, into sink: any SampleSink) -> Int {
        let shots = p.serverShots
        return eachTile { t in
            let range = self.slots(ofTile: t)
            // Shots a cache line more than a tile apart: at a stride of 32 KiB every shot's line of
            // the same slots would fall in one set of the L1 cache and evict the others.
            let stride = range.count + Self.tilePadding
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: shots * stride)
            defer { buffer.deallocate() }
            let rails = self.tile(t, returned: returned, out: buffer, stride: stride)
            sink.consume(SampleTile(slots: range, shots: shots, stride: stride, samples: buffer))
            return rails
        }
    }

    /// Runs `body` for every tile on the workers and adds up the samples at the rails it reports.
    private func eachTile(_ body: @Sendable (Int) -> Int) -> Int {
        let tiles = self.tiles
        let rails = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, tiles))
        defer { rails.deallocate() }
        let counts = SharedBuffer(base: rails.baseAddress!, count: tiles)
        WorkPool.run(units: tiles, threads: p.threads) { t in counts.base[t] = body(t) }
        return rails.prefix(tiles).reduce(0, +)
    }

    /// Tile `t` of every server shot: shot k's samples of the tile's slots at out + k · stride, its
    /// noise drawn from its own stream. Returns how many sit at the digitiser's rails.
    private func tile(_ t: Int, returned: ReturnedLight?, out: UnsafeMutablePointer<Float>, stride: Int) -> Int {
        let range = slots(ofTile: t)
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, range.count)) { buffer in
            let noise = UnsafeMutableBufferPointer(rebasing: buffer[0..<range.count])
            var rails = 0
            for k in 0..<p.serverShots {
                var slotRng = Xoshiro256(seed: p.seeds.slot, stream: Self.stream(p.firstShot + UInt64(k), t))
                bulk.fill(noise, &slotRng)
                if p.path == .client, let returned {
                    rails += clientPath(shot: k, slots: range, returned: returned, noise: noise.baseAddress!, out: out + k * stride)
                } else {
                    rails += backToBack(slots: range, noise: noise.baseAddress!, out: out + k * stride)
                }
            }
            return rails
        }
    }

    // MARK: client path

    /// Shot k's samples of `range` (rows cut anywhere) into out, with `noise` (one N(0, 1) per slot).
    private func clientPath(shot k: Int, slots range: Range<Int>, returned: ReturnedLight, noise: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) -> Int {
        let layout = returned.layout
        let n = layout.modesPerRow, spr = layout.slotsPerRow, L = p.slots
        let sigma = Float(p.server.vacuumSigma)
        let offset = p.server.digitiser.offset
        let dig = p.server.digitiser
        let backRe = Float(p.back.real), backIm = Float(p.back.imaginary)
        var digitiser = dig.transfer
        var weights = fields.weights
        return fields.codes.withUnsafeBufferPointer { codeBuffer in
            let codes = codeBuffer.baseAddress!
            var rails = 0
            var s = range.lowerBound
            while s < range.upperBound {
                // The part j0 ..< j1 of row r inside the tile: its signal slots (j < n), then vacuum.
                let r = s / spr, j0 = s - r * spr, j1 = min(spr, j0 + range.upperBound - s)
                let dRaw = Complex(Double(returned.rowDisplacement[2 * (k * layout.rows + r)]), Double(returned.rowDisplacement[2 * (k * layout.rows + r) + 1]))
                let d = p.back * dRaw
                let dr = Float(d.real), di = Float(d.imaginary)
                let o = out + (s - range.lowerBound), z = noise + (s - range.lowerBound)
                let q = fields.q!.base + s
                let xr = returned.xiRe.base + k * n + min(j0, n), xim = returned.xiIm.base + k * n + min(j0, n)
                let count = j1 - j0, signal = min(max(0, n - j0), count)
                if let dense = returned.dense {
                    let h = dense.base + 2 * (k * L + s)
                    for j in 0..<signal {
                        let w = fields.weight(s + j)
                        let ar = xr[j] * dr - xim[j] * di, ai = xr[j] * di + xim[j] * dr
                        o[j] = q[j] + ar * w.re - ai * w.im + sigma * z[j] + offset
                    }
                    for j in signal..<count { o[j] = q[j] + sigma * z[j] + offset }
                    // The re-prepared modes' extra amplitude h through the return link to the receiver.
                    for j in 0..<count {
                        let w = fields.weight(s + j)
                        let hr = backRe * h[2 * j] - backIm * h[2 * j + 1], hi = backRe * h[2 * j + 1] + backIm * h[2 * j]
                        o[j] += hr * w.re - hi * w.im
                    }
                    rails += dig.quantise(UnsafeMutableBufferPointer(start: o, count: count))
                } else {
                    // Mean, rank-one term along ξ, vacuum noise, offset, then the digitiser (fused, in
                    // C: the AVX2 build where the CPU has it), counting the samples at its rails.
                    rails += Int(qk_returned_row(q, codes + s, &weights, xr, xim, signal, count, dr, di, sigma, z, &digitiser, o, QK_BEST))
                }
                s += count
            }
            return rails
        }
    }

    // MARK: back-to-back

    /// One shot's samples of `range` into out, with `noise`: mean, vacuum noise, offset and the
    /// digitiser in one pass (`qk_returned_row` with no signal modes: the same rounding as the client
    /// path's vacuum slots).
    private func backToBack(slots range: Range<Int>, noise: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) -> Int {
        var digitiser = p.server.digitiser.transfer
        let q = fields.q!.base + range.lowerBound
        var none = qk_slot_weights(re: (0, 0, 0), im: (0, 0, 0))
        return Int(qk_returned_row(q, nil, &none, q, q, 0, range.count, 0, 0, Float(p.server.vacuumSigma), noise, &digitiser, out, QK_BEST))
    }
}
