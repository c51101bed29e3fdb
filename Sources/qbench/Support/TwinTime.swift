import BenchKit
import BenchSim
import Foundation
import Sequencer

/// A twin in a station's home keeps its simulated time between commands, as hardware keeps its
/// drifts between the processes that drive it.
///
/// The twin's drifts (modulator bias phases, LO and link phases) are functions of its simulated
/// clock. A twin that started again at time zero in every process would meet the calibration
/// records an earlier process stored with phases as they were before that calibration: stale by
/// the drifts' walk over it (measured: a second `qbench run` of 2,000 images in one home had ε̂
/// 0.0026351 SNU against 0.0025510 for the first, which calibrated in its own process). So each
/// command that opens a simulated bench of the station's continues the twin's clock, shot and
/// capture counters from `$QBENCH_HOME/twin/BENCH-seed-SEED-SITE.json`, and saves them when the
/// command ends, however it ends short of a kill. The twin's time runs only while a command
/// drives it: between commands it stands still, like a bench nobody uses.
///
/// Benchmarks (`qbench bench`) open fresh twins with scratch stores and never read or write this.
enum TwinTime {
    /// Why a saved twin time is refused: what is wrong and what to do.
    struct DamagedFile: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String {
            "the twin's saved time \(path) is damaged (\(reason)): delete it to start the twin at time zero, then calibrate it again (`qbench calibrate all`), since its records were made at a time the twin no longer knows"
        }
    }

    /// What the file holds: which twin, and the engine's checkpoint (clock in simulated seconds,
    /// shot and capture counters, the reference meter's noise stream).
    struct Saved: Codable, Equatable {
        var bench: String
        var seed: UInt64
        var site: String
        var savedAt: Date
        var twin: SimulationEngine.Checkpoint
    }

    static var directory: URL { QBenchHome.directory.appendingPathComponent("twin") }

    /// The file of the twin behind `engine`: one per bench name, simulation seed and site, so an
    /// experiment's reseeded twins and the two sites of a split twin never share a clock.
    static func url(of engine: SimulationEngine) -> URL {
        let name = String(engine.benchName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        return directory.appendingPathComponent("\(name)-seed-\(engine.configuration.seed)-\(engine.site.rawValue).json")
    }

    private static let lock = NSLock()
    /// The twins this process continues, with whether each found a saved time. Under `lock`.
    nonisolated(unsafe) private static var open: [(engine: SimulationEngine, url: URL, found: Bool)] = []

    /// Continues `bench`'s twin from its saved time, if it has one, and keeps it to be saved when
    /// the command ends (`saveAll`). Returns whether a saved time was found: a twin without one
    /// may not use calibration records an earlier process made (`BenchOpening.calibrateTwinIfNeeded`).
    /// A bench with no simulated device is left alone.
    @discardableResult
    static func resume(_ bench: Bench) async throws -> Bool {
        guard let engine = try? await SimulatedBench.engine(of: bench) else { return false }
        let url = url(of: engine)
        let found = try load(url).map { saved in
            guard saved.bench == engine.benchName, saved.seed == engine.configuration.seed, saved.site == engine.site.rawValue else {
                throw DamagedFile(path: url.path, reason: "it holds the twin of bench '\(saved.bench)', seed \(saved.seed), site \(saved.site)")
            }
            do { try engine.restore(saved.twin) } catch { throw DamagedFile(path: url.path, reason: "\(error)") }
            return true
        } ?? false
        lock.withLock { open.append((engine, url, found)) }
        return found
    }

    /// Whether calibration records stored before this process may describe `bench`: always for real
    /// instruments; for the twin only when it continues the time they were made at. The one rule
    /// for `qbench run`, the stations' sites (`BenchOpening.calibrateTwinIfNeeded`) and experiments.
    static func storedRecordsMayDescribe(_ bench: Bench) async -> Bool {
        BenchOpening.isSimulated(bench) ? await continues(bench) : true
    }

    /// Whether `bench`'s twin continues a time saved by an earlier command. False for a twin that
    /// started at time zero here, and for a bench `resume` never saw.
    static func continues(_ bench: Bench) async -> Bool {
        guard let engine = try? await SimulatedBench.engine(of: bench) else { return false }
        return lock.withLock { open.contains { $0.engine === engine && $0.found } }
    }

    /// Saves `bench`'s twin now (after its calibration: a command killed later still leaves the
    /// time its records were made at).
    static func save(_ bench: Bench) async {
        guard let engine = try? await SimulatedBench.engine(of: bench) else { return }
        for entry in lock.withLock({ open.filter { $0.engine === engine } }) { save(entry.engine, reportingTo: entry.url) }
    }

    /// The saved time at `url`, nil when there is none.
    static func load(_ url: URL) throws -> Saved? {
        let data: Data
        do { data = try Data(contentsOf: url) } catch CocoaError.fileReadNoSuchFile { return nil } catch {
            throw DamagedFile(path: url.path, reason: "unreadable: \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(Saved.self, from: data) } catch {
            throw DamagedFile(path: url.path, reason: "not a saved twin time: \(error)")
        }
    }

    /// Writes the twin's time now (atomically: a reader sees the old file or the new one).
    static func save(_ engine: SimulationEngine, to url: URL) throws {
        let saved = Saved(bench: engine.benchName, seed: engine.configuration.seed, site: engine.site.rawValue, savedAt: Date(), twin: engine.checkpoint())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(saved).write(to: url, options: .atomic)
    }

    /// Saves every twin this process continued (after calibration, and when the command ends).
    /// A twin that cannot be saved is reported, not fatal: its older file is removed, so the next
    /// command starts it at time zero and recalibrates it instead of continuing from a time it
    /// has passed.
    static func saveAll() {
        for entry in lock.withLock({ open }) { save(entry.engine, reportingTo: entry.url) }
    }

    private static func save(_ engine: SimulationEngine, reportingTo url: URL) {
        do { try save(engine, to: url) } catch {
            try? FileManager.default.removeItem(at: url)
            FileHandle.standardError.write(Data("qbench: the twin's time was not saved to \(url.path) (\(error.localizedDescription)); the next command starts the twin at time zero and recalibrates it\n".utf8))
        }
    }
}
