import BenchKit
import Foundation
import Numerics

/// What one receiver does with light during a shot or a capture, in the units the kernels use.
///
/// A sample is y = offset + 2 g √η Re(R e^{−iφ}) + noise, quantised by the digitiser, where R is the
/// coherent amplitude at the receiver input, g = √N0 = √(k · P_LO) the volts per unit quadrature, η the
/// efficiency and φ the LO angle of the slot (set phase + hidden offset, + π/2 on P slots). The
/// noise of a vacuum-limited input is one Gaussian of variance g² (η · 1 SNU + (1 − η) · 1 SNU of
/// the loss) + σ_el²; excess noise of the light adds g² η · ε on top (drawn with the light).
struct ReceiverPhysics: Sendable {
    let role: Role
    /// √N0 in volts; 0 without LO (laser off or LO unset) or when the receiver is dead.
    let shotNoiseScale: Double
    let efficiency: Double
    let electronicNoise: Double
    let digitiser: Digitiser
    /// LO angle of X slots (set phase + true offset now).
    let angle: Double
    let pattern: [SlotKind]
    /// `pattern` as codes 0 (X), 1 (P), 2 (vacuum).
    let patternCodes: [UInt8]
    /// Input blocked by `setInputBlocked(true)`: every slot sees vacuum.
    let blocked: Bool

    /// Volts per unit of coherent amplitude: 2 g √η.
    var signalGain: Double { 2 * shotNoiseScale * efficiency.squareRoot() }
    /// Standard deviation of a vacuum-limited sample: √(g² + σ_el²).
    var vacuumSigma: Double { (shotNoiseScale * shotNoiseScale + electronicNoise * electronicNoise).squareRoot() }

    func kind(_ slot: Int) -> SlotKind {
        if blocked { return .vacuum }
        return pattern.isEmpty ? .x : pattern[slot % pattern.count]
    }

    func angle(of kind: SlotKind) -> Double { angle + (kind == .p ? Double.pi / 2 : 0) }
}

/// What the server's side of a `fire` needs, taken from the engine under its lock in one go; the
/// physics then runs without the lock. The client's side is planned by the twin that holds the
/// client's devices when the light arrives (`ClientShotPlan`).
struct ShotPlan: Sendable {
    let frame: DriveFrame
    let path: SwitchPath
    let firstShot: UInt64
    /// Shots the trigger fires (all of them reach the client on the client path).
    let shots: Int
    let serverShots: Int
    let serverGeneration: Int
    /// Simulated time at the burst's start.
    let time: Double
    /// The forward link's delay (its length over the group velocity in fibre): the light reaches the
    /// client this much later, and the client's phases are those of that moment.
    let linkDelay: Double
    /// √(photons per mode) for unit modulator field at the server output.
    let amplitude: Double
    let biasI: Double, biasQ: Double, theta: Double
    let leakI: Double, leakQ: Double
    /// √T e^{iφ} of the forward link, the return link and the back-to-back path.
    let forward: Complex<Double>
    let back: Complex<Double>
    let backToBack: Complex<Double>
    let server: ReceiverPhysics
    let threads: Int
    let seeds: SimulationEngine.StreamSeeds

    var slots: Int { frame.count }
}

/// What the client's side of a burst needs: its processor's program, its optics, its receiver.
struct ClientShotPlan: Sendable {
    let layout: FrameLayout
    /// ξ of the shots to compute.
    let symbols: [[ComplexSymbol]]
    let firstShot: UInt64
    /// Shots computed: the most of the shots the server measures and the shots the client records.
    let computeShots: Int
    let returnShots: Int
    let clientShots: Int
    let clientGeneration: Int
    let client: ReceiverPhysics
    let optics: ClientOptics
    let threads: Int
    let seeds: SimulationEngine.StreamSeeds
}

extension SimulationEngine {
    /// The receiver's physics now (caller holds the lock).
    func receiverPhysics(_ role: Role, _ phases: TruePhases) -> ReceiverPhysics {
        let t = truth.receiver(role)
        let r = state.receivers[role]!
        let dead = faultBook.isDead(role, at: clock)
        let lo = deliveredLO(role, state)
        return ReceiverPhysics(role: role, shotNoiseScale: dead ? 0 : t.shotNoiseVariance(loPower: .watts(lo)).squareRoot(),
                               efficiency: t.efficiency, electronicNoise: t.electronicNoise.si, digitiser: Digitiser(t),
                               angle: r.loPhase + phases.localOscillator[role]!, pattern: r.pattern, patternCodes: r.patternCodes,
                               blocked: r.inputBlocked || dead)
    }

    static func path(loss dB: Double, phase: Double) -> Complex<Double> {
        let a = Decibels(-dB).linear.squareRoot()
        return Complex(a * cos(phase), a * sin(phase))
    }

    /// Takes the snapshot for `shots` triggered shots, reserves their shot numbers, marks what the
    /// server receiver will get, and advances the clock past them. Nil when no light or reading
    /// comes of it: no receiver records, or (on the client path) nothing is there to reach the client.
    func planShots(_ shots: Int) throws -> ShotPlan? {
        guard shots >= 0, shotCounter <= Self.maximumCounter, UInt64(shots) <= Self.maximumCounter else {
            throw DeviceError(.invalidRequest, device: Role.trigger.rawValue, message: "\(shots) shots after \(shotCounter): beyond the \(Self.maximumCounter) shots a twin counts",
                              remedy: "start a new run on a freshly opened twin")
        }
        let time = clock
        let phases = drift.phases(at: time, truth: truth, faults: faultBook.faults)
        state.triggerPulses += shots
        let first = shotCounter
        shotCounter += UInt64(shots)
        guard let frame = state.modulator.frame else {
            let armed = state.receivers.values.contains { $0.remaining > 0 }
            if armed {
                throw DeviceError(.notReady, device: Role.serverModulator.rawValue, message: "no drive frames are loaded, so the trigger has nothing to play",
                                  remedy: "upload the shot's frames with loadDrive(i:q:) before firing")
            }
            return nil
        }
        let path = effectivePath
        let serverShots = max(0, min(shots, state.receivers[.serverReceiver]!.remaining))
        // The burst goes to the client's twin whenever it may be recording (a split bench cannot
        // know, so always there): its light on the client path, dark back-to-back (its receiver then
        // digitises vacuum); on the client path also whenever the server measures what comes back.
        let clientMayRecord = site != .table || (state.receivers[.clientReceiver]!.remaining > 0 && state.processor.layout != nil)
        let reachesClient = clientMayRecord || (path == .client && serverShots > 0)
        guard serverShots > 0 || reachesClient else {
            advanceLocked(Double(shots * frame.count) / configuration.symbolRate.si)
            return nil
        }
        let bias = biasAngles(state, phases)
        state.receivers[.serverReceiver]!.pendingShots += serverShots
        let plan = ShotPlan(
            frame: frame, path: path, firstShot: first, shots: shots, serverShots: serverShots,
            serverGeneration: state.receivers[.serverReceiver]!.generation, time: time,
            linkDelay: truth.link.length.si * SimulationEngine.fibreGroupIndex / PhysicalConstants.speedOfLight,
            amplitude: amplitudeScale(state), biasI: bias.i, biasQ: bias.q, theta: bias.theta,
            leakI: truth.modulator.i.leakage, leakQ: truth.modulator.q.leakage,
            forward: Self.path(loss: truth.link.lossForward.dB, phase: phases.linkForward),
            back: Self.path(loss: truth.link.lossBack.dB, phase: phases.linkBack),
            backToBack: Self.path(loss: truth.opticalSwitch.backToBackLoss.dB, phase: truth.opticalSwitch.backToBackPhase.si),
            server: receiverPhysics(.serverReceiver, phases), threads: threads, seeds: seeds)
        advanceLocked(Double(shots * frame.count) / configuration.symbolRate.si)
        return plan
    }

    /// Plans the client's side of a burst of light arriving at its input (caller holds the lock):
    /// checks the processor's program against the light, reserves what the client receiver records.
    func planClientShots(_ light: ArrivingLight) throws -> ClientShotPlan? {
        let phases = drift.phases(at: light.time, truth: truth, faults: faultBook.faults)
        if light.time > clock { clock = light.time }
        guard let layout = state.processor.layout else {
            // An idle processor passes the light straight through: fine unless someone measures it.
            guard light.returnShots == 0 else {
                throw DeviceError(.notReady, device: Role.clientProcessor.rawValue, message: "light arrives through the client, whose processor is not programmed",
                                  remedy: "program ξ and the frame layout on client.processor before firing, or route the switch back-to-back")
            }
            return nil
        }
        let clientRemaining = state.receivers[.clientReceiver]!.remaining
        guard layout.slotsPerShot == light.slots else {
            guard light.returnShots > 0 || clientRemaining > 0 else { return nil }
            throw DeviceError(.invalidRequest, device: Role.clientProcessor.rawValue,
                              message: "programmed for \(layout.rows) × (\(layout.modesPerRow) + \(layout.vacuumSlotsPerRow)) = \(layout.slotsPerShot) slots per shot, but \(light.slots)-slot shots arrive",
                              remedy: "program the processor with the layout of the frames loaded on the modulator")
        }
        let clientShots = max(0, min(light.shots, clientRemaining))
        let compute = max(light.returnShots, clientShots)
        guard compute > 0 else { return nil }
        guard state.processor.symbols.count >= compute else {
            throw DeviceError(.notReady, device: Role.clientProcessor.rawValue,
                              message: "holds ξ for \(state.processor.symbols.count) shots, but \(compute) shots of the burst are measured",
                              remedy: "program ξ for every shot of the burst before firing")
        }
        state.receivers[.clientReceiver]!.pendingShots += clientShots
        return ClientShotPlan(
            layout: layout, symbols: Array(state.processor.symbols.prefix(compute)), firstShot: light.firstShot,
            computeShots: compute, returnShots: light.returnShots, clientShots: clientShots,
            clientGeneration: state.receivers[.clientReceiver]!.generation, client: receiverPhysics(.clientReceiver, phases),
            optics: ClientOptics(gain: state.clientInterlockClear ? state.gain : 1, keptFraction: state.keptFraction,
                                 spontaneousEmissionFactor: truth.amplifier.spontaneousEmissionFactor, behaviour: behaviour),
            threads: threads, seeds: seeds)
    }
}
