import Foundation

/// Why an experiment stopped or cannot start; each case says what to do next.
public enum ExperimentError: Error, CustomStringConvertible {
    /// The journal cannot be read back.
    case journal(path: String, line: Int, problem: String)
    /// No experiment with this id in the experiments folder.
    case unknown(id: String, folder: String)
    /// `--resume ID` with a plan whose text differs from the one the experiment started with.
    case planChanged(id: String, file: String)
    /// The experiment is finished already.
    case finished(id: String)
    /// A point's session ended early (a device fault, a stop, a calibration refused).
    case pointFailed(id: String, point: Int, label: String, runId: String?, underlying: String)
    /// A calibration before a point failed.
    case calibration(id: String, point: Int, kinds: String, underlying: String)
    /// The drift check found values moved beyond tolerance and the plan says stop.
    case drift(id: String, point: Int, summary: String)
    /// The plan asks for something only the twin can do (a seed, a cheating client) on a real bench.
    case twinOnly(what: String, bench: String)
    /// The bench file names no `simulation: seed:` to replace.
    case noSeed(bench: String)

    public var description: String {
        switch self {
        case let .journal(path, line, problem):
            "the experiment journal \(path):\(line) \(problem); it is left untouched: move the experiment's folder aside and start the experiment again"
        case let .unknown(id, folder):
            "no experiment '\(id)' in \(folder): `qbench experiment list` shows the experiments there (set QBENCH_HOME if they live elsewhere)"
        case let .planChanged(id, file):
            "\(file) differs from the plan experiment \(id) started with (kept in its folder as plan.yaml): restore the file, or start a new experiment with `qbench experiment run \(file) --new`"
        case let .finished(id):
            "experiment \(id) is finished: its table and report are in its folder (`qbench experiment show \(id)`); start a new one with --new"
        case let .pointFailed(id, point, label, runId, underlying):
            "experiment \(id) stopped at point \(point) (\(label))\(runId.map { ", session \($0)" } ?? ""): \(underlying). The bench is in its safe state; after fixing the cause continue with `qbench experiment run --resume \(id)` (finished points are kept)"
        case let .calibration(id, point, kinds, underlying):
            "experiment \(id): calibrating \(kinds) before point \(point) failed: \(underlying). The bench is in its safe state; continue with `qbench experiment run --resume \(id)`"
        case let .drift(id, point, summary):
            "experiment \(id) stopped after point \(point): the drift check failed (\(summary)) and the plan says stop: inspect `qbench calibration diff`, recalibrate, then continue with `qbench experiment run --resume \(id)`"
        case let .twinOnly(what, bench):
            "\(what) is a setting of the simulated bench; bench '\(bench)' is real: remove it from the plan (a real client cannot be told to cheat, a real bench has no seed)"
        case let .noSeed(bench):
            "the plan sets a twin seed but the bench file \(bench) has no 'simulation: seed:' line to replace: add one (docs/bench-files.md) or remove 'seed' from the plan"
        }
    }
}
