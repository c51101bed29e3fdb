import BenchKit
import Foundation
import Numerics
import NumericsKit

/// The client's side of a burst on the client path, in work units of (shot, block of rows) that run
/// in any order on any thread, each drawing from its own streams keyed by the global shot number
/// and the block, so the samples are the same for any thread count and in any process.
///
/// Per row (inner product) of a shot, with arrival amplitudes a_j and ξ of the shot:
/// - β = Σ_j conj(ξ_j) a_j comes from one `gemm` over all rows and shots of the burst;
/// - the client (intercept-resend first heterodynes every mode: a_j → a_j + h_j, h_j complex
///   Gaussian of variance ½ per component, i.e. +2 SNU per quadrature) amplifies and splits mode 1
///   (`ClientOptics`): its reading is 2√(rG) Re(β e^{−iφ_c}) + Z_k, Z_k ~ N(0, rV_a + 1 − r), seen
///   through its receiver; mode 1 returns as kβ + E, where E carries the excess noise x₁, drawn
///   jointly with Z_k (same-phase covariance √(r(1−r))(V_a − 1));
/// - U_x† spreads mode 1 back along ξ: returned mode j = a_j + ξ_j D with D = (k − 1)β + E (plus
///   h_j), the rest of the modes' vacuum staying an independent vacuum under the unitary
///   (`ReturnedLight`): one rank-one term per row, never an n × n covariance.
final class ClientShotComputation: @unchecked Sendable {
    let p: ClientShotPlan
    let light: ArrivingLight
    let bulk: Gaussian.BulkSampler
    let sampler = Gaussian.Sampler()
    let pool: ScratchPool
    /// β of every row and shot: rows × 2·computeShots (Re, Im interleaved per shot).
    private var beta = FloatStorage(count: 0)
    /// ξ of the burst, computeShots × n each.
    private(set) var xiRe = FloatStorage(count: 0), xiIm = FloatStorage(count: 0)

    static let slotsPerBlock = 32_768
    /// Row ranges the projections are computed in (a fixed number: results never depend on the threads).
    static let projectionParts = 8

    /// `re`, `im`: the lit burst's amplitudes (`light.re`, `light.im`).
    init(_ plan: ClientShotPlan, light: ArrivingLight, re: FloatStorage, im: FloatStorage, bulk: Gaussian.BulkSampler, pool: ScratchPool) {
        p = plan
        self.light = light
        self.bulk = bulk
        self.pool = pool
        prepareProjections(re: re, im: im)
    }

    /// Returns the scratch arrays to the pool (call once the burst is done).
    func recycle() { pool.give([beta]) }

    /// Rows per work unit, and the number of such blocks per shot (the server's twin uses the same
    /// blocks for its samples, keyed the same way).
    static func blocks(_ layout: FrameLayout) -> (rowsPerBlock: Int, count: Int) {
        let rowsPerBlock = max(1, slotsPerBlock / max(1, layout.slotsPerRow))
        return (rowsPerBlock, (layout.rows + rowsPerBlock - 1) / rowsPerBlock)
    }

    /// β for all rows of all shots from the arrival amplitudes (row stride slotsPerRow):
    /// [Re a | Im a] (rows × 2n) times [[Re ξ, −Im ξ], [Im ξ, Re ξ]] (2n × 2S), as two strided products.
    private func prepareProjections(re: FloatStorage, im: FloatStorage) {
        let layout = p.layout
        let rows = layout.rows, n = layout.modesPerRow, spr = layout.slotsPerRow, shots = p.computeShots
        let top = pool.take(n * 2 * shots), bottom = pool.take(n * 2 * shots)
        xiRe = FloatStorage(count: shots * n, zeroed: false)
        xiIm = FloatStorage(count: shots * n, zeroed: false)
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
        let out = pool.take(rows * 2 * shots)
        beta = out
        // In a fixed number of row ranges on the workers (OpenBLAS itself runs on one thread): each
        // row's β is the same products whatever runs them.
        let parts = Self.projectionParts, cols = 2 * shots
        WorkPool.run(units: parts, threads: p.threads) { u in
            let r0 = u * rows / parts, r1 = (u + 1) * rows / parts
            guard r1 > r0 else { return }
            gemm(rows: r1 - r0, cols: cols, inner: n, a: re.base + r0 * spr, lda: spr, b: top.base, ldb: cols, c: out.base + r0 * cols, ldc: cols)
            gemm(rows: r1 - r0, cols: cols, inner: n, a: im.base + r0 * spr, lda: spr, b: bottom.base, ldb: cols, c: out.base + r0 * cols, ldc: cols, beta: 1)
        }
        pool.give([top, bottom])
    }

    /// Runs every unit: the client's readings (clientShots × rows) into `client`, and the light of the
    /// first `returnShots` shots back.
    func run(client: SharedBuffer<Float>?) -> ReturnedLight {
        let layout = p.layout
        let back = p.returnShots
        let displacement = FloatStorage(count: back * layout.rows * 2, zeroed: false)
        let dense = p.optics.interceptResend && back > 0 ? FloatStorage(count: back * light.slots * 2, zeroed: false) : nil
        let (rowsPerBlock, blocks) = Self.blocks(layout)
        // Block-major: consecutive units read the same block of the shot's fields (in cache).
        let shots = p.computeShots
        WorkPool.run(units: shots * blocks, threads: p.threads) { u in
            let b = u / shots
            self.unit(shot: u % shots, rows: b * rowsPerBlock..<min(layout.rows, (b + 1) * rowsPerBlock), block: b,
                      client: client, displacement: displacement, dense: dense)
        }
        let n = layout.modesPerRow
        // ξ of the returned shots only.
        let xr = FloatStorage(count: back * n, zeroed: false), xi = FloatStorage(count: back * n, zeroed: false)
        xr.base.update(from: xiRe.base, count: back * n)
        xi.base.update(from: xiIm.base, count: back * n)
        return ReturnedLight(layout: layout, shots: back, xiRe: xr, xiIm: xi, rowDisplacement: displacement, dense: dense)
    }

    private func unit(shot k: Int, rows: Range<Int>, block: Int, client: SharedBuffer<Float>?,
                      displacement: FloatStorage, dense: FloatStorage?) {
        let layout = p.layout
        let id = ShotComputation.stream(p.firstShot + UInt64(k), block)
        var rowRng = Xoshiro256(seed: p.seeds.row, stream: id)
        var hetRng = Xoshiro256(seed: p.seeds.heterodyne, stream: id)
        let n = layout.modesPerRow, spr = layout.slotsPerRow, slots = light.slots
        let recordClient = k < p.clientShots, returned = k < p.returnShots
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
        let rotX = Complex(cos(c.angle(of: .x)), sin(c.angle(of: .x))), rotP = Complex(cos(c.angle(of: .p)), sin(c.angle(of: .p)))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: ir ? 2 * spr : 1) { het in
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
                    if returned, let dense {
                        (dense.base + 2 * (k * slots + r * spr)).update(from: het.baseAddress!, count: 2 * spr)
                    }
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
                if returned {
                    let d = Complex(kMinus1) * b + e
                    displacement[2 * (k * layout.rows + r)] = Float(d.real)
                    displacement[2 * (k * layout.rows + r) + 1] = Float(d.imaginary)
                }
            }
        }
    }
}
