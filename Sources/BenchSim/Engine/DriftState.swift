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
/// The walks are a pure function of the seed and the time: walk w at grid point k (every `step`
/// of simulated time) is the sum of increments σ_w √step · g_{w,k}, each g drawn from its own
/// stream keyed by (w, k), and linear between grid points. So the phases at a moment do not depend
/// on how the clock got there, in how many steps, or in which process: the server's and the
/// client's twins of a split bench (`FiberLink`) see the same link and LO phases at the same time as
/// the one-table twin, and a resumed twin needs only its clock.
struct DriftState: Sendable {
    enum Walk: Int, CaseIterable { case i, q, phase, serverLO, clientLO, linkForward, linkBack }
    /// Grid of the walks (simulated seconds).
    static let step = 1e-3
    /// Every `stride`-th grid point's sums are kept, so an earlier time is recomputed from the
    /// nearest kept point below it.
    static let stride = 1_024

    let seed: UInt64
    /// Sums of the walks at grid points 0, stride, 2·stride, …
    private var kept: [[Double]]
    /// The last grid point evaluated and its sums (a cache: time usually moves forward).
    private var index = 0
    private var sums: [Double]

    init(seed: UInt64) {
        self.seed = seed
        sums = [Double](repeating: 0, count: Walk.allCases.count)
        kept = [sums]
    }

    private static func sigmas(_ truth: SimulationTruth) -> [Double] {
        [truth.modulator.i.driftWalk.si, truth.modulator.q.driftWalk.si, truth.modulator.phase.driftWalk.si,
         truth.serverReceiver.loPhaseWalk.si, truth.clientReceiver.loPhaseWalk.si,
         truth.link.phaseWalk.si, truth.link.phaseWalk.si]
    }

    /// The standard Gaussian increment of walk w from grid point k − 1 to k.
    private func increment(_ w: Int, _ k: Int) -> Double {
        var rng = Xoshiro256(seed: seed ^ 0x6472_6966, stream: UInt64(w) << 48 | UInt64(k))
        return rng.nextGaussian()
    }

    /// Moves the cache to grid point k (recomputing from a kept point when k is behind it).
    private mutating func move(to k: Int, _ sigma: [Double]) {
        if k < index {
            let base = min(k / Self.stride, kept.count - 1)
            index = base * Self.stride
            sums = kept[base]
        }
        let root = Self.step.squareRoot()
        while index < k {
            index += 1
            for w in sums.indices where sigma[w] > 0 { sums[w] += sigma[w] * root * increment(w, index) }
            if index % Self.stride == 0, index / Self.stride == kept.count { kept.append(sums) }
        }
    }

    /// The walks at time t (≥ 0).
    mutating func walks(at t: Double, truth: SimulationTruth) -> [Double] {
        let sigma = Self.sigmas(truth)
        let x = max(0, t) / Self.step
        let k = Int(x.rounded(.down))
        move(to: k, sigma)
        let fraction = x - Double(k), root = Self.step.squareRoot()
        var w = sums
        if fraction > 0 {
            for i in w.indices where sigma[i] > 0 { w[i] += fraction * sigma[i] * root * increment(i, k + 1) }
        }
        return w
    }

    mutating func phases(at t: Double, truth: SimulationTruth, faults: [SimulatedFault]) -> TruePhases {
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
