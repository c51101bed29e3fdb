import BenchKit
import Foundation
import NumericsKit

extension SimulationEngine {
    /// The client's twin: what the light of a burst does at the client, its receiver's readings
    /// delivered, and the light that goes back for the shots the server measures.
    func receive(_ light: ArrivingLight) throws -> ReturnedLight? {
        guard let re = light.re, let im = light.im else {
            deliverDark(light)
            return nil
        }
        guard let plan = try locked({ try planClientShots(light) }) else { return nil }
        let computation = ClientShotComputation(plan, light: light, re: re, im: im, bulk: bulk, pool: scratch)
        defer { computation.recycle() }
        let count = plan.clientShots * plan.layout.rows
        var returned = ReturnedLight.none(plan.layout)
        let readings = [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            returned = computation.run(client: count > 0 ? SharedBuffer(base: buffer.baseAddress!, count: count) : nil)
            initialised = count
        }
        let clipped = plan.client.digitiser.clippedCount(readings)
        locked { deliver(.clientReceiver, shots: plan.clientShots, generation: plan.clientGeneration, data: readings, clipped: clipped) }
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
        let clipped = plan.rx.digitiser.clippedCount(readings)
        locked { deliver(.clientReceiver, shots: plan.shots, generation: plan.generation, data: readings, clipped: clipped) }
    }
}
