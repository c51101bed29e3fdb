import BenchKit
import CKernels
import Foundation
import Numerics

/// A Float array owned by a class, handed to work units as a raw pointer (read concurrently, or
/// written in disjoint ranges). Freed with its owner.
final class FloatStorage: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int, zeroed: Bool = true) {
        self.count = count
        base = .allocate(capacity: max(1, count))
        if zeroed { base.initialize(repeating: 0, count: max(1, count)) }
    }
    deinit { base.deallocate() }
    subscript(_ k: Int) -> Float {
        get { base[k] }
        set { base[k] = newValue }
    }
    var buffer: UnsafeMutableBufferPointer<Float> { .init(start: base, count: count) }
    func array() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// Raw output pointers of `ShotFields` for the work units (nil: not needed by this burst).
struct SlotOutputs: @unchecked Sendable {
    let aRe: UnsafeMutablePointer<Float>?, aIm: UnsafeMutablePointer<Float>?, q: UnsafeMutablePointer<Float>?
}

extension FloatStorage {
    /// Pattern codes repeated over `count` slots.
    static func codes(repeating p: [UInt8], count: Int) -> [UInt8] {
        var codes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return codes }
        codes.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress!
            let first = min(p.count, count)
            p.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: first) }
            // Doubling copies of whole periods.
            var filled = first
            while filled < count {
                let period = filled - filled % p.count
                let m = min(period, count - filled)
                (base + filled).update(from: base, count: m)
                filled += m
            }
        }
        return codes
    }
}

/// The per-slot quantities of one trigger burst, computed once from the drive frames and the bias
/// state and shared by all its shots (structure-of-arrays, Float, so the loops vectorise):
/// - `aRe/aIm`: coherent amplitude of each slot at the client's input (client path);
/// - `q`: the server sample's mean (above the digitiser offset) from the light that passes the
///   client unchanged (or the back-to-back light): 2g√η Re(R e^{−iφ_s});
/// - `codes` and `weights`: slot s's code (0 X, 1 P, 2 vacuum) and, per code, 2g√η e^{−iφ}, which
///   turns any extra amplitude at the receiver input into volts (0 on vacuum slots, where the input
///   is blocked). Three weights and a byte per slot, not two Floats per slot: the server's tiles
///   read them for every shot (`qk_returned_row` looks them up by code).
final class ShotFields: @unchecked Sendable {
    let aRe: FloatStorage?, aIm: FloatStorage?, q: FloatStorage?
    private(set) var codes: [UInt8] = []
    private(set) var weights = qk_slot_weights(re: (0, 0, 0), im: (0, 0, 0))

    /// Slot s's weight (Re, Im).
    func weight(_ s: Int) -> (re: Float, im: Float) {
        switch codes[s] {
        case 0: (weights.re.0, weights.im.0)
        case 1: (weights.re.1, weights.im.1)
        default: (weights.re.2, weights.im.2)
        }
    }

    /// Hands the arrays back to the pool they came from.
    func recycle(into pool: ScratchPool) { pool.give([aRe, aIm, q]) }

    init(_ p: ShotPlan, pool: ScratchPool) {
        let n = p.slots
        let clientPath = p.path == .client
        let needServer = p.serverShots > 0
        aRe = clientPath ? pool.take(n) : nil
        aIm = clientPath ? pool.take(n) : nil
        q = needServer ? pool.take(n) : nil
        // A frame of no slots has no fields (and its arrays no base address to hand the kernel).
        guard n > 0 else { return }

        let cbI = Float(cos(p.biasI)), sbI = Float(sin(p.biasI)), cbQ = Float(cos(p.biasQ)), sbQ = Float(sin(p.biasQ))
        let ct = Float(cos(p.theta)), st = Float(sin(p.theta))
        let dI = Float(p.leakI), dQ = Float(p.leakQ)
        // Light per unit modulator field at the client input, and at the server receiver's input
        // for light that passes the client unchanged (or goes back-to-back).
        let toClient = p.forward * Complex(p.amplitude)
        let toServer = clientPath ? p.back * toClient : p.backToBack * Complex(p.amplitude)
        let cRe = Float(toClient.real), cIm = Float(toClient.imaginary)
        let sRe = Float(toServer.real), sIm = Float(toServer.imaginary)
        let gain = p.server.signalGain
        func weight(_ kind: SlotKind) -> (Float, Float) {
            guard kind != .vacuum, gain > 0 else { return (0, 0) }
            let a = p.server.angle(of: kind)
            return (Float(gain * cos(a)), Float(-gain * sin(a)))
        }
        let wX = weight(.x), wP = weight(.p)
        // Per-slot quadrature code (0 X, 1 P, 2 vacuum): the pattern repeated over the shot.
        let source: [UInt8] = p.server.blocked ? [2] : (p.server.patternCodes.isEmpty ? [0] : p.server.patternCodes)
        let codes = source.count >= n ? source : FloatStorage.codes(repeating: source, count: n)
        if needServer {
            self.codes = codes
            weights = qk_slot_weights(re: (wX.0, wP.0, 0), im: (wX.1, wP.1, 0))
        }
        var constants = qk_shot_field_constants(cbI: cbI, sbI: sbI, cbQ: cbQ, sbQ: sbQ, ct: ct, st: st, dI: dI, dQ: dQ,
                                                cRe: cRe, cIm: cIm, sRe: sRe, sIm: sIm,
                                                weightRe: (wX.0, wP.0, 0), weightIm: (wX.1, wP.1, 0))

        let frame = p.frame
        let block = 8_192
        let units = (n + block - 1) / block
        let out = SlotOutputs(aRe: aRe?.base, aIm: aIm?.base, q: q?.base)
        frame.cosI.withUnsafeBufferPointer { pcI in frame.sinI.withUnsafeBufferPointer { psI in
        frame.cosQ.withUnsafeBufferPointer { pcQ in frame.sinQ.withUnsafeBufferPointer { psQ in
        codes.withUnsafeBufferPointer { pc in
        withUnsafePointer(to: &constants) { k in
            let cI = SharedConstBuffer(base: pcI.baseAddress!, count: n), sI = SharedConstBuffer(base: psI.baseAddress!, count: n)
            let cQ = SharedConstBuffer(base: pcQ.baseAddress!, count: n), sQ = SharedConstBuffer(base: psQ.baseAddress!, count: n)
            let code = SharedConstBuffer(base: pc.baseAddress!, count: n), kk = SharedConstBuffer(base: k, count: 1)
            // One C pass per range of slots (`qk_shot_fields`): the arm fields, the light at the
            // client input, the server receiver's weights and mean.
            WorkPool.run(units: units, threads: p.threads) { u in
                let lo = u * block, m = min(n, lo + block) - lo
                qk_shot_fields(cI.base + lo, sI.base + lo, cQ.base + lo, sQ.base + lo, code.base + lo, m, kk.base,
                               out.aRe.map { $0 + lo }, out.aIm.map { $0 + lo }, out.q.map { $0 + lo }, QK_BEST)
            }
        }}}}}}
    }
}
