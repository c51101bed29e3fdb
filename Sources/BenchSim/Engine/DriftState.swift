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
/// Increments are drawn when the clock advances, from one sequential stream of the seed, so a
/// script replayed with the same seed sees the same drift.
struct DriftState: Sendable {
    enum Walk: Int, CaseIterable { case i, q, phase, serverLO, clientLO, linkForward, linkBack }
    var walk = [Double](repeating: 0, count: Walk.allCases.count)
    var rng: Xoshiro256

    init(seed: UInt64) { rng = Xoshiro256(seed: seed, stream: 0x6472_6966) }

    mutating func advance(by dt: Double, truth: SimulationTruth) {
        guard dt > 0 else { return }
        let sigmas: [Double] = [truth.modulator.i.driftWalk.si, truth.modulator.q.driftWalk.si, truth.modulator.phase.driftWalk.si,
                                truth.serverReceiver.loPhaseWalk.si, truth.clientReceiver.loPhaseWalk.si,
                                truth.link.phaseWalk.si, truth.link.phaseWalk.si]
        let root = dt.squareRoot()
        for w in Walk.allCases where sigmas[w.rawValue] > 0 {
            walk[w.rawValue] += sigmas[w.rawValue] * root * rng.nextGaussian()
        }
    }

    func phases(at t: Double, truth: SimulationTruth, faults: [SimulatedFault]) -> TruePhases {
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
