import ArgumentParser
import BenchKit
import BenchSim
import Foundation
import SecureInference
import Sequencer

struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Experiments: sweeps of recorded sessions from a plan file (Experiments/*.yaml, docs/experiments.md).",
        subcommands: [ExperimentRunCommand.self, ExperimentListCommand.self, ExperimentShowCommand.self])
}

/// The experiments folder: `$QBENCH_HOME/experiments`.
enum ExperimentFolder {
    static var url: URL { QBenchHome.directory.appendingPathComponent("experiments") }
}

/// Benches for the runner: every driver this build knows; the twin's client set through its engine.
struct CLIExperimentBenches: ExperimentBenches {
    func open(_ description: BenchDescription) async throws -> Bench {
        try await BenchOpening.open(description, station: nil)
    }

    /// A twin uses stored records only when it continues the time they were made at (`TwinTime`).
    func storedRecordsMayDescribe(_ bench: Bench) async -> Bool { await TwinTime.storedRecordsMayDescribe(bench) }

    func setClient(_ behaviour: ClientBehaviour, on bench: Bench) async throws {
        if let engine = try? await SimulatedBench.engine(of: bench) {
            try engine.setClientBehaviour(behaviour)
        } else if behaviour != .honest {
            throw ExperimentError.twinOnly(what: "client \(behaviour)", bench: bench.description.name)
        }
    }
}

struct ExperimentRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an experiment plan: every point a recorded session; journaled, resumable, with a CSV table and an HTML report.",
        discussion: """
            Points run in the plan's order. Before a point the plan's calibrations run (first use of a bench, a μ or G \
            other than the active calibration's, the plan's list), after it the drift check if the plan has one; all \
            journaled in $QBENCH_HOME/experiments/ID/. A stopped or killed experiment continues at its first unfinished \
            point: `qbench experiment run FILE` picks up the newest unfinished experiment of the same plan by itself \
            (--new starts another), `--resume ID` names one. Outputs: results.csv, report.html and SVG plots in the \
            experiment's folder.
            """)

    @Argument(help: "The plan file (e.g. Experiments/paper-map.yaml); optional with --resume.") var file: String?
    @Option(name: .customLong("resume"), help: "Continue this experiment (see `qbench experiment list`).") var resumeId: String?
    @Flag(help: "Start a new experiment even if an unfinished one of this plan exists.") var new = false
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout (the table's rows).") var json = false

    func validate() throws {
        guard file != nil || resumeId != nil else { throw ValidationError("give a plan file, or --resume ID") }
        guard !(new && resumeId != nil) else { throw ValidationError("--new and --resume exclude each other") }
    }

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try logging.bootstrap()
        let quiet = json
        let stop = StopRequest()
        let signals = installSignalHandlers(stop)
        defer { _ = signals }
        let env = ExperimentEnvironment(
            folder: ExperimentFolder.url, benches: CLIExperimentBenches(), stationStore: try BenchOpening.store(nil),
            database: try RunDatabase(directory: StationOption.directory(.server)),
            clientDatabase: try RunDatabase(directory: StationOption.directory(.client)),
            defaultBenchFile: try BenchOpening.url(nil).path, modelFile: try modelOptions.model ?? ProjectPaths.defaultModel.path,
            dataDirectory: try modelOptions.data ?? ProjectPaths.mnist.path, codeVersion: QBenchVersion.withCommit,
            arguments: CommandLine.arguments, stop: stop, observer: TerminalObserver(enabled: !json),
            log: { line in if !quiet { printLine(line) } })

        let runner: ExperimentRunner
        if let id = resumeId {
            let text = try file.map { try String(contentsOfFile: $0, encoding: .utf8) }
            runner = try ExperimentRunner.reopen(id, env: env, planText: text)
        } else {
            let plan = try ExperimentPlan.load(URL(fileURLWithPath: file!))
            if !new, let id = ExperimentRunner.unfinished(of: plan, env: env) {
                if !json { printLine("continuing the unfinished experiment \(id) of this plan (--new starts another)") }
                runner = try ExperimentRunner.reopen(id, env: env, planText: plan.text)
            } else {
                runner = try ExperimentRunner.create(plan, env: env)
            }
        }
        // The plan's model and data when it names them (its sessions record those paths), else the options'.
        var options = modelOptions
        options.model = runner.plan.modelFile ?? options.model
        options.data = runner.plan.dataDirectory ?? options.data
        let model = try options.loadModel()
        let largest = runner.plan.points.map(\.images).max() ?? 1
        let testSet = try options.loadSet(.test, limit: largest)
        let outcome = try await runner.run(model: model, testSet: testSet)
        if json { try printJSON(outcome.rows); return }
        printLine("""
            experiment        \(outcome.id): \(outcome.rows.count) points in \(String(format: "%.1f", outcome.seconds)) s
            table             \(outcome.tableURL.path)
            report            \(outcome.reportURL.path)
            """)
    }
}

struct ExperimentListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The experiments in $QBENCH_HOME/experiments: id, points finished, state.")
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Item: Encodable { let id: String; let points: Int; let finished: Int; let state: String }

    func run() throws {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: ExperimentFolder.url.path)) ?? []).sorted()
        var items: [Item] = []
        for name in names {
            let dir = ExperimentFolder.url.appendingPathComponent(name)
            guard fm.fileExists(atPath: dir.appendingPathComponent(ExperimentRunner.planFileName).path) else { continue }
            do {
                let journal = try ExperimentJournal(url: dir.appendingPathComponent("journal.jsonl"))
                let planFile = journal.snapshot.first { $0.kind == .created }?.detail ?? dir.path
                let text = try String(contentsOf: dir.appendingPathComponent(ExperimentRunner.planFileName), encoding: .utf8)
                let plan = try ExperimentPlan.parse(text, file: planFile)
                items.append(Item(id: name, points: plan.points.count, finished: journal.finishedRows.count,
                                  state: journal.isFinished ? "finished" : "unfinished"))
            } catch {
                items.append(Item(id: name, points: 0, finished: 0, state: "unreadable: \(error)"))
            }
        }
        if json { try printJSON(items); return }
        if items.isEmpty { printLine("no experiments in \(ExperimentFolder.url.path) yet: `qbench experiment run Experiments/paper-map.yaml`"); return }
        for i in items { printLine("\(i.id)  \(i.finished)/\(i.points) points  \(i.state)") }
    }
}

struct ExperimentShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "An experiment's table (CSV) and where its report is.")
    @Argument(help: "Experiment id (see `qbench experiment list`).") var id: String
    @Flag(help: "Write the table and the report again from the experiment's journal first (after a qbench update changed the report).") var rewrite = false

    func run() throws {
        if rewrite { _ = try ExperimentRunner.rewriteOutputs(id, folder: ExperimentFolder.url) }
        let dir = ExperimentFolder.url.appendingPathComponent(id)
        let table = dir.appendingPathComponent("results.csv")
        guard !id.contains("/"), let csv = try? String(contentsOf: table, encoding: .utf8) else {
            throw ExperimentError.unknown(id: id, folder: ExperimentFolder.url.path)
        }
        FileHandle.standardOutput.write(Data(csv.utf8))
        printLine("report: \(dir.appendingPathComponent("report.html").path)")
    }
}
