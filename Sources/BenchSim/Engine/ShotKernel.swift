import BenchKit
import Foundation
import Numerics
import NumericsKit

/// The physics of the shots of one trigger burst, in work units of (shot, block) that run in any
/// order on any thread: each unit draws from its own streams, keyed by the global shot number and
/// the block, so the samples are the same for any thread count.
///
/// Client path, per row (inner product) of a shot, with arrival amplitudes a_j and ξ of the shot:
/// - β = Σ_j conj(ξ_j) a_j comes from one `gemm` over all rows and shots of the burst;
/// - the client (intercept-resend first heterodynes every mode: a_j → a_j + h_j, h_j complex
///   Gaussian of variance ½ per component, i.e. +2 SNU per quadrature) amplifies and splits mode 1
///   (`ClientOptics`): its reading is 2√(rG) Re(β e^{−iφ_c}) + Z_k, Z_k ~ N(0, rV_a + 1 − r), seen
///   through its receiver; mode 1 returns as kβ + E, where E carries the excess noise x₁, drawn
///   jointly with Z_k (same-phase covariance √(r(1−r))(V_a − 1));
/// - U_x† spreads mode 1 back along ξ: returned mode j = a_j + (k − 1) β ξ_j + ξ_j E plus vacuum
///   (the vacuum parts of all modes stay an independent vacuum under the unitary): mean + white
///   noise + one rank-one term per row, never an n × n covariance;
/// - the return link multiplies amplitudes by √T e^{iφ}; the server's sample of slot s is
///   offset + q_s + Re(ξ_j D w_s) + N(0, g² + σ_el²), D = √T e^{iφ}((k − 1)β + E), quantised.
/// Back-to-back: offset + q_s + N(0, g² + σ_el²); the client receiver sees vacuum.
final class ShotComputation: @unchecked Sendable {
    let p: ShotPlan
    let fields: ShotFields
    let bulk: Gaussian.BulkSampler
    let sampler = Gaussian.Sampler()
    /// β of every row and shot: rows × 2·computeShots (Re, Im interleaved per shot).
    var beta = FloatStorage(count: 0)
    /// ξ of the burst, computeShots × n each.
    var xiRe = FloatStorage(count: 0), xiIm = FloatStorage(count: 0)

    static let slotsPerBlock = 32_768

    let pool: ScratchPool

    init(_ plan: ShotPlan, bulk: Gaussian.BulkSampler, pool: ScratchPool) {
        p = plan
        self.bulk = bulk
        self.pool = pool
        fields = ShotFields(plan, pool: pool)
        if plan.path == .client, let layout = plan.layout { prepareProjections(layout) }
    }

    /// Returns the scratch arrays to the pool (call once the burst is done).
    func recycle() {
        fields.recycle(into: pool)
        pool.give([beta, xiRe, xiIm])
    }

    /// β for all rows of all shots of the burst from the arrival amplitudes in place (row stride
    /// slotsPerRow): [Re a | Im a] (rows × 2n) times [[Re ξ, −Im ξ], [Im ξ, Re ξ]] (2n × 2S), as
    /// two strided products.
    private func prepareProjections(_ layout: FrameLayout) {
        let rows = layout.rows, n = layout.modesPerRow, spr = layout.slotsPerRow, shots = p.computeShots
        guard let aRe = fields.aRe?.base, let aIm = fields.aIm?.base else { return }
        let top = pool.take(n * 2 * shots), bottom = pool.take(n * 2 * shots)
        xiRe = pool.take(shots * n)
        xiIm = pool.take(shots * n)
        for k in 0..<shots {
            for j in 0..<n {
                let z = p.symbols[k][j]
                xiRe[k * n + j] = z.re; xiIm[k * n + j] = z.im
                top[j * 2 * shots + 2 * k] = z.re
                top[j * 2 * shots + 2 * k + 1] = -z.im
                bottom[j * 2 * shots + 2 * k] = z.im
                bottom[j * 2 * shots + 2 * k + 1] = z.re
            }
        }
        beta = pool.take(rows * 2 * shots)
        gemm(rows: rows, cols: 2 * shots, inner: n, a: aRe, lda: spr, b: top.base, ldb: 2 * shots, c: beta.base, ldc: 2 * shots)
        gemm(rows: rows, cols: 2 * shots, inner: n, a: aIm, lda: spr, b: bottom.base, ldb: 2 * shots, c: beta.base, ldc: 2 * shots, beta: 1)
        pool.give([top, bottom])
    }

    static func stream(_ shot: UInt64, _ block: Int) -> UInt64 { shot << 20 | UInt64(block) }

    /// Runs every unit; `server` gets serverShots × slots samples, `client` clientShots × rows.
    func run(server: SharedBuffer<Float>?, client: SharedBuffer<Float>?) {
        if p.path == .client, let layout = p.layout {
            let rowsPerBlock = max(1, Self.slotsPerBlock / max(1, layout.slotsPerRow))
            let blocks = (layout.rows + rowsPerBlock - 1) / rowsPerBlock
            WorkPool.run(units: p.computeShots * blocks, threads: p.threads) { u in
                self.clientPathUnit(shot: u / blocks, rows: (u % blocks) * rowsPerBlock..<min(layout.rows, (u % blocks + 1) * rowsPerBlock),
                                    block: u % blocks, layout: layout, server: server, client: client)
            }
        } else {
            let blocks = (p.slots + Self.slotsPerBlock - 1) / Self.slotsPerBlock
            WorkPool.run(units: p.computeShots * blocks, threads: p.threads) { u in
                self.directUnit(shot: u / blocks, block: u % blocks, server: server, client: client)
            }
        }
    }

    // MARK: client path

    private func clientPathUnit(shot k: Int, rows: Range<Int>, block: Int, layout: FrameLayout,
                                server: SharedBuffer<Float>?, client: SharedBuffer<Float>?) {
        let id = Self.stream(p.firstShot + UInt64(k), block)
        var rowRng = Xoshiro256(seed: p.seeds.row, stream: id)
        var slotRng = Xoshiro256(seed: p.seeds.slot, stream: id)
        var hetRng = Xoshiro256(seed: p.seeds.heterodyne, stream: id)
        let n = layout.modesPerRow, spr = layout.slotsPerRow, L = p.slots
        let recordServer = k < p.serverShots, recordClient = k < p.clientShots
        let o = p.optics
        let vk = o.readingVariance, x1 = o.returnedExcessNoise, cov = o.keptReturnedCovariance
        let conditional = vk > 0 ? cov / vk : 0
        let residual = max(0, x1 - conditional * cov).squareRoot()
        let kMinus1 = o.returnAmplitude - 1
        let ir = o.interceptResend
        let c = p.client
        let gc = c.shotNoiseScale, gcEta = gc * c.efficiency.squareRoot()
        let sigmaSignal = (gc * gc * (1 - c.efficiency) + c.electronicNoise * c.electronicNoise).squareRoot()
        let sigmaVacuum = c.vacuumSigma
        let shots2 = 2 * p.computeShots
        let sigma = Float(p.server.vacuumSigma)
        let offset = p.server.digitiser.offset
        let dig = p.server.digitiser

        let rotX = Complex(cos(c.angle(of: .x)), sin(c.angle(of: .x))), rotP = Complex(cos(c.angle(of: .p)), sin(c.angle(of: .p)))
        let blockSlots = rows.count * spr
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, recordServer ? blockSlots : 1)) { noise in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: ir ? 2 * spr : 1) { het in
            if recordServer { bulk.fill(UnsafeMutableBufferPointer(rebasing: noise[0..<blockSlots]), &slotRng) }
            for r in rows {
                var b = Complex(Double(beta[r * shots2 + 2 * k]), Double(beta[r * shots2 + 2 * k + 1]))
                if ir {
                    // Heterodyne outcomes h_s (amplitude units, variance ½ per component) of every
                    // slot of the row; the re-prepared modes feed the client's honest processing.
                    bulk.fill(UnsafeMutableBufferPointer(rebasing: het[0..<(2 * spr)]), mean: 0, sigma: Float(0.5.squareRoot()), &hetRng)
                    var hr = 0.0, hi = 0.0
                    for j in 0..<n {
                        let xr = Double(xiRe[k * n + j]), xi = Double(xiIm[k * n + j])
                        let a = Double(het[2 * j]), bb = Double(het[2 * j + 1])
                        hr += xr * a + xi * bb
                        hi += xr * bb - xi * a
                    }
                    b = b + Complex(hr, hi)
                }
                // The client's draws: kept-part noise, the returned excess (conditioned on it), its
                // receiver's loss and electronic noise.
                let kind = c.kind(r)
                let rot = kind == .p ? rotP : rotX
                let g1 = sampler.next(&rowRng), g2 = sampler.next(&rowRng), g3 = sampler.next(&rowRng), g4 = sampler.next(&rowRng)
                let zk = vk.squareRoot() * g1
                let ePar = conditional * zk + residual * g2, ePerp = x1.squareRoot() * g3
                let e = rot * Complex(ePar, ePerp) * Complex(0.5)
                if recordClient, let client {
                    let x = o.readingScale * (b * rot.conjugate).real + zk
                    let v = kind == .vacuum ? sigmaVacuum * g4 : gcEta * x + sigmaSignal * g4
                    client.base[k * layout.rows + r] = c.digitiser.quantise(c.digitiser.offset + Float(v))
                }
                guard recordServer, let server else { continue }
                let d = p.back * (Complex(kMinus1) * b + e)
                let dr = Float(d.real), di = Float(d.imaginary)
                let s0 = r * spr, nz = (r - rows.lowerBound) * spr
                let out = server.base + k * L + s0
                let q = fields.q!.base + s0, wr = fields.wRe!.base + s0, wi = fields.wIm!.base + s0
                let xr = xiRe.base + k * n, xim = xiIm.base + k * n
                let z = noise.baseAddress! + nz
                if ir, let bR = fields.bRe, let bI = fields.bIm {
                    for j in 0..<n {
                        let ar = xr[j] * dr - xim[j] * di, ai = xr[j] * di + xim[j] * dr
                        out[j] = q[j] + ar * wr[j] - ai * wi[j] + sigma * z[j] + offset
                    }
                    for j in n..<spr { out[j] = q[j] + sigma * z[j] + offset }
                    for j in 0..<spr { out[j] += het[2 * j] * bR.base[s0 + j] - het[2 * j + 1] * bI.base[s0 + j] }
                    dig.quantise(UnsafeMutableBufferPointer(start: out, count: spr))
                    continue
                }
                // Mean, rank-one term along ξ, vacuum noise, offset, then the digitiser (fused).
                let inv = dig.inverseLSB, lsb = dig.lsb, lowest = dig.lowestCode, highest = dig.highestCode
                let magic: Float = 12_582_912
                for j in 0..<n {
                    let ar = xr[j] * dr - xim[j] * di, ai = xr[j] * di + xim[j] * dr
                    let v = q[j] + ar * wr[j] - ai * wi[j] + sigma * z[j] + offset
                    out[j] = min(highest, max(lowest, (v * inv + magic) - magic)) * lsb
                }
                for j in n..<spr {
                    let v = q[j] + sigma * z[j] + offset
                    out[j] = min(highest, max(lowest, (v * inv + magic) - magic)) * lsb
                }
            }
        }}
    }

    // MARK: back-to-back

    private func directUnit(shot k: Int, block: Int, server: SharedBuffer<Float>?, client: SharedBuffer<Float>?) {
        let id = Self.stream(p.firstShot + UInt64(k), block)
        if block == 0, k < p.clientShots, let client, let layout = p.layout {
            // No light reaches the client: its receiver digitises vacuum (or nothing without LO).
            var rowRng = Xoshiro256(seed: p.seeds.row, stream: id)
            let c = p.client
            for r in 0..<layout.rows {
                let v = c.vacuumSigma * sampler.next(&rowRng)
                client.base[k * layout.rows + r] = c.digitiser.quantise(c.digitiser.offset + Float(v))
            }
        }
        guard k < p.serverShots, let server else { return }
        var slotRng = Xoshiro256(seed: p.seeds.slot, stream: id)
        let start = block * Self.slotsPerBlock, end = min(p.slots, start + Self.slotsPerBlock)
        let out = UnsafeMutableBufferPointer(start: server.base + k * p.slots + start, count: end - start)
        bulk.fill(out, &slotRng)
        let sigma = Float(p.server.vacuumSigma), offset = p.server.digitiser.offset
        let q = fields.q!.base + start
        for j in 0..<out.count { out[j] = q[j] + sigma * out[j] + offset }
        p.server.digitiser.quantise(out)
    }
}
