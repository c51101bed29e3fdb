import ArgumentParser
import Foundation
import Sequencer

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the recorded runs (run database in $QBENCH_HOME, default ~/.local/share/qbench).")

    @Option(parsing: .unconditional, help: "Show at most this many runs, newest first.") var limit = 50
    @OptionGroup var station: StationOption
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Damaged: Encodable { let id: String; let problem: String }
    struct Output: Encodable { let database: String; let runs: [RunSummary]; let damaged: [Damaged] }

    func run() throws {
        let db: RunDatabase
        do { db = try RunDatabase(directory: station.directory, readOnly: true) } catch RunDatabaseError.missing(let path) {
            if json { try printJSON(Output(database: path, runs: [], damaged: [])); return }
            printLine("no runs in \(path): start one with `qbench run`"); return
        }
        let listing = try db.listRuns(limit: limit)
        let runs = listing.compactMap { if case let .run(r) = $0 { r } else { nil } }
        let damaged = listing.compactMap { if case let .damaged(id, problem) = $0 { Damaged(id: id, problem: problem) } else { nil } }
        if json { try printJSON(Output(database: db.url.path, runs: runs, damaged: damaged)); return }
        for d in damaged { FileHandle.standardError.write(Data("qbench: run \(d.id): \(d.problem)\n".utf8)) }
        if runs.isEmpty { printLine("no \(damaged.isEmpty ? "" : "readable ")runs in \(db.url.path): start one with `qbench run`"); return }
        printLine("run id                    status       images  accuracy  certified  I_w ≤ (bit/mode)  bench")
        for r in runs {
            let res = r.result
            printLine(String(format: "%-25@ %-12@ %6d  %@  %-9@  %-16@  %@",
                             r.id as NSString, r.status.rawValue as NSString, res?.images ?? 0,
                             (res?.accuracy.map { String(format: "%7.2f %%", 100 * $0) } ?? "      —") as NSString,
                             (res.map { $0.certified ? "yes" : "no" } ?? "—") as NSString,
                             (res.map { String(format: "%.4f", $0.weightLeakageUpperBoundBitsPerMode) } ?? "—") as NSString,
                             r.bench as NSString))
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of a run (plots, per-block table, journal, provenance).")

    @Argument(help: "Run id (see `qbench runs`).") var runId: String
    @Option(name: .shortAndLong, help: "Output file (default: qbench-report-RUN_ID.html).") var output: String?
    @OptionGroup var station: StationOption

    func run() throws {
        let report = try RunReport(database: try RunDatabase(directory: station.directory, readOnly: true), runId: runId)
        let path = output ?? "qbench-report-\(runId).html"
        try report.html.write(toFile: path, atomically: true, encoding: .utf8)
        printLine("wrote \(path)")
    }
}

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "The journal of a run: every completed step, safe-state action, event and decision, in order.")

    @Argument(help: "Run id (see `qbench runs`).") var runId: String
    @Flag(help: "One JSON object on stdout.") var json = false

    @OptionGroup var station: StationOption

    struct Output: Encodable { let runId: String; let status: String; let entries: [JournalEntry] }

    func run() throws {
        let db = try RunDatabase(directory: station.directory, readOnly: true)
        let summary = try db.run(runId)
        let entries = try db.journalEntries(runId)
        if json { try printJSON(Output(runId: runId, status: summary.status.rawValue, entries: entries)); return }
        let df = ISO8601DateFormatter()
        printLine("run \(runId): \(summary.status.rawValue)")
        for e in entries {
            printLine("\(String(format: "%4d", e.sequence))  \(df.string(from: e.at))  \(e.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0))  \(e.step)\(e.detail.map { "  — " + $0 } ?? "")")
        }
    }
}
