import BenchKit
import Foundation
import NumericsKit

/// The optical phases of the bench at one moment of simulated time (radians): what drifts.
/// FOR TESTS AND BENCHMARKS ONLY, like `SimulationTruth`.
public struct TruePhases: Sendable, Equatable {
    /// φ0 of the I and Q arms and θ0 of the outer phase section, with drift and bursts.
    public var modulator: [ModulatorChannel: Double]
    /// LO phase offset of each receiver relative to the transmitter.
    public var localOscillator: [Role: Double]
    public var linkForward: Double
    public var linkBack: Double
}

/// Slow phase drift in simulated time: for each drifting phase a random walk (variance
/// σ_walk² · t) plus, for the modulator, a linear drift and the ramps of drift-burst faults.
///
/// The walks are a pure function of the seed and the time, built as a Brownian bridge on a dyadic
/// tree: the walk at the horizon H = 2^levels steps is √H·g, and the midpoint of every interval is
/// the mean of its ends plus √(length/4)·g, each g drawn from its own stream keyed by (walk, level,
/// node); within one step (`step`) the walk is linear. A value at any moment costs `levels`
/// draws, whatever the moment and however the clock got there, in whichever process: the server's
/// and the client's twins of a split bench (`TCPFiber`) see the same link and LO phases at the same
/// time as the one-table twin, and a resumed twin needs only its clock. Beyond the horizon
/// (≈ 1,100 years) the walks stay where they are.
struct DriftState: Sendable {
    enum Walk: Int, CaseIterable { case i, q, phase, serverLO, clientLO, linkForward, linkBack }
    /// The finest interval (simulated seconds).
    static let step = 1e-3
    static let levels = 45
    /// The walks' horizon in steps.
    static let horizonSteps = Double(UInt64(1) << UInt64(levels))

    let seed: UInt64

    init(seed: UInt64) { self.seed = seed }

    private static func sigmas(_ truth: SimulationTruth) -> [Double] {
        [truth.modulator.i.driftWalk.si, truth.modulator.q.driftWalk.si, truth.modulator.phase.driftWalk.si,
         truth.serverReceiver.loPhaseWalk.si, truth.clientReceiver.loPhaseWalk.si,
         truth.link.phaseWalk.si, truth.link.phaseWalk.si]
    }

    private func gaussian(_ w: Int, level: Int, node: UInt64) -> Double {
        var rng = Xoshiro256(seed: seed ^ 0x6472_6966, stream: UInt64(w) << 56 | UInt64(level) << 48 | node)
        return rng.nextGaussian()
    }

    /// Walk w with unit σ (rad/√s) at time t (s): descends the tree to the step holding t.
    func unitWalk(_ w: Int, at t: Double) -> Double {
        let x = t.isFinite ? min(max(t, 0) / Self.step, Self.horizonSteps) : 0
        var lo = 0.0, hi = Self.horizonSteps
        var wLo = 0.0, wHi = (hi * Self.step).squareRoot() * gaussian(w, level: 0, node: 0)
        var node: UInt64 = 0
        for level in 1...Self.levels {
            let mid = (lo + hi) / 2
            let wMid = (wLo + wHi) / 2 + ((hi - lo) * Self.step / 4).squareRoot() * gaussian(w, level: level, node: node)
            if x < mid { hi = mid; wHi = wMid; node = node << 1 } else { lo = mid; wLo = wMid; node = node << 1 | 1 }
        }
        return wLo + (x - lo) / (hi - lo) * (wHi - wLo)
    }

    /// The walks at time t (≥ 0).
    func walks(at t: Double, truth: SimulationTruth) -> [Double] {
        Self.sigmas(truth).enumerated().map { w, sigma in sigma > 0 ? sigma * unitWalk(w, at: t) : 0 }
    }

    func phases(at t: Double, truth: SimulationTruth, faults: [SimulatedFault]) -> TruePhases {
        let walk = walks(at: t, truth: truth)
        var modulator: [ModulatorChannel: Double] = [:]
        for (c, w) in [(ModulatorChannel.i, Walk.i), (.q, .q), (.phase, .phase)] {
            let arm = truth.modulator[c]
            var phi = arm.biasPhase.si + arm.driftRate.si * t + walk[w.rawValue]
            for f in faults {
                guard case let .driftBurst(channel, size, ramp) = f.kind, channel == c else { continue }
                let start = f.at.inSeconds
                guard t > start || (ramp == .zero && t >= start) else { continue }
                let r = ramp.inSeconds
                phi += size.si * (r > 0 ? min(1, (t - start) / r) : 1)
            }
            modulator[c] = phi
        }
        return TruePhases(modulator: modulator,
                          localOscillator: [.serverReceiver: truth.serverReceiver.loPhase.si + walk[Walk.serverLO.rawValue],
                                            .clientReceiver: truth.clientReceiver.loPhase.si + walk[Walk.clientLO.rawValue]],
                          linkForward: truth.link.phaseForward.si + walk[Walk.linkForward.rawValue],
                          linkBack: truth.link.phaseBack.si + walk[Walk.linkBack.rawValue])
    }
}
