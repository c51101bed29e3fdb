import BenchKit
import Foundation
import NumericsKit

/// The true constants of one simulated bench, drawn from the bench file's seed
/// (`SimulationConfiguration.constants`: nominal ± spread, uniform).
///
/// FOR TESTS AND BENCHMARKS ONLY. The protocol, the sequencer and the calibration code must learn
/// these through device readings, exactly as on a real bench; nothing on their path may read
/// `SimulationEngine.truth`. Tests read it to check that calibration found the right values.
public struct SimulationTruth: Sendable, Equatable {
    public struct Laser: Sendable, Equatable {
        public var thresholdCurrent: Current
        public var slopeEfficiency: SlopeEfficiency
        /// Emission wavelength at 25 °C; it tunes by `tuning` per kelvin.
        public var wavelength: Length
        public var tuning: Length = .nanometres(0.1)
        /// Fraction of the emitted power each receiver's local oscillator can draw.
        public var loSplit: Double
    }
    public struct ModulatorChannelTruth: Sendable, Equatable {
        public var vPi: Voltage
        /// φ0 (arms) or θ0 (outer phase section) at zero voltage, before drift.
        public var biasPhase: Phase
        /// Extinction ratio (arms only).
        public var extinction: Decibels?
        public var driftRate: PhaseRate
        public var driftWalk: PhaseWalk
        /// Field leakage at null: δ = 10^(−ER/20) (0 without an extinction ratio).
        public var leakage: Double { extinction.map { pow(10, -$0.dB / 20) } ?? 0 }
    }
    public struct Modulator: Sendable, Equatable {
        public var i: ModulatorChannelTruth
        public var q: ModulatorChannelTruth
        public var phase: ModulatorChannelTruth
        public var insertionLoss: Decibels
        public subscript(_ c: ModulatorChannel) -> ModulatorChannelTruth {
            switch c { case .i: i; case .q: q; case .phase: phase }
        }
    }
    public struct Tap: Sendable, Equatable {
        public var attenuatorOffset: Decibels
        public var fraction: Double
        public var outputLoss: Decibels
        public var darkOffset: Power
        public var noise: Power
        public var responsivityError: Double
        /// Relative responsivity change per metre of wavelength error (InGaAs near 1550 nm: +0.08 %/nm).
        public var responsivitySlope: Double = 0.0008e9
    }
    public struct Switch: Sendable, Equatable {
        public var backToBackLoss: Decibels
        public var backToBackPhase: Phase
    }
    public struct Link: Sendable, Equatable {
        public var length: Length
        public var lossForward: Decibels
        public var lossBack: Decibels
        public var phaseForward: Phase
        public var phaseBack: Phase
        public var phaseWalk: PhaseWalk
    }
    public struct Receiver: Sendable, Equatable {
        public var efficiency: Double
        public var snuScale: NoiseScale
        public var electronicNoise: Voltage
        public var loPhase: Phase
        public var loPhaseWalk: PhaseWalk
        public var offset: Voltage
        public var bits: Int
        public var range: Voltage
        /// N0 (V²) at a delivered LO power: the variance of one vacuum quadrature.
        public func shotNoiseVariance(loPower: Power) -> Double { snuScale.si * loPower.si }
        /// Digitiser step (V).
        public var lsb: Double { 2 * range.si / Double(1 << bits) }
    }
    public struct Amplifier: Sendable, Equatable {
        public var spontaneousEmissionFactor: Double
    }

    public var laser: Laser
    public var modulator: Modulator
    public var tap: Tap
    public var opticalSwitch: Switch
    public var link: Link
    public var serverReceiver: Receiver
    public var clientReceiver: Receiver
    public var amplifier: Amplifier

    public func receiver(_ role: Role) -> Receiver { role == .clientReceiver ? clientReceiver : serverReceiver }

    /// Draws every constant of `HiddenConstants.catalogue` in order, uniform in nominal ± spread,
    /// from stream 0x7275_7468 ("ruth") of the seed.
    public static func draw(_ config: SimulationConfiguration) -> SimulationTruth {
        var rng = Xoshiro256(seed: config.seed, stream: 0x7275_7468)
        var values: [String: Double] = [:]
        for d in HiddenConstants.catalogue {
            let s = config.constant(d.section, d.key)
            for label in d.draws.isEmpty ? [""] : d.draws {
                let u = rng.nextUnit()
                let v = s.spread == 0 ? s.nominal : s.nominal + s.spread * (2 * u - 1)
                values[label.isEmpty ? d.name : "\(d.name).\(label)"] = d.kind == .integer ? v.rounded() : v
            }
        }
        func v(_ key: String) -> Double { values[key]! }
        func arm(_ c: String, extinction: Bool) -> ModulatorChannelTruth {
            ModulatorChannelTruth(vPi: .volts(v("server.modulator.v-pi-\(c)")), biasPhase: .radians(v("server.modulator.bias-phase-\(c)")),
                                  extinction: extinction ? Decibels(v("server.modulator.extinction-\(c)")) : nil,
                                  driftRate: PhaseRate(si: v("server.modulator.drift-rate.\(c)")),
                                  driftWalk: PhaseWalk(si: v("server.modulator.drift-walk.\(c)")))
        }
        func receiver(_ p: String) -> Receiver {
            Receiver(efficiency: v("\(p).efficiency"), snuScale: NoiseScale(si: v("\(p).snu-scale")),
                     electronicNoise: .volts(v("\(p).electronic-noise")), loPhase: .radians(v("\(p).lo-phase")),
                     loPhaseWalk: PhaseWalk(si: v("\(p).lo-phase-walk")), offset: .volts(v("\(p).offset")),
                     bits: Int(v("\(p).bits")), range: .volts(v("\(p).range")))
        }
        return SimulationTruth(
            laser: Laser(thresholdCurrent: .amperes(v("server.laser.threshold")), slopeEfficiency: SlopeEfficiency(si: v("server.laser.slope-efficiency")),
                         wavelength: .metres(v("server.laser.wavelength")), loSplit: v("server.laser.lo-split")),
            modulator: Modulator(i: arm("i", extinction: true), q: arm("q", extinction: true), phase: arm("phase", extinction: false),
                                 insertionLoss: Decibels(v("server.modulator.insertion-loss"))),
            tap: Tap(attenuatorOffset: Decibels(v("server.voa.offset")), fraction: v("server.tap.fraction"), outputLoss: Decibels(v("server.tap.output-loss")),
                     darkOffset: .watts(v("server.tap.dark-offset")), noise: .watts(v("server.tap.noise")),
                     responsivityError: v("server.tap.responsivity-error")),
            opticalSwitch: Switch(backToBackLoss: Decibels(v("server.switch.b2b-loss")), backToBackPhase: .radians(v("server.switch.b2b-phase"))),
            link: Link(length: .metres(v("link.length")), lossForward: Decibels(v("link.loss-forward")), lossBack: Decibels(v("link.loss-back")),
                       phaseForward: .radians(v("link.phase-forward")), phaseBack: .radians(v("link.phase-back")),
                       phaseWalk: PhaseWalk(si: v("link.phase-walk"))),
            serverReceiver: receiver("server.receiver"),
            clientReceiver: receiver("client.receiver"),
            amplifier: Amplifier(spontaneousEmissionFactor: v("client.amplifier.nsp")))
    }
}
