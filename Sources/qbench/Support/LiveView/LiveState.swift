import BenchKit
import Foundation
import Sequencer

/// What a station's live page shows (`--live [HOST:]PORT`, docs/live-view.md): the run, the
/// server's check block by block (T̂, ε̂ and I_w with their bounds against modes measured, the
/// decision), progress, every device's state (read when the run starts, then again after every
/// block while the instruments are idle), and the journal's tail. Numbers
/// are formatted here, once, so the page shows exactly what `qbench report` and the run database
/// hold (%.6g). Updated by `LiveObserver`; read by `LiveServer`.
final class LiveState: @unchecked Sendable {
    struct Point: Encodable, Equatable {
        let block: Int
        let images: Int
        let modes: Int
        let transmittance: String
        let excessNoise: String
        let excessNoiseUpper: String
        let weightLeakage: String
        let weightLeakageUpper: String
        let decision: String
        /// The client's accuracy so far (its own page only: the server never sees a prediction).
        let accuracy: String?
    }
    struct Device: Encodable, Equatable {
        let role: String
        let identity: String
        let settings: String
    }
    struct Snapshot: Encodable {
        var station: String
        var version = 0
        var runId = "—"
        var bench = "—"
        var budget = "—"
        var images = 0
        var imagesDone = 0
        var modes = 0
        var modesPerSecond = "—"
        var state = "starting"
        var latest: Point?
        var history: [Point] = []
        var devices: [Device] = []
        /// When the device table was read: "start" or "after block N".
        var devicesRead = "start"
        var journal: [String] = []
    }

    private let lock = NSLock()
    private var snapshot: Snapshot
    private var listeners: [UUID: @Sendable (Data) -> Void] = [:]

    init(station: String, bench: String, budget: Double?) {
        snapshot = Snapshot(station: station)
        snapshot.bench = bench
        snapshot.budget = budget.map { Self.number($0) } ?? "—"
    }

    static func number(_ v: Double) -> String { String(format: "%.6g", v) }

    func update(_ change: (inout Snapshot) -> Void) {
        lock.lock()
        change(&snapshot)
        snapshot.version += 1
        let targets = Array(listeners.values)
        // Encoded only for a page that is listening: progress calls come once per burst.
        let data = targets.isEmpty ? Data() : (try? JSONEncoder().encode(snapshot)) ?? Data()
        lock.unlock()
        for t in targets { t(data) }
    }

    var json: Data {
        lock.lock(); defer { lock.unlock() }
        return (try? JSONEncoder().encode(snapshot)) ?? Data()
    }

    func listen(_ body: @escaping @Sendable (Data) -> Void) -> UUID {
        let id = UUID()
        lock.lock(); listeners[id] = body; lock.unlock()
        return id
    }

    func stopListening(_ id: UUID) {
        lock.lock(); listeners[id] = nil; lock.unlock()
    }

    /// Every device's identity and settings, as the run's bench snapshot records them.
    func setDevices(_ s: Bench.Snapshot, read: String = "start") {
        update {
            $0.devices = s.entries.map { e in
                Device(role: e.role, identity: e.identity.map { "\($0)" } ?? (e.error ?? "—"),
                       settings: e.settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", "))
            }
            $0.devicesRead = read
        }
    }
}

/// Feeds a `LiveState` from the run's observer calls, then hands each call on.
struct LiveObserver: RunObserver {
    let state: LiveState
    let next: any RunObserver
    /// Whose devices the page shows: one station's roles, or every role (`qbench run`).
    var station: Station?

    func started(runId: String, plan: [PlanStep]) {
        state.update { $0.runId = runId; $0.state = "running" }
        next.started(runId: runId, plan: plan)
    }

    func step(_ text: String) {
        let stamp = ISO8601DateFormatter.traceFormatter.string(from: Date())
        state.update { s in
            s.journal.append("\(stamp)  \(text)")
            if s.journal.count > 30 { s.journal.removeFirst(s.journal.count - 30) }
        }
        next.step(text)
    }

    func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?) {
        state.update { s in
            s.imagesDone = imagesDone; s.images = images; s.modes = modes
            s.modesPerSecond = String(format: "%.3g", modesPerSecond)
        }
        next.progress(imagesDone: imagesDone, images: images, modes: modes, modesPerSecond: modesPerSecond, excessNoise: excessNoise)
    }

    func block(_ r: BlockRecord) {
        let p = LiveState.Point(block: r.blockIndex, images: r.imagesDone, modes: r.modes,
                                transmittance: LiveState.number(r.transmittance), excessNoise: LiveState.number(r.excessNoise),
                                excessNoiseUpper: LiveState.number(r.excessNoiseUpperBound),
                                weightLeakage: LiveState.number(r.weightLeakageBitsPerMode),
                                weightLeakageUpper: LiveState.number(r.weightLeakageUpperBound), decision: r.decision,
                                accuracy: r.accuracy.map { String(format: "%.2f %%", 100 * $0) })
        state.update { s in
            s.latest = p
            s.history.append(p)
            s.imagesDone = max(s.imagesDone, r.imagesDone)
            if r.decision == "abort" { s.state = "aborted" }
        }
        next.block(r)
    }

    func afterBlock(_ block: Int, bench: Bench) async {
        state.setDevices(await bench.snapshot(of: station), read: "after block \(block)")
        await next.afterBlock(block, bench: bench)
    }
}
