import ArgumentParser
import Calibrate
import Foundation

/// `qbench calibration list | show ID | diff ID1 ID2 | activate ID`: the calibration store.
struct CalibrationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibration",
        abstract: "Browse the calibration store: list, show, diff and activate records.",
        subcommands: [List.self, Show.self, Diff.self, Activate.self])

    struct StoreOptions: ParsableArguments {
        @Option(help: "Calibration folder (default: the station's, $QBENCH_HOME/calibration).") var store: String?
        var url: URL { store.map { URL(fileURLWithPath: $0) } ?? BenchOpening.defaultStoreURL }
        func open() throws -> CalibrationStore { try BenchOpening.store(store) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every record, newest first; * marks the active ones.")
        @OptionGroup var options: StoreOptions
        @Option(help: "Only this bench.") var bench: String?
        @Flag(help: "One JSON object on stdout.") var json = false

        struct Row: Encodable { let id: String; let bench: String; let role: String; let kind: String; let createdAt: Date; let validUntil: Date; let active: Bool; let device: String }
        struct Output: Encodable { let records: [Row] }

        func run() throws {
            let store = try options.open()
            let records = try store.list(bench: bench)
            var activeIDs = Set<String>()
            for b in Set(records.map(\.bench)) { activeIDs.formUnion(try store.loadIndex(b).active.values) }
            let rows = records.map { Row(id: $0.id, bench: $0.bench, role: $0.role, kind: $0.kind.rawValue, createdAt: $0.createdAt,
                                         validUntil: $0.validUntil, active: activeIDs.contains($0.id), device: "\($0.device)") }
            if json { try printJSON(Output(records: rows)); return }
            if rows.isEmpty { printLine("no calibration records in \(options.url.path): run `qbench calibrate all`"); return }
            let df = ISO8601DateFormatter()
            for r in rows {
                let expired = r.validUntil < Date() ? "  (expired)" : ""
                printLine("\(r.active ? "*" : " ") \(r.id)  \(r.kind)  valid until \(df.string(from: r.validUntil))\(expired)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One record: values with uncertainties, device, method, provenance.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "Record id, e.g. sim/server.modulator/20261124T213000Z-modulator") var id: String
        @Flag(help: "One JSON object on stdout.") var json = false

        func run() throws {
            let r = try options.open().load(id)
            if json { try printJSON(r); return }
            let df = ISO8601DateFormatter()
            printLine("""
                \(r.id)
                  kind        \(r.kind.rawValue) of \(r.role) on bench \(r.bench)
                  device      \(r.device)
                  measured    \(df.string(from: r.createdAt)), valid until \(df.string(from: r.validUntil))
                  method      \(r.method)
                  effort      \(r.measurements) measurements, \(String(format: "%.3g", r.benchSeconds)) s of bench time
                  code        \(r.codeVersion)
                  raw data    \(r.rawData)\(r.plot.map { "\n  plot        " + $0 } ?? "")
                  inputs      \(r.inputs.isEmpty ? "none" : r.inputs.joined(separator: ", "))
                """)
            for (name, v) in r.values.sorted(by: { $0.key < $1.key }) {
                printLine(String(format: "  %-28@ %.8g ± %.3g %@", name as NSString, v.value, v.uncertainty, v.unit as NSString))
            }
            for (name, v) in r.fit.sorted(by: { $0.key < $1.key }) { printLine(String(format: "  fit %-24@ %.6g", name as NSString, v)) }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Value-by-value difference of two records, in units of their combined uncertainty.")
        @OptionGroup var options: StoreOptions
        @Argument var first: String
        @Argument var second: String
        @Flag(help: "One JSON object on stdout.") var json = false

        func run() throws {
            let store = try options.open()
            let d = RecordDiff(try store.load(first), try store.load(second))
            if json { try printJSON(d); return }
            printLine("\(d.from) → \(d.to)\(d.deviceChanged ? "  (different instrument)" : "")")
            for c in d.changes {
                let old = c.old.map { String(format: "%.8g", $0) } ?? "—", new = c.new.map { String(format: "%.8g", $0) } ?? "—"
                let s = c.sigmas.map { String(format: "%.1f σ", $0) } ?? ""
                printLine(String(format: "  %-28@ %@ → %@ %@  %@", c.name as NSString, old as NSString, new as NSString, c.unit as NSString, s as NSString))
            }
        }
    }

    struct Activate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a record the active one for its role and kind (history is kept).")
        @OptionGroup var options: StoreOptions
        @Argument var id: String
        func run() throws {
            try options.open().activate(id)
            printLine("active: \(id)")
        }
    }
}
