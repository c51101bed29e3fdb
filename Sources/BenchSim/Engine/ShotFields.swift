import BenchKit
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

/// The per-slot quantities of one trigger burst, computed once from the drive frames and the bias
/// state and shared by all its shots (structure-of-arrays, Float, so the loops vectorise):
/// - `aRe/aIm`: coherent amplitude of each slot at the client's input (client path);
/// - `q`: the server sample's mean (above the digitiser offset) from the light that passes the
///   client unchanged (or the back-to-back light): 2g√η Re(R e^{−iφ_s});
/// - `wRe/wIm`: 2g√η e^{−iφ_s}, which turns any extra amplitude at the receiver input into volts
///   (0 on vacuum slots, where the input is blocked);
/// - `bRe/bIm`: the same for amplitude added at the client's output (w times the return path),
///   needed only by the intercept-resend client.
final class ShotFields: @unchecked Sendable {
    let aRe: FloatStorage?, aIm: FloatStorage?
    let q: FloatStorage?, wRe: FloatStorage?, wIm: FloatStorage?
    let bRe: FloatStorage?, bIm: FloatStorage?

    init(_ p: ShotPlan) {
        let n = p.slots
        let clientPath = p.path == .client
        let needServer = p.serverShots > 0
        let needB = clientPath && p.optics.interceptResend && needServer
        aRe = clientPath ? FloatStorage(count: n, zeroed: false) : nil
        aIm = clientPath ? FloatStorage(count: n, zeroed: false) : nil
        q = needServer ? FloatStorage(count: n, zeroed: false) : nil
        wRe = needServer ? FloatStorage(count: n, zeroed: false) : nil
        wIm = needServer ? FloatStorage(count: n, zeroed: false) : nil
        bRe = needB ? FloatStorage(count: n, zeroed: false) : nil
        bIm = needB ? FloatStorage(count: n, zeroed: false) : nil

        let cbI = Float(cos(p.biasI)), sbI = Float(sin(p.biasI)), cbQ = Float(cos(p.biasQ)), sbQ = Float(sin(p.biasQ))
        let ct = Float(cos(p.theta)), st = Float(sin(p.theta))
        let dI = Float(p.leakI), dQ = Float(p.leakQ)
        // Light per unit modulator field at the client input, and at the server receiver's input
        // for light that passes the client unchanged (or goes back-to-back).
        let toClient = p.forward * Complex(p.amplitude)
        let toServer = clientPath ? p.back * toClient : p.backToBack * Complex(p.amplitude)
        let cRe = Float(toClient.real), cIm = Float(toClient.imaginary)
        let sRe = Float(toServer.real), sIm = Float(toServer.imaginary)
        let backRe = Float(p.back.real), backIm = Float(p.back.imaginary)
        let gain = p.server.signalGain
        func weight(_ kind: SlotKind) -> (Float, Float) {
            guard kind != .vacuum, gain > 0 else { return (0, 0) }
            let a = p.server.angle(of: kind)
            return (Float(gain * cos(a)), Float(-gain * sin(a)))
        }
        let wX = weight(.x), wP = weight(.p)
        let pattern = p.server.pattern, blocked = p.server.blocked

        let frame = p.frame
        let block = 16_384
        let units = (n + block - 1) / block
        let aR = aRe, aI = aIm, qq = q, wR = wRe, wI = wIm, bR = bRe, bI = bIm
        frame.cosI.withUnsafeBufferPointer { pcI in frame.sinI.withUnsafeBufferPointer { psI in
        frame.cosQ.withUnsafeBufferPointer { pcQ in frame.sinQ.withUnsafeBufferPointer { psQ in
            let cI = SharedConstBuffer(base: pcI.baseAddress!, count: n), sI = SharedConstBuffer(base: psI.baseAddress!, count: n)
            let cQ = SharedConstBuffer(base: pcQ.baseAddress!, count: n), sQ = SharedConstBuffer(base: psQ.baseAddress!, count: n)
            WorkPool.run(units: units, threads: p.threads) { u in
                for s in (u * block)..<min(n, (u + 1) * block) {
                    // Arm fields t = cos(x + b) + iδ sin(x + b), by angle addition.
                    let cosI = cI.base[s] * cbI - sI.base[s] * sbI, sinI = sI.base[s] * cbI + cI.base[s] * sbI
                    let cosQ = cQ.base[s] * cbQ - sQ.base[s] * sbQ, sinQ = sQ.base[s] * cbQ + cQ.base[s] * sbQ
                    let tIi = dI * sinI, tQi = dQ * sinQ
                    // (t_I + e^{iθ} t_Q) / 2
                    let fRe = 0.5 * (cosI + ct * cosQ - st * tQi)
                    let fIm = 0.5 * (tIi + st * cosQ + ct * tQi)
                    if let aR, let aI {
                        aR.base[s] = cRe * fRe - cIm * fIm
                        aI.base[s] = cRe * fIm + cIm * fRe
                    }
                    if let qq, let wR, let wI {
                        let kind: SlotKind = blocked ? .vacuum : (pattern.isEmpty ? .x : pattern[s % pattern.count])
                        let w = kind == .vacuum ? (Float(0), Float(0)) : (kind == .x ? wX : wP)
                        let rRe = sRe * fRe - sIm * fIm, rIm = sRe * fIm + sIm * fRe
                        qq.base[s] = rRe * w.0 - rIm * w.1
                        wR.base[s] = w.0; wI.base[s] = w.1
                        if let bR, let bI {
                            bR.base[s] = backRe * w.0 - backIm * w.1
                            bI.base[s] = backRe * w.1 + backIm * w.0
                        }
                    }
                }
            }
        }}}}
    }
}
