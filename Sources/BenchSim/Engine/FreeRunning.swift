import BenchKit
import Foundation
import Numerics
import NumericsKit

extension SimulationEngine {
    /// The modulator's field transmission with the static drive (what plays between triggered
    /// frames) and the current bias state (caller holds the lock).
    func staticField(_ phases: TruePhases) -> Complex<Double> {
        let m = truth.modulator, s = state.modulator
        let tI = TransmitterPhysics.armField(drive: s.staticI, bias: s.bias[.i]!, vPi: m.i.vPi.si, phase0: phases.modulator[.i]!, leakage: m.i.leakage)
        let tQ = TransmitterPhysics.armField(drive: s.staticQ, bias: s.bias[.q]!, vPi: m.q.vPi.si, phase0: phases.modulator[.q]!, leakage: m.q.leakage)
        let theta = TransmitterPhysics.outerPhase(bias: s.bias[.phase]!, vPi: m.phase.vPi.si, phase0: phases.modulator[.phase]!)
        return TransmitterPhysics.iqField(tI, tQ, theta: theta)
    }

    static let maximumCapture = 1 << 28

    /// Free-running capture of `count` samples of what is at the receiver's input now: the static
    /// drive's CW light through the switch's path (the idle client passes light straight through;
    /// an intercept-resend client still adds its 2 SNU), or vacuum when the input is blocked. The
    /// client receiver gets no light outside triggered shots. Without LO only electronic noise.
    /// The clock advances by count / symbol rate.
    func acquire(_ role: Role, count: Int) throws -> SampleBlock {
        guard count > 0, count <= Self.maximumCapture else {
            throw DeviceError(.invalidRequest, device: role.rawValue, message: "cannot capture \(count) samples",
                              remedy: "capture between 1 and \(Self.maximumCapture) samples per call")
        }
        let (rx, mean, sigma, index, workers) = locked { () -> (ReceiverPhysics, Double, Double, UInt64, Int) in
            let phases = drift.phases(at: clock, truth: truth, faults: faultBook.faults)
            let rx = receiverPhysics(role, phases)
            var amplitude = Complex<Double>.zero
            var excess = 0.0
            if role == .serverReceiver, !rx.blocked {
                let field = staticField(phases) * Complex(amplitudeScale(state))
                if effectivePath == .client {
                    let back = Self.path(loss: truth.link.lossBack.dB, phase: phases.linkBack)
                    amplitude = back * Self.path(loss: truth.link.lossForward.dB, phase: phases.linkForward) * field
                    if behaviour == .interceptResend { excess = 2 * back.lengthSquared }
                } else {
                    amplitude = Self.path(loss: truth.opticalSwitch.backToBackLoss.dB, phase: truth.opticalSwitch.backToBackPhase.si) * field
                }
            }
            let mean = rx.signalGain * (amplitude * Complex(cos(rx.angle), -sin(rx.angle))).real
            let g2 = rx.shotNoiseScale * rx.shotNoiseScale
            let sigma = (g2 * (1 + rx.efficiency * excess) + rx.electronicNoise * rx.electronicNoise).squareRoot()
            let index = acquireCounter
            acquireCounter += 1
            advanceLocked(Double(count) / configuration.symbolRate.si)
            return (rx, mean, sigma, index, threads)
        }
        let block = 65_536
        let samples = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            let out = SharedBuffer(base: buffer.baseAddress!, count: count)
            let seed = seeds.acquire, bulk = self.bulk
            let m = Float(mean) + rx.digitiser.offset, sd = Float(sigma), dig = rx.digitiser
            WorkPool.run(units: (count + block - 1) / block, threads: workers) { u in
                var rng = Xoshiro256(seed: seed, stream: index << 20 | UInt64(u))
                let part = UnsafeMutableBufferPointer(start: out.base + u * block, count: min(block, count - u * block))
                bulk.fill(part, mean: m, sigma: sd, &rng)
                dig.quantise(part)
            }
            initialised = count
        }
        return SampleBlock(volts: samples, sampleRate: configuration.symbolRate, clippedSamples: rx.digitiser.clippedCount(samples))
    }

    /// Optical power at the meter's head now (W), from the static-drive light after the attenuator:
    /// on the tap (before the shutter), at the server's output port (after the tap and its output
    /// loss, after the shutter), at the client's input (then through the forward link, switch on
    /// the client path), or at the server receiver's input (switch back-to-back).
    func tapPower() -> Double {
        let phases = drift.phases(at: clock, truth: truth, faults: faultBook.faults)
        let afterVOA = modulatorPeakPower(state) * staticField(phases).lengthSquared
            * Decibels(-(effectiveAttenuation + truth.tap.attenuatorOffset.dB)).linear
        let output = afterVOA * (1 - truth.tap.fraction) * Decibels(-truth.tap.outputLoss.dB).linear * (effectiveShutterOpen ? 1 : 0)
        switch state.powerMeter.probe {
        case .tap: return afterVOA * truth.tap.fraction
        case .serverOutput: return output
        case .clientInput: return effectivePath == .client ? output * Decibels(-truth.link.lossForward.dB).linear : 0
        case .serverReceiverInput: return effectivePath == .backToBack ? output * Decibels(-truth.opticalSwitch.backToBackLoss.dB).linear : 0
        }
    }

    /// One raw meter reading averaged over `averaging`: light times the responsivity error and
    /// the wavelength-correction mismatch, plus the dark offset and noise ∝ 1/√t (caller holds the lock).
    private func meterReading(averaging: Double) -> Double {
        advanceLocked(averaging)
        let t = truth.tap
        let lambda = TransmitterPhysics.wavelength(truth.laser, temperature: state.laser.temperature)
        let correction = (1 + t.responsivityError) * (1 + t.responsivitySlope * (lambda - state.powerMeter.wavelength))
        return tapPower() * correction + t.darkOffset.si + t.noise.si / averaging.squareRoot() * meterRng.nextGaussian()
    }

    func readPower(averaging: Duration) throws -> Power {
        guard averaging > .zero else {
            throw DeviceError(.invalidRequest, device: Role.serverTap.rawValue, message: "averaging time must be positive",
                              remedy: "average over e.g. .milliseconds(100)")
        }
        return locked { .watts(meterReading(averaging: averaging.inSeconds) - state.powerMeter.zero) }
    }

    /// Zeroing: the meter takes what it reads now (over 1 s) as its dark offset. Correct only with
    /// no light on the head.
    func zeroPowerMeter() {
        locked { state.powerMeter.zero = meterReading(averaging: 1) }
    }
}
