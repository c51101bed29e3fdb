import BenchKit
import Foundation
import NumericsKit

/// Which part of the testbed one twin simulates.
///
/// A bench file whose `link` is `sim://…` is a one-table bench: one engine holds both stations'
/// devices and hands each burst to its own client side in memory. A bench file whose `link` is
/// `sim-fiber://HOST:PORT` is one site of a split bench: the server's site (it binds the server's
/// roles) listens there and sends each burst's light down the fibre; the client's site connects and
/// answers with the light its optics send back (`TCPFiber`). Each site's twin holds only its own
/// devices' settings; the fibre carries amplitudes, never ξ, weights or the basis as such.
public enum TwinSite: String, Sendable {
    case table, server, client

    static func of(_ bench: BenchDescription) -> (TwinSite, host: String, port: Int)? {
        guard case let .simulatedFiber(host, port)? = bench.bindings[.link]?.address else { return nil }
        let server = bench.roles.contains { $0.station == .server }
        return (server ? .server : .client, host, port)
    }
}

/// The one-table bench's fibre: the client side is the same engine.
final class LocalFiber: FiberEnd, @unchecked Sendable {
    unowned let engine: SimulationEngine
    init(_ engine: SimulationEngine) { self.engine = engine }
    var peerDescription: String { "the client's optics on this table" }
    func exchange(_ light: ArrivingLight, timeout: Duration) throws -> ReturnedLight? {
        try engine.receive(light)
    }
}

extension SimulationEngine {
    /// The client's twin: what the light of a burst does at the client, its receiver's readings
    /// delivered, and the light that goes back for the shots the server measures.
    func receive(_ light: ArrivingLight) throws -> ReturnedLight? {
        if light.dark {
            deliverDark(light)
            return nil
        }
        guard let plan = try locked({ try planClientShots(light) }) else { return nil }
        let computation = ClientShotComputation(plan, light: light, bulk: bulk, pool: scratch)
        defer { computation.recycle() }
        let count = plan.clientShots * plan.layout.rows
        var returned = ReturnedLight.none(plan.layout)
        let readings = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            returned = computation.run(client: count > 0 ? SharedBuffer(base: buffer.baseAddress!, count: count) : nil)
            initialised = count
        }
        locked { deliver(.clientReceiver, shots: plan.clientShots, generation: plan.clientGeneration, data: readings) }
        return plan.returnShots > 0 ? returned : nil
    }

    /// No light reaches the client (the switch routes back-to-back): its armed receiver digitises
    /// vacuum (or nothing without LO) for the shots it records.
    private func deliverDark(_ light: ArrivingLight) {
        let plan: (rows: Int, shots: Int, generation: Int, rx: ReceiverPhysics)? = locked {
            if light.time > clock { clock = light.time }
            guard let layout = state.processor.layout else { return nil }
            let shots = max(0, min(light.shots, state.receivers[.clientReceiver]!.remaining))
            guard shots > 0 else { return nil }
            state.receivers[.clientReceiver]!.pendingShots += shots
            let phases = drift.phases(at: light.time, truth: truth, faults: faultBook.faults)
            return (layout.rows, shots, state.receivers[.clientReceiver]!.generation, receiverPhysics(.clientReceiver, phases))
        }
        guard let plan else { return }
        let sampler = Gaussian.Sampler()
        var readings = [Float](repeating: 0, count: plan.shots * plan.rows)
        for k in 0..<plan.shots {
            var rowRng = Xoshiro256(seed: seeds.row, stream: ShotComputation.stream(light.firstShot + UInt64(k), 0))
            for r in 0..<plan.rows {
                let v = plan.rx.vacuumSigma * sampler.next(&rowRng)
                readings[k * plan.rows + r] = plan.rx.digitiser.quantise(plan.rx.digitiser.offset + Float(v))
            }
        }
        locked { deliver(.clientReceiver, shots: plan.shots, generation: plan.generation, data: readings) }
    }
}
