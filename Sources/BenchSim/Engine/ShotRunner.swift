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
        var pending = false
        defer { if !pending { computation.recycle() } }
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
        // The server receiver's samples are computed when they are fetched: whole, or tile by tile
        // into the server's sums (`fetch(_:timeout:shots:slotsPerShot:into:)`). They depend only on
        // what this burst fixed (its plan, the returned light), never on when they are computed.
        pending = locked { deliver(PendingBurst(computation: computation, returned: returned), generation: plan.serverGeneration) }
    }

    /// Adds a fired burst to the server receiver's record, computed when fetched. False if the
    /// receiver was armed again since the burst was planned (its samples are dropped).
    private func deliver(_ burst: PendingBurst, generation: Int) -> Bool {
        let role = Role.serverReceiver
        guard state.receivers[role]!.generation == generation else { return false }
        state.receivers[role]!.pendingShots -= burst.shots
        state.receivers[role]!.bursts.append(burst)
        state.receivers[role]!.recordedShots += burst.shots
        return true
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
            $0.receivers[role]!.bursts = []
            $0.receivers[role]!.recordClipped = 0
            $0.receivers[role]!.generation += 1
        }
    }

    /// Waits (in real time, up to `timeout`) until every armed shot is recorded and returns the
    /// samples, disarming the receiver.
    func fetch(_ role: Role, timeout: Duration) async throws -> SampleBlock {
        materialise(try await waitForRecord(role, timeout: timeout))
    }

    /// `fetch`, handing the record of `shots` shots of `slotsPerShot` slots to `sink` instead: the
    /// server receiver's one burst tile by tile as it is computed (the record is never kept),
    /// anything else whole as one tile. A record of another size is refused before the sink sees it.
    func fetch(_ role: Role, timeout: Duration, shots: Int, slotsPerShot: Int, into sink: any SampleSink) async throws -> StreamedRecord {
        let taken = try await waitForRecord(role, timeout: timeout)
        if taken.record.isEmpty, taken.bursts.count == 1, let burst = taken.bursts.first, burst.shots == shots,
           burst.computation.p.slots == slotsPerShot, sink.tileSlots == ShotComputation.slotsPerTile {
            let clipped = burst.computation.stream(returned: burst.returned, into: sink)
            burst.computation.recycle()
            return StreamedRecord(shots: shots, slotsPerShot: slotsPerShot, clippedSamples: clipped)
        }
        return try StreamedRecord.handOver(materialise(taken), shots: shots, slotsPerShot: slotsPerShot, to: sink)
    }

    /// A fetched record: what was delivered, then the bursts still to compute.
    struct TakenRecord {
        let record: [Float]
        let clipped: Int
        let bursts: [PendingBurst]
        let sampleRate: Frequency
    }

    /// Waits (in real time, up to `timeout`) until every armed shot is recorded, then takes the
    /// record and disarms the receiver.
    private func waitForRecord(_ role: Role, timeout: Duration) async throws -> TakenRecord {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let rate = configuration.symbolRate
        while true {
            let outcome: (taken: TakenRecord?, armed: Int, recorded: Int) = locked {
                let r = state.receivers[role]!
                guard r.armedShots > 0, r.recordedShots == r.armedShots else { return (nil, r.armedShots, r.recordedShots) }
                state.receivers[role]!.record = []
                state.receivers[role]!.bursts = []
                state.receivers[role]!.recordClipped = 0
                state.receivers[role]!.armedShots = 0
                state.receivers[role]!.recordedShots = 0
                let sampleRate: Frequency
                if role == .clientReceiver, let layout = state.processor.layout {
                    sampleRate = .hertz(rate.si / Double(layout.slotsPerRow))
                } else {
                    sampleRate = rate
                }
                return (TakenRecord(record: r.record, clipped: r.recordClipped, bursts: r.bursts, sampleRate: sampleRate), r.armedShots, r.recordedShots)
            }
            if let taken = outcome.taken { return taken }
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

    /// The whole record: what was delivered, then each burst's samples computed in order, written
    /// into a recent record resized within its capacity (`SpareRecords`: in place once the station
    /// has let go of it, so a burst costs no fresh pages of memory), kept again for later bursts.
    private func materialise(_ taken: TakenRecord) -> SampleBlock {
        guard !taken.bursts.isEmpty else { return SampleBlock(volts: taken.record, sampleRate: taken.sampleRate, clippedSamples: taken.clipped) }
        let count = taken.record.count + taken.bursts.reduce(0) { $0 + $1.shots * $1.computation.p.slots }
        var samples = locked { spareRecords.record(count: count) }
        var clipped = taken.clipped
        samples.withUnsafeMutableBufferPointer { out in
            taken.record.withUnsafeBufferPointer { r in
                if let base = r.baseAddress { out.baseAddress!.update(from: base, count: r.count) }
            }
            var at = taken.record.count
            for burst in taken.bursts {
                let n = burst.shots * burst.computation.p.slots
                clipped += burst.computation.run(server: SharedBuffer(base: out.baseAddress! + at, count: n), returned: burst.returned)
                burst.computation.recycle()
                at += n
            }
        }
        // A second reference, no copy: a later burst writes into it once the caller is done.
        locked { spareRecords.give(samples) }
        return SampleBlock(volts: samples, sampleRate: taken.sampleRate, clippedSamples: clipped)
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
        // Within ±maximumDrive (a NaN range, from a sample that is not a number, is not).
        for w in [i, q] {
            let r = w.range
            guard !(r.minimum.volts >= -SimDriver.maximumDrive && r.maximum.volts <= SimDriver.maximumDrive) else { continue }
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

/// A burst fired at the server receiver, its samples computed when they are fetched: whole into a
/// record, or tile by tile into the server's sums.
final class PendingBurst: @unchecked Sendable {
    let computation: ShotComputation
    let returned: ReturnedLight?
    var shots: Int { computation.p.serverShots }
    init(computation: ShotComputation, returned: ReturnedLight?) { self.computation = computation; self.returned = returned }
}
