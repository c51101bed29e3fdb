import BenchKit
import BenchSim
import Calibrate
import Foundation
import Sequencer

/// Opens bench files for the CLI with every driver this build knows.
enum BenchOpening {
    static func registry() throws -> DriverRegistry {
        var r = DriverRegistry([SimDriver()])
        for f in try realDrivers() { r.register(f) }
        return r
    }

    static func url(_ path: String?) throws -> URL {
        try path.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.inRepository("Devices/benches/sim.yaml")
    }

    static func open(_ path: String?, continuingTwin: Bool = true) async throws -> Bench {
        try await open(try BenchDescription.load(try url(path)), station: nil, continuingTwin: continuingTwin)
    }

    /// Every command opens its bench here: a bench with real instruments gets its safety guard
    /// first (`SafetyGuard`: the safe-state sequence runs even if this process is killed), then
    /// its devices.
    /// A bench file that will be refused (unknown driver, a limit beyond the hardware, real and
    /// simulated mixed) is refused before the guard starts: no instrument was touched.
    /// A simulated bench continues its twin's time in the station's home (`TwinTime`) unless
    /// `continuingTwin` is false (benchmarks: a fresh twin, a scratch store).
    static func open(_ description: BenchDescription, station: Station?, continuingTwin: Bool = true) async throws -> Bench {
        let registry = try registry()
        try registry.validate(description)
        try SafetyGuard.arm(for: description, station: station)
        let bench = try await Bench.open(description, registry: registry, patchPanel: TerminalPatchPanel())
        if continuingTwin, isSimulated(bench) { try await TwinTime.resume(bench) }
        return bench
    }

    /// The station's calibration store: `$QBENCH_HOME/calibration` unless `--store` names another
    /// folder; records are sealed with the station key `$QBENCH_HOME/keys/station.key` (created on
    /// first use).
    static func store(_ path: String?) throws -> CalibrationStore {
        CalibrationStore(root: path.map { URL(fileURLWithPath: $0) } ?? defaultStoreURL, key: try stationKey())
    }

    static var defaultStoreURL: URL { QBenchHome.directory.appendingPathComponent("calibration") }

    static func stationKey() throws -> StationKey {
        try StationKey.loadOrCreate(at: StationKey.defaultURL(home: QBenchHome.directory))
    }

    /// Calibrates a simulated bench (`qbench calibrate all`: the kinds it can measure alone) unless
    /// the store already holds active records for everything it needs of its own: a twin can be
    /// calibrated without anyone at it. One table needs both stations' records; the server's site
    /// of two its own five; the client's site its receiver's (its link record comes from the joint
    /// calibration with the server, `--calibrate-link`).
    /// Records are used only by a twin that continues the time they were made at (`TwinTime`): a
    /// twin starting at time zero in this home recalibrates, since its drifts would have left them.
    static func calibrateTwinIfNeeded(_ bench: Bench, store: CalibrationStore, photons: Double, gain: Double, log: Bool) async throws {
        guard isSimulated(bench) else { return }
        var needed: [(Role, CalibrationKind)] = []
        if bench.has(.serverLaser) { needed += ServerCalibration.required }
        if bench.has(.clientReceiver) { needed += bench.has(.serverLaser) ? ClientCalibration.required : [(.clientReceiver, .homodyne)] }
        let why: String
        if await TwinTime.storedRecordsMayDescribe(bench) {
            do {
                for (role, kind) in needed {
                    _ = try store.active(bench: bench.description.name, role: role.rawValue, kind: kind, device: try await bench.device(role).identify())
                }
                return
            } catch let error as CalibrationError {
                switch error {
                case .missing, .expired: break
                default: throw error
                }
            }
            why = "no active records in \(store.root.path)"
        } else {
            why = "its time starts at zero in this home (no \(TwinTime.directory.path)), so no stored record describes it"
        }
        if log { FileHandle.standardError.write(Data("calibrating the twin '\(bench.description.name)' first (\(why); as `qbench calibrate all`)\n".utf8)) }
        var settings = CalibrationSettings()
        settings.photonsPerMode = photons
        settings.gain = gain
        let ctx = CalibrationContext(bench: bench, store: store, settings: settings, codeVersion: QBenchVersion.withCommit, log: { _ in })
        _ = try await CalibrationRunner.all(ctx)
        await TwinTime.save(bench)
    }

    /// True when every role of the bench is bound to the twin: such a bench can be calibrated
    /// without anyone at it, and may be calibrated on first use.
    static func isSimulated(_ bench: Bench) -> Bool {
        bench.description.bindings.values.allSatisfy { $0.driver == "sim" }
    }
}

/// On a real bench the reference meter is moved by hand: say where, wait for Enter.
struct TerminalPatchPanel: PatchPanel {
    func connect(_ meter: Role, to point: ProbePoint) async throws {
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIError("calibration needs the reference meter (\(meter.rawValue)) at \(point.rawValue), and nobody is at the terminal to move it: run the calibration interactively")
        }
        FileHandle.standardError.write(Data("→ connect the reference power meter (\(meter.rawValue)) to the \(point.rawValue) port, then press Enter: ".utf8))
        _ = readLine()
    }
}
