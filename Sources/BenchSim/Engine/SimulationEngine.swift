import BenchKit
import Foundation
import NumericsKit
import SecureInference

/// The optical table of one simulated bench: the settings of every device, the hidden constants,
/// the simulated clock with its drifts, the faults in play and the client's behaviour. All devices of
/// a bench opened with the `sim` driver share one engine (through `DriverContext.shared`); tests and
/// benchmarks reach it with `SimulatedBench.engine(of:)`.
///
/// Thread safety: the state is guarded by a lock held only for bookkeeping; the physics of a
/// `fire` or `acquire` runs outside it on `workerThreads` threads, with random streams keyed by
/// (seed, shot, block) so the samples never depend on scheduling or on the thread count.
///
/// `truth`, `truePhases` and `fieldScale()` are FOR TESTS AND BENCHMARKS ONLY: the protocol, the
/// sequencer and the calibration code must learn the bench through its devices.
public final class SimulationEngine: @unchecked Sendable {
    public let configuration: SimulationConfiguration
    /// The hidden constants. For tests and benchmarks only (see the type's documentation).
    public let truth: SimulationTruth
    public let benchName: String
    /// Roles the bench binds (an unbound shutter is absent, i.e. open; an unbound switch is the
    /// client path; an unbound attenuator is 0 dB).
    public let boundRoles: Set<Role>
    /// The part of the testbed this twin simulates (a one-table bench, or one site of a split one).
    public let site: TwinSite
    /// Where the light of the client path goes (nil at the client's site).
    private(set) var fiber: (any FiberEnd)?
    /// Group index of standard single-mode fibre at 1550 nm: the link delays light by length × this / c.
    static let fibreGroupIndex = 1.468

    /// The client's site's connection to the server's fibre port.
    private var fiberClient: TCPFiberClient?

    private let lock = NSLock()
    // Guarded by `lock`:
    var state = BenchState()
    var faultBook = FaultBook()
    var drift: DriftState
    var clock = 0.0
    var shotCounter: UInt64 = 0
    var acquireCounter: UInt64 = 0
    var frameCache = DriveFrameCache()
    var behaviour: ClientBehaviour
    var threads: Int
    var meterRng: Xoshiro256
    /// The server receiver's last fetched records, reused by the next bursts (`fire`).
    var spareRecords = SpareRecords()

    let seeds: StreamSeeds
    let bulk = Gaussian.BulkSampler()
    let scratch = ScratchPool()

    /// Per-purpose seeds of the random streams.
    struct StreamSeeds: Sendable {
        let row, slot, heterodyne, acquire, meter: UInt64
        init(_ seed: UInt64) {
            var sm = SplitMix64(seed: seed ^ 0x5349_4D5F_5457_494E)
            row = sm.next(); slot = sm.next(); heterodyne = sm.next(); acquire = sm.next(); meter = sm.next()
        }
    }

    /// Builds the engine of a bench from its `simulation:` section.
    public init(bench: BenchDescription) throws(BenchFileError) {
        configuration = try SimulationConfiguration.parse(bench.simulation)
        truth = SimulationTruth.draw(configuration)
        benchName = bench.name
        boundRoles = Set(bench.roles)
        drift = DriftState(seed: configuration.seed)
        seeds = StreamSeeds(configuration.seed)
        meterRng = Xoshiro256(seed: seeds.meter)
        behaviour = configuration.clientBehaviour
        threads = availableCores
        for f in configuration.faults { faultBook.inject(f) }
        let split = TwinSite.of(bench)
        site = split?.0 ?? .table
        switch split {
        case nil: fiber = LocalFiber(self)
        case let (.server, host, port)?:
            do { fiber = try TCPFiberServer(host: host, port: port) } catch {
                throw BenchFileError(file: bench.bindings[.link]?.options?.file ?? "bench file", line: bench.bindings[.link]?.line ?? 0,
                                     message: "link: the twin's fibre cannot listen at \(host):\(port): \(error); free the port or pick another in both site files")
            }
        case let (_, host, port)?:
            fiberClient = TCPFiberClient(host: host, port: port, engine: self)
        }
    }

    deinit { fiberClient?.stop() }

    /// Closes the client's site's end of the fibre for good (what a killed client process does to
    /// it). For tests.
    func disconnectFiber() { fiberClient?.stop() }

    // MARK: locking

    @discardableResult
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }

    func update<T>(_ body: (inout BenchState) throws -> T) rethrows -> T {
        try locked { try body(&state) }
    }

    func read<T>(_ body: (BenchState) -> T) -> T { locked { body(state) } }

    /// Advances the simulated clock (and every drift) by `dt` seconds. Caller holds the lock.
    func advanceLocked(_ dt: Double) {
        guard dt > 0 else { return }
        clock += dt
    }

    // MARK: public API for tests, benchmarks and the sequencer's simulation harness

    /// Simulated time since the bench was opened. It advances with every shot (slots / symbol
    /// rate), every free-running capture and every power-meter averaging interval.
    /// The simulated clock (never beyond ~31 years: the twin advances it by shot times only).
    public var time: Duration { Time(si: locked { clock }).duration ?? .seconds(Duration.maximumFileSeconds) }

    /// Lets simulated time pass (drifts move, scheduled faults come due).
    public func advanceClock(by span: Duration) {
        locked { advanceLocked(max(0, span.inSeconds)) }
    }

    /// The drifting phases now. For tests and benchmarks only.
    public var truePhases: TruePhases {
        locked { drift.phases(at: clock, truth: truth, faults: faultBook.faults) }
    }

    /// Plays a fault from now on (its `at` is simulated time since the bench was opened).
    public func inject(_ fault: SimulatedFault) throws(SimulationError) {
        guard SimulatedFault.applies(fault.kind, to: fault.role) else {
            throw SimulationError("a \(fault.kind.name) fault cannot hit \(fault.role.rawValue), a \(fault.role.family.rawValue)")
        }
        locked { faultBook.inject(fault) }
    }

    /// Clears the faults of `role` after `delay` of wall-clock time (an operator plugging an
    /// instrument back in while the stations wait), on a timer of its own: not on Swift's
    /// cooperative threads, which a busy twin on a loaded machine can hold for seconds.
    public func clearFaults(role: Role? = nil, after delay: Duration) {
        Self.afterWallClock(delay) { [self] in clearFaults(role: role) }
    }

    /// Closes (or opens) an interlock chain after `delay` of wall-clock time, on a timer of its
    /// own (see `clearFaults(role:after:)`).
    public func setInterlock(clear: Bool, role: Role = .interlock, after delay: Duration) {
        Self.afterWallClock(delay) { [self] in setInterlock(clear: clear, role: role) }
    }

    static func afterWallClock(_ delay: Duration, _ body: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = delay.components
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) * 1e-18, execute: body)
    }

    /// Removes the faults of `role` (all faults when nil): a disconnected device reconnects, a
    /// dead receiver recovers. A drift burst's phase change stays (it is physics, not a fault state).
    public func clearFaults(role: Role? = nil) {
        locked {
            let bursts = faultBook.faults.filter { if case .driftBurst = $0.kind { return role == nil || $0.role == role } else { return false } }
            faultBook.clear(role: role)
            // Keep the phase a burst already moved: re-inject it as a completed step.
            for var b in bursts {
                if case let .driftBurst(c, size, ramp) = b.kind {
                    let start = b.at.inSeconds, r = ramp.inSeconds
                    let done = clock <= start ? 0 : (r > 0 ? min(1, (clock - start) / r) : 1)
                    guard done > 0 else { continue }
                    b.kind = .driftBurst(channel: c, size: .radians(size.si * done), ramp: .zero)
                    faultBook.inject(b)
                }
            }
        }
    }

    /// The faults in play.
    public var faults: [SimulatedFault] { locked { faultBook.faults } }

    /// How the simulated client treats the light from now on (PROTOCOL.md §7).
    public func setClientBehaviour(_ b: ClientBehaviour) throws(SimulationError) {
        try ClientOptics.validate(b)
        locked { behaviour = b }
    }

    public var clientBehaviour: ClientBehaviour { locked { behaviour } }

    /// Opens (false) or closes (true) a simulated laser-safety interlock chain: the server's
    /// (`interlock`: while it is open the laser cannot emit) or the client's (`client.interlock`:
    /// while it is open the client's amplifier has no pump, G = 1).
    public func setInterlock(clear: Bool, role: Role = .interlock) {
        update {
            if role == .clientInterlock { $0.clientInterlockClear = clear } else { $0.interlockClear = clear }
        }
    }

    /// The server laser's controller switches its output off by itself, with the interlock chain
    /// clear: a trip of the controller's own protection (keylock, its interlock input, a TEC or
    /// current-limit fault; Series 4000 SCPI reference §3.14.3, `STATus:MEASurement`). The laser
    /// stays dark until emission is switched on again; `Laser.isEmitting()` reports it.
    public func tripLaserController() {
        update { $0.laser.emissionRequested = false }
    }

    /// Threads the physics runs on (default: every core). Results do not depend on it.
    public var workerThreads: Int { locked { threads } }
    public func setWorkerThreads(_ n: Int) { locked { threads = max(1, n) } }

    /// Shots fired since the bench was opened.
    public var shotsFired: UInt64 { locked { shotCounter } }

    /// LO power a receiver actually gets now: its setting, capped by what the laser delivers
    /// (`lo-split` × emitted power). For tests and benchmarks only.
    public func deliveredLocalOscillatorPower(_ role: Role) -> Power {
        locked { .watts(deliveredLO(role, state)) }
    }

    /// √(photons per mode) at the server's output for unit modulator field (both arms at peak,
    /// θ = 0) with the current laser, attenuator and shutter settings: α = fieldScale · f.
    /// For tests and benchmarks only.
    public func fieldScale() -> Double { locked { amplitudeScale(state) } }

    // MARK: physics shared by the shot and free-running paths (caller holds the lock)

    func laserPower(_ s: BenchState) -> Double {
        let emitting = s.laser.emissionRequested && s.interlockClear
        return TransmitterPhysics.laserPower(truth.laser, current: s.laser.current, emitting: emitting)
    }

    /// The LO a receiver gets: split from the server's laser on a one-table bench and at the server's
    /// site; at the client's site of a split bench its own LO laser gives what is set.
    func deliveredLO(_ role: Role, _ s: BenchState) -> Double {
        let set = s.receivers[role]?.loPower ?? 0
        return site == .client ? set : min(set, truth.laser.loSplit * laserPower(s))
    }

    var effectiveShutterOpen: Bool { !boundRoles.contains(.shutter) || state.shutterOpen }
    var effectivePath: SwitchPath { boundRoles.contains(.serverSwitch) ? state.path : .client }
    var effectiveAttenuation: Double { boundRoles.contains(.serverAttenuator) ? state.attenuation : 0 }

    /// Photon energy at the laser's true wavelength now.
    func photonEnergy(_ s: BenchState) -> Double {
        PhysicalConstants.planck * PhysicalConstants.speedOfLight / TransmitterPhysics.wavelength(truth.laser, temperature: s.laser.temperature)
    }

    /// Power after the modulator for unit field, before the attenuator.
    func modulatorPeakPower(_ s: BenchState) -> Double {
        laserPower(s) * Decibels(-truth.modulator.insertionLoss.dB).linear
    }

    func amplitudeScale(_ s: BenchState) -> Double {
        guard effectiveShutterOpen else { return 0 }
        let p = modulatorPeakPower(s) * Decibels(-(effectiveAttenuation + truth.tap.attenuatorOffset.dB)).linear
            * (1 - truth.tap.fraction) * Decibels(-truth.tap.outputLoss.dB).linear
        return (p / configuration.symbolRate.si / photonEnergy(s)).squareRoot()
    }

    /// Bias angles b = π V_bias/(2Vπ) + φ0 of the arms, the outer phase θ, now.
    func biasAngles(_ s: BenchState, _ phases: TruePhases) -> (i: Double, q: Double, theta: Double) {
        let m = truth.modulator
        return (Double.pi * s.modulator.bias[.i]! / (2 * m.i.vPi.si) + phases.modulator[.i]!,
                Double.pi * s.modulator.bias[.q]! / (2 * m.q.vPi.si) + phases.modulator[.q]!,
                TransmitterPhysics.outerPhase(bias: s.modulator.bias[.phase]!, vPi: m.phase.vPi.si, phase0: phases.modulator[.phase]!))
    }

    /// The instrument identity of a simulated device: manufacturer "qbench-sim", serial
    /// "<bench>-<seed>/<role>". Stable across processes: the same bench file with the same seed is
    /// the same (simulated) instrument, so its calibration records stay valid; another seed is
    /// another instrument, and its records are refused.
    func identity(for role: Role) -> InstrumentIdentity {
        InstrumentIdentity(manufacturer: "qbench-sim", model: "twin \(role.family.rawValue)",
                           serial: "\(benchName)-\(String(configuration.seed, radix: 16))/\(role.rawValue)", firmware: "1.0")
    }
}
