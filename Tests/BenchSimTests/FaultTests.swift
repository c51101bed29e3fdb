import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit
import Testing

/// Faults on demand, from the bench file and from the engine's API.
@Suite("Faults")
struct FaultTests {
    func kind(of error: any Error) -> DeviceError.Kind? { (error as? DeviceError)?.kind }

    @Test func timeoutFailsTheNextCallsThenRecovers() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml())
        let rx = try bench.receiver(.serverReceiver)
        try engine.inject(SimulatedFault(role: .serverReceiver, kind: .timeout(delay: .milliseconds(2)), count: 2))
        for _ in 0..<2 {
            let started = ContinuousClock.now
            await #expect(throws: DeviceError.self) { try await rx.setLocalOscillatorPower(.milliwatts(1)) }
            #expect(ContinuousClock.now - started >= .milliseconds(2))
        }
        do { _ = try await rx.localOscillatorPower() } catch { Issue.record("the third call should pass: \(error)") }
        try engine.inject(SimulatedFault(role: .serverReceiver, kind: .timeout(delay: .milliseconds(1))))
        do { _ = try await rx.acquire(count: 10); Issue.record("expected a timeout") } catch { #expect(kind(of: error) == .timeout) }
        // A fetch under a timeout fault waits its own timeout.
        let started = ContinuousClock.now
        do { _ = try await rx.fetch(timeout: .milliseconds(30)); Issue.record("expected a timeout") } catch { #expect(kind(of: error) == .timeout) }
        #expect(ContinuousClock.now - started >= .milliseconds(30))
    }

    @Test func disconnectLastsUntilCleared() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml())
        let laser = try bench.laser()
        try engine.inject(SimulatedFault(role: .serverLaser, kind: .disconnect))
        for _ in 0..<3 {
            do { try await laser.setEmission(true); Issue.record("expected a disconnect") } catch { #expect(kind(of: error) == .disconnected) }
        }
        do { _ = try await laser.identify(); Issue.record("expected a disconnect") } catch { #expect(kind(of: error) == .disconnected) }
        engine.clearFaults(role: .serverLaser)
        try await laser.setEmission(true)
        #expect(try await laser.isEmitting())
    }

    /// A simulated instrument reconnects only once its disconnect fault is cleared.
    @Test func reconnectSucceedsOnlyOnceTheFaultIsCleared() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml())
        let laser = try bench.laser()
        try engine.inject(SimulatedFault(role: .serverLaser, kind: .disconnect))
        do { try await laser.reconnect(); Issue.record("reconnected while unplugged") } catch { #expect(kind(of: error) == .disconnected) }
        engine.clearFaults(role: .serverLaser)
        try await laser.reconnect()
        #expect(try await laser.isEmitting() == false)
    }

    /// `Bench.reconnect` retries until the instrument is back (cleared by a task after 0.3 s),
    /// then reads the role's starting values again for its guard; an instrument that stays away
    /// ends in the typed error at the timeout, naming the role and its address.
    @Test func benchReconnectRetriesUntilBackThenObservesOrTimesOut() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml())
        let rx = try bench.receiver(.serverReceiver)
        try await rx.setLocalOscillatorPower(.milliwatts(2))
        await bench.limits.observe(.serverReceiver, "lo-power", 1)   // stale: the guard must read it again
        try engine.inject(SimulatedFault(role: .serverReceiver, kind: .disconnect))
        engine.clearFaults(role: .serverReceiver, after: .milliseconds(300))
        let started = ContinuousClock.now
        let identity = try await bench.reconnect(.serverReceiver, timeout: .seconds(5))
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(identity == (try await rx.identify()))
        #expect(await bench.limits.value(.serverReceiver, "lo-power") == 2e-3)
        try engine.inject(SimulatedFault(role: .serverReceiver, kind: .disconnect))
        do {
            try await bench.reconnect(.serverReceiver, timeout: .milliseconds(200))
            Issue.record("reconnected while unplugged")
        } catch let e as Bench.ReconnectError {
            #expect(e.role == .serverReceiver && e.timeout == .milliseconds(200) && kind(of: e.last) == .disconnected)
            #expect("\(e)".contains("server.receiver at sim://server.receiver did not come back within"), "\(e)")
        }
    }

    /// From the bench file: the attenuator answers 2 calls (the bench's read-back at open and one
    /// set), then rejects one with the instrument's message.
    @Test func instrumentErrorFromTheBenchFile() async throws {
        let faults = """
          faults:
            - role: server.voa
              kind: instrument-error
              after-calls: 2
              count: 1
              message: '-221,"Settings conflict"'

        """
        let (bench, _) = try await TestBench.open(TestBench.yaml(extra: faults))
        let voa = try bench.attenuator()
        try await voa.setAttenuation(Decibels(30))
        do {
            _ = try await voa.attenuation()
            Issue.record("expected an instrument error")
        } catch let error as DeviceError {
            #expect(error.kind == .instrumentError)
            #expect(error.message.contains("Settings conflict"))
        }
        #expect(try await voa.attenuation() == Decibels(30))
    }

    /// A burst ramps a bias phase by its size over its ramp time, and the light follows it.
    @Test func driftBurstMovesTheBiasAndTheLight() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml(constants: TestBench.merge(TestBench.ideal, ["server.tap": ["noise": "0 W"]])))
        try await bench.laser().setCurrent(.milliamperes(60))
        try await bench.laser().setEmission(true)
        try await bench.attenuator().setAttenuation(Decibels(0))
        try await bench.modulator().setStaticDrive(i: .volts(1), q: .volts(0.5))
        let before = engine.truePhases.modulator[.i]!
        let start = engine.time
        let p0 = try await bench.powerMeter().readPower(averaging: .microseconds(1)).si
        try engine.inject(SimulatedFault(role: .serverModulator, kind: .driftBurst(channel: .i, size: .radians(0.5), ramp: .milliseconds(1)), at: start))
        engine.advanceClock(by: .microseconds(500))
        let half = engine.truePhases.modulator[.i]! - before
        #expect(abs(half - 0.25) < 0.01, "half-way \(half) rad")
        engine.advanceClock(by: .milliseconds(2))
        #expect(abs(engine.truePhases.modulator[.i]! - before - 0.5) < 1e-9)
        let p1 = try await bench.powerMeter().readPower(averaging: .microseconds(1)).si
        #expect(abs(p1 - p0) > 1e-3 * p0, "the transmitted power must move with the bias")
        // Clearing faults does not undo physics: the bias stays moved.
        engine.clearFaults()
        #expect(abs(engine.truePhases.modulator[.i]! - before - 0.5) < 1e-9)
    }

    /// A dead receiver (from the bench file, at 5 ms of simulated time) delivers only its offset and
    /// electronic noise; before that it sees shot noise and light.
    @Test func deadReceiverDeliversOnlyElectronicNoise() async throws {
        let faults = """
          faults:
            - role: server.receiver
              kind: dead-receiver
              at: 5 ms

        """
        let (bench, engine) = try await TestBench.open(TestBench.yaml(constants: TestBench.frozen, extra: faults))
        try await TestBench.start(bench, engine: engine)
        let rx = try bench.receiver(.serverReceiver)
        let t = engine.truth.serverReceiver
        let alive = groupedMoments(try await rx.acquire(count: 100_000).volts, groups: 1) { _ in 0 }[0]
        #expect(alive.variance > 10 * t.electronicNoise.si * t.electronicNoise.si)
        engine.advanceClock(by: .milliseconds(5))
        let dead = groupedMoments(try await rx.acquire(count: 1_000_000).volts, groups: 1) { _ in 0 }[0]
        let expected = t.electronicNoise.si * t.electronicNoise.si + t.lsb * t.lsb / 12
        #expect(abs(dead.variance - expected) < varianceTolerance(expected, count: dead.count))
        #expect(abs(dead.mean - t.offset.si) < 5 * dead.standardError)
    }

    @Test func fetchWithoutTriggerTimesOut() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml())
        let rx = try bench.receiver(.serverReceiver)
        do { _ = try await rx.fetch(timeout: .milliseconds(10)); Issue.record("expected not-ready") } catch { #expect(kind(of: error) == .notReady) }
        try await rx.arm(shots: 2)
        try await bench.modulator().loadDrive(i: TestBench.waveform([0, 0], engine), q: TestBench.waveform([0, 0], engine))
        try await bench.trigger().fire(shots: 1)
        do { _ = try await rx.fetch(timeout: .milliseconds(20)); Issue.record("expected a timeout") } catch { #expect(kind(of: error) == .timeout) }
        try await bench.trigger().fire(shots: 1)
        #expect(try await rx.fetch(timeout: .milliseconds(20)).volts.count == 4)
    }

    @Test func clientPathNeedsAProgrammedProcessor() async throws {
        let (bench, engine) = try await TestBench.open(TestBench.yaml())
        try await bench.opticalSwitch().route(.client)
        try await bench.modulator().loadDrive(i: TestBench.waveform([0, 0], engine), q: TestBench.waveform([0, 0], engine))
        try await bench.receiver(.serverReceiver).arm(shots: 1)
        do { try await bench.trigger().fire(shots: 1); Issue.record("expected not-ready") } catch let e as DeviceError {
            #expect(e.kind == .notReady)
            #expect(e.device == "client.processor")
        }
    }
}
