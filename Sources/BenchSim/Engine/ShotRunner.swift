import BenchKit
import Foundation

extension SimulationEngine {
    /// The trigger: runs the physics of `shots` shots with the current settings of every device
    /// and hands the samples to the armed receivers. Shot k of the burst uses ξ `symbols[k]` of the
    /// client processor's program and the frames loaded on the modulator; the clock advances by
    /// shots × slots / symbol rate. Drift is evaluated once per burst (at its start). On the client
    /// path the light goes down the fibre (`fiber`) to the client's twin, here or at the other site,
    /// and the server's samples are made from what comes back.
    func fire(shots: Int) throws {
        guard let plan = try locked({ try planShots(shots) }) else { return }
        let computation = ShotComputation(plan, bulk: bulk, pool: scratch)
        defer { computation.recycle() }
        let light = computation.arriving()
        var returned: ReturnedLight?
        do {
            if let fiber {
                returned = try fiber.exchange(light, timeout: Self.fiberTimeout(slots: plan.slots, shots: plan.shots))
            }
            if plan.path == .client, plan.serverShots > 0, returned?.shots != plan.serverShots {
                throw DeviceError(.instrumentError, device: Role.link.rawValue,
                                  message: "\(returned?.shots ?? 0) of the \(plan.serverShots) measured shots came back from \(fiber?.peerDescription ?? "the fibre")",
                                  remedy: "check that the client's twin runs the same qbench version, then fire again")
            }
        } catch {
            locked { release(.serverReceiver, shots: plan.serverShots, generation: plan.serverGeneration) }
            throw error
        }
        guard plan.serverShots > 0 else { return }
        let count = plan.serverShots * plan.slots
        // A recent burst's record, resized within its capacity: written in place once the station
        // has let go of it (copy-on-write copies it first if anyone still holds it), so a burst
        // costs no fresh pages of memory.
        var samples = locked { spareRecords.record(count: count) }
        let clipped = samples.withUnsafeMutableBufferPointer {
            computation.run(server: SharedBuffer(base: $0.baseAddress!, count: count), returned: returned)
        }
        locked { deliver(.serverReceiver, shots: plan.serverShots, generation: plan.serverGeneration, data: samples, clipped: clipped) }
    }

    /// How long the server's twin waits for the client's twin to answer a burst: a fixed margin
    /// for the other process plus 200 ns of computation per slot and shot (ten times what a 2-core
    /// machine takes).
    static func fiberTimeout(slots: Int, shots: Int) -> Duration {
        .seconds(30) + .nanoseconds(200 * Int64(slots) * Int64(max(1, shots)))
    }

    /// Gives back the shots a failed `fire` had reserved.
    private func release(_ role: Role, shots: Int, generation: Int) {
        guard shots > 0, state.receivers[role]!.generation == generation else { return }
        state.receivers[role]!.pendingShots -= shots
    }

    /// Adds a computed burst's samples (`clipped` of them at the digitiser's rails) to an armed receiver's record.
    func deliver(_ role: Role, shots: Int, generation: Int, data: [Float], clipped: Int) {
        guard shots > 0, state.receivers[role]!.generation == generation else { return }
        state.receivers[role]!.pendingShots -= shots
        if state.receivers[role]!.record.isEmpty {
            state.receivers[role]!.record = data
        } else {
            state.receivers[role]!.record.append(contentsOf: data)
        }
        state.receivers[role]!.recordClipped += clipped
        state.receivers[role]!.recordedShots += shots
    }

    /// Prepares a receiver to record `shots` triggered shots (discarding anything unfetched).
    func arm(_ role: Role, shots: Int) {
        update {
            $0.receivers[role]!.armedShots = shots
            $0.receivers[role]!.recordedShots = 0
            $0.receivers[role]!.pendingShots = 0
            $0.receivers[role]!.record = []
            $0.receivers[role]!.recordClipped = 0
            $0.receivers[role]!.generation += 1
        }
    }

    /// Waits (in real time, up to `timeout`) until every armed shot is recorded and returns the
    /// samples, disarming the receiver.
    func fetch(_ role: Role, timeout: Duration) async throws -> SampleBlock {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let rate = configuration.symbolRate
        while true {
            let outcome: (samples: [Float]?, clipped: Int, armed: Int, recorded: Int, perShot: Int) = locked {
                let r = state.receivers[role]!
                let perShot = role == .clientReceiver ? (state.processor.layout?.rows ?? 0) : (state.modulator.frame?.count ?? 0)
                guard r.armedShots > 0, r.recordedShots == r.armedShots else { return (nil, 0, r.armedShots, r.recordedShots, perShot) }
                let samples = state.receivers[role]!.record
                state.receivers[role]!.record = []
                state.receivers[role]!.recordClipped = 0
                state.receivers[role]!.armedShots = 0
                state.receivers[role]!.recordedShots = 0
                // A second reference, no copy: the next burst writes into it once the caller is done.
                if role == .serverReceiver { spareRecords.give(samples) }
                return (samples, r.recordClipped, r.armedShots, r.recordedShots, perShot)
            }
            if let samples = outcome.samples {
                let sampleRate: Frequency
                if role == .clientReceiver, let layout = read({ $0.processor.layout }) {
                    sampleRate = .hertz(rate.si / Double(layout.slotsPerRow))
                } else {
                    sampleRate = rate
                }
                return SampleBlock(volts: samples, sampleRate: sampleRate, clippedSamples: outcome.clipped)
            }
            guard outcome.armed > 0 else {
                throw DeviceError(.notReady, device: role.rawValue, message: "fetch without arm: nothing to wait for",
                                  remedy: "call arm(shots:) before the trigger fires, then fetch")
            }
            let now = ContinuousClock.now
            guard now < deadline else {
                throw DeviceError(.timeout, device: role.rawValue,
                                  message: "\(outcome.recorded) of \(outcome.armed) armed shots recorded within \(timeout)",
                                  remedy: "fire the trigger after arming (fire(shots:) with at least \(outcome.armed - outcome.recorded) more shots) or check the trigger line")
            }
            try await Task.sleep(for: min(.milliseconds(1), deadline - now))
        }
    }

    /// Uploads drive frames: checks them and precomputes (or reuses) what the physics needs.
    func loadDrive(i: Waveform, q: Waveform) throws {
        let role = Role.serverModulator.rawValue
        guard i.volts.count == q.volts.count, !i.volts.isEmpty else {
            throw DeviceError(.invalidRequest, device: role, message: "I and Q waveforms have \(i.volts.count) and \(q.volts.count) samples",
                              remedy: "upload two non-empty waveforms of equal length (one sample per optical mode slot)")
        }
        let rate = configuration.symbolRate.si
        for w in [i, q] where abs(w.sampleRate.si - rate) > 1e-9 * rate {
            throw DeviceError(.invalidRequest, device: role, message: "waveform sample rate \(w.sampleRate) differs from the bench's symbol rate \(configuration.symbolRate)",
                              remedy: "play one sample per optical mode: sampleRate = \(configuration.symbolRate)")
        }
        for w in [i, q] where !w.volts.allSatisfy({ $0.isFinite && abs($0) <= Float(SimDriver.maximumDrive) }) {
            throw DeviceError(.invalidRequest, device: role, message: "a drive sample is not finite or beyond ±\(SimDriver.maximumDrive) V",
                              remedy: "keep drives within the AWG's ±\(SimDriver.maximumDrive) V")
        }
        let cached = locked { frameCache.frame(i: i.volts, q: q.volts) }
        let frame = cached ?? DriveFrame(i: i.volts, q: q.volts, vPiI: truth.modulator.i.vPi.si, vPiQ: truth.modulator.q.vPi.si, threads: workerThreads)
        locked {
            if cached == nil { frameCache.insert(frame) }
            state.modulator.frame = frame
        }
    }
}
