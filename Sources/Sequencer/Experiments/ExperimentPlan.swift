import BenchKit
import Calibrate
import Foundation

/// An experiment plan (`Experiments/*.yaml`, docs/experiments.md): the bench, the model and data,
/// the operating points (a sweep and/or an explicit list), what to calibrate and when, what to
/// report. Read with the bench files' YAML reader, so every error names `file:line`.
public struct ExperimentPlan: Sendable, Equatable {
    public var name: String
    public var summary: String
    /// The plan file as read (its path) and its text (kept with the experiment: a resumed
    /// experiment runs exactly this).
    public var file: String
    public var text: String
    /// Paths as written, resolved against the plan file's folder; nil: the CLI's defaults.
    public var benchFile: String?
    public var modelFile: String?
    public var dataDirectory: String?
    public var points: [ExperimentPoint]
    public var calibration: CalibrationPolicy
    public var report: ReportOptions

    /// The top-level keys of a plan.
    public static let keys = ["experiment", "description", "bench", "model", "data", "defaults", "sweep", "points", "calibration", "report"]

    public static func load(_ url: URL) throws -> ExperimentPlan {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BenchFileError(file: url.path, line: 0, message: "cannot be read (\(error.localizedDescription)): check the path")
        }
        return try parse(try YAMLTree.text(of: data, file: url.path), file: url.path)
    }

    public static func parse(_ text: String, file: String) throws(BenchFileError) -> ExperimentPlan {
        let root = YAMLReader(file: file, tree: try YAMLTree.parse(text, file: file))
        try root.onlyKeys(keys, in: "an experiment plan")
        let name = try root.required("experiment", "the experiment's name, e.g. 'experiment: paper-map'").string
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), name.first != "." else {
            throw try root.required("experiment", "").fail("the experiment's name '\(name)' must be letters, digits, '-', '_' or '.' (it names a folder)")
        }
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        func path(_ key: String) throws(BenchFileError) -> String? {
            guard let v = try root.optional(key) else { return nil }
            let s = try v.string
            guard !s.isEmpty else { throw v.fail("\(key) is empty: give a path (relative to the plan's folder) or leave the key out") }
            return s.hasPrefix("/") ? s : folder.appendingPathComponent(s).standardizedFileURL.path
        }

        var defaults = ExperimentPoint()
        if let d = try root.optional("defaults") {
            for e in try d.entries { try defaults.set(e.key, e.value) }
        }
        var axes: [(key: String, values: [YAMLReader])] = []
        if let sweep = try root.optional("sweep") {
            for e in try sweep.entries {
                guard ExperimentPoint.keys.contains(e.key) else {
                    throw e.value.fail("unknown sweep axis '\(e.key)'; expected one of: \(ExperimentPoint.keys.joined(separator: ", "))", line: e.keyLine)
                }
                let values: [YAMLReader]
                if case .sequence = e.value.tree { values = try e.value.items } else { values = [e.value] }
                guard !values.isEmpty else { throw e.value.fail("sweep axis '\(e.key)' has no values: give a list such as [1, 2, 4]", line: e.keyLine) }
                axes.append((e.key, values))
            }
        }
        var explicit: [[(key: String, value: YAMLReader)]] = []
        if let list = try root.optional("points") {
            for item in try list.items {
                explicit.append(try item.entries.map { (key: $0.key, value: $0.value) })
            }
        }
        guard !axes.isEmpty || !explicit.isEmpty else {
            throw root.fail("has no operating points: give 'sweep:' (axes such as photons: [1, 2, 4]) or 'points:' (a list of mappings)", line: 1)
        }
        let points = try ExperimentSweep.expand(defaults: defaults, axes: axes, explicit: explicit, file: file)
        let calibration = try CalibrationPolicy.parse(try root.optional("calibration"), file: file)
        if calibration.store == .station, let seeded = points.first(where: { $0.seed != nil }) {
            throw (try root.optional("calibration")?.optional("store") ?? root).fail("calibration store 'station' holds one twin's records, but point '\(seeded.label)' reseeds the twin: use 'store: experiment' (a store per seed)")
        }
        return ExperimentPlan(
            name: name, summary: try root.optional("description")?.string ?? "", file: file, text: text,
            benchFile: try path("bench"), modelFile: try path("model"), dataDirectory: try path("data"), points: points,
            calibration: calibration, report: try ReportOptions.parse(try root.optional("report")))
    }
}

/// What to calibrate, where, and when (`calibration:`).
public struct CalibrationPolicy: Sendable, Equatable {
    public enum Store: String, Sendable, CaseIterable {
        /// The experiment's own store, one per twin seed, inside the experiment's folder.
        case experiment
        /// The station's store, `$QBENCH_HOME/calibration` (what `qbench run` uses).
        case station
    }
    public enum Initial: String, Sendable, CaseIterable {
        /// Every kind, before the first point on a bench, only when the store has no valid records.
        case whenMissing = "when-missing"
        /// Every kind before the first point on each bench, whatever the store holds.
        case always
    }
    public enum OperatingPoint: String, Sendable, CaseIterable {
        /// back-to-back (and link) at the point's μ, link at its G, when they differ from the active records.
        case recalibrate
        /// Leave the store alone: a point off the active calibration fails in preflight.
        case refuse
    }
    /// Re-measures `kinds` after every point and compares each value with the record it replaces.
    public struct DriftCheck: Sendable, Equatable {
        public var kinds: [CalibrationKind]
        /// A value that moved more than this many combined standard uncertainties fails the check.
        public var toleranceSigmas: Double
        /// Kinds recalibrated when the check fails; empty: stop the experiment.
        public var onFailure: [CalibrationKind]
        /// The smallest change that matters, per unit of the records' values (e.g. "V": 0.005): a
        /// value that moved less fails no check however many σ that is (a precise calibration
        /// resolves drifts far too small to matter). Units without an entry: σ alone decides.
        public var minimumChange: [String: Double] = [:]
    }

    public var store: Store = .experiment
    public var initial: Initial = .whenMissing
    public var operatingPoint: OperatingPoint = .recalibrate
    public var beforeEachPoint: [CalibrationKind] = []
    /// Shots of the back-to-back and link measurements (nil: the routines' default, 256).
    public var referenceShots: Int?
    public var driftCheck: DriftCheck?

    public init() {}

    static let keys = ["store", "initial", "operating-point", "before-each-point", "reference-shots", "drift-check"]

    static func parse(_ r: YAMLReader?, file: String) throws(BenchFileError) -> CalibrationPolicy {
        var p = CalibrationPolicy()
        guard let r else { return p }
        try r.onlyKeys(keys, in: "calibration")
        func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(BenchFileError) -> E? where E.RawValue == String {
            guard let v = try r.optional(key) else { return nil }
            guard let e = E(rawValue: try v.string) else {
                throw v.fail("\(key) '\(try v.string)'; expected one of: \(E.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return e
        }
        if let s = try choice("store", Store.self) { p.store = s }
        if let s = try choice("initial", Initial.self) { p.initial = s }
        if let s = try choice("operating-point", OperatingPoint.self) { p.operatingPoint = s }
        if let v = try r.optional("before-each-point") { p.beforeEachPoint = try kinds(v) }
        if let v = try r.optional("reference-shots") {
            let n = try v.int()
            guard (8...65_536).contains(n) else { throw v.fail("reference-shots \(n): give 8 … 65536 (the routines' default is 256)") }
            p.referenceShots = n
        }
        if let d = try r.optional("drift-check") {
            try d.onlyKeys(["kinds", "tolerance", "on-failure", "minimum-change"], in: "drift-check")
            let k = try kinds(try d.required("kinds", "the calibrations to re-measure after each point, e.g. [modulator, back-to-back]"))
            guard !k.isEmpty else { throw d.fail("drift-check has no kinds: name what to re-measure, e.g. [back-to-back]") }
            var tolerance = 3.0
            if let t = try d.optional("tolerance") {
                tolerance = try t.double()
                guard tolerance > 0 else { throw t.fail("tolerance \(tolerance): give a positive number of standard uncertainties, e.g. 3") }
            }
            var onFailure: [CalibrationKind] = []
            if let f = try d.optional("on-failure") {
                if case .scalar("stop", _) = f.tree { onFailure = [] } else { onFailure = try kinds(f) }
            }
            var minimum: [String: Double] = [:]
            if let m = try d.optional("minimum-change") {
                for e in try m.entries {
                    let v = try e.value.double()
                    guard v > 0 else { throw e.value.fail("minimum-change for '\(e.key)' is \(v): give a positive amount in that unit, e.g. 'V: 0.005'") }
                    minimum[e.key] = v
                }
            }
            p.driftCheck = DriftCheck(kinds: k, toleranceSigmas: tolerance, onFailure: onFailure, minimumChange: minimum)
        }
        return p
    }

    /// A list of calibration kinds, or `all`; in the routines' dependency order.
    static func kinds(_ r: YAMLReader) throws(BenchFileError) -> [CalibrationKind] {
        if case let .scalar(s, _) = r.tree {
            if s == "all" { return CalibrationKind.allCases }
            if s == "none" { return [] }
        }
        var out: [CalibrationKind] = []
        for item in try r.items {
            guard let k = CalibrationKind(rawValue: try item.string) else {
                throw item.fail("unknown calibration '\(try item.string)'; expected: \(CalibrationKind.allCases.map(\.rawValue).joined(separator: ", ")) (or 'all')")
            }
            if !out.contains(k) { out.append(k) }
        }
        return out.sorted()
    }
}

/// What the report shows (`report:`).
public struct ReportOptions: Sendable, Equatable {
    public enum Plot: String, Sendable, CaseIterable {
        /// Accuracy against the certified (upper-bound) weight leakage, one series per gain or attack.
        case accuracyLeakage = "accuracy-leakage"
        /// For each client behaviour, the fraction of its sessions aborted by k images served.
        case abortImages = "abort-images"
    }
    public var title: String?
    public var plots: [Plot] = Plot.allCases

    public init() {}

    static func parse(_ r: YAMLReader?) throws(BenchFileError) -> ReportOptions {
        var o = ReportOptions()
        guard let r else { return o }
        try r.onlyKeys(["title", "plots"], in: "report")
        o.title = try r.optional("title")?.string
        if let p = try r.optional("plots") {
            o.plots = []
            for item in try p.items {
                guard let plot = Plot(rawValue: try item.string) else {
                    throw item.fail("unknown plot '\(try item.string)'; expected one of: \(Plot.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                o.plots.append(plot)
            }
        }
        return o
    }
}
