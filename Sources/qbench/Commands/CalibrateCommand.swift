import ArgumentParser
import BenchKit
import Calibrate
import Foundation

struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure what the protocol needs and store it as versioned calibration records.",
        discussion: "Kinds, in dependency order: \(CalibrationKind.allCases.map(\.rawValue).joined(separator: ", ")); `all` runs every one. Records go to the station's store ($QBENCH_HOME/calibration/<bench>/<role>/, sealed with the station key) with their raw data and an SVG plot; the new record becomes the active one.")

    @Argument(help: "laser | modulator | attenuation | homodyne | back-to-back | link | all") var kind: String
    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Option(help: "Calibration folder (default: the station's, $QBENCH_HOME/calibration).") var store: String?
    @Option(parsing: .unconditional, help: "Operating μ (photons per mode at the client input) for back-to-back and link.") var photons = 4.0
    @Option(parsing: .unconditional, help: "Operating client gain G for the link calibration.") var gain = 2.0
    @Option(name: .customLong("reference-shots"), parsing: .unconditional, help: "Shots of the back-to-back and link measurements.") var referenceShots = 256
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        struct Entry: Encodable { let id: String; let kind: String; let role: String; let measurements: Int; let benchSeconds: Double; let values: [String: CalibratedValue] }
        let bench: String
        let records: [Entry]
        let seconds: Double
    }

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try logging.bootstrap()
        let kinds: [CalibrationKind]
        if kind == "all" { kinds = CalibrationKind.allCases } else {
            guard let k = CalibrationKind(rawValue: kind) else {
                throw ValidationError("unknown calibration '\(kind)'; expected one of: \(CalibrationKind.allCases.map(\.rawValue).joined(separator: ", ")), all")
            }
            kinds = [k]
        }
        let bench = try await BenchOpening.open(self.bench)
        var settings = CalibrationSettings()
        settings.photonsPerMode = photons
        settings.gain = gain
        settings.referenceShots = referenceShots
        let quiet = json
        let ctx = CalibrationContext(bench: bench, store: try BenchOpening.store(store), settings: settings,
                                     codeVersion: QBenchVersion.withCommit, log: { if !quiet { printLine($0) } })
        let started = Date()
        var records: [CalibrationRecord] = []
        do {
            for k in kinds { records += try await CalibrationRunner.run(k, ctx) }
        } catch {
            await bench.enterSafeState()
            throw error
        }
        await bench.enterSafeState()
        let out = Output(bench: bench.description.name,
                         records: records.map { .init(id: $0.id, kind: $0.kind.rawValue, role: $0.role, measurements: $0.measurements, benchSeconds: $0.benchSeconds, values: $0.values) },
                         seconds: Date().timeIntervalSince(started))
        if json { try printJSON(out); return }
        for r in records {
            printLine("\(r.id)")
            for (name, v) in r.values.sorted(by: { $0.key < $1.key }) {
                printLine(String(format: "    %-28@ %.8g ± %.3g %@", name as NSString, v.value, v.uncertainty, v.unit as NSString))
            }
        }
        printLine(String(format: "%d records in %.1f s; the bench is in its safe state", records.count, out.seconds))
    }
}
