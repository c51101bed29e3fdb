import ArgumentParser
import Foundation

@main
struct QBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbench",
        abstract: "Lab control for quantum-secure optical inference on a fibre bench (simulated by default).",
        discussion: "Physics and conventions: docs/PROTOCOL.md. Start with `qbench simulate` or `qbench leakage --gain 2 --photons 4`.",
        version: QBenchVersion.string,
        subcommands: [SimulateCommand.self, LeakageCommand.self, MapCommand.self, TrainCommand.self, CurveCommand.self, ModelCommand.self, CalibrationCommand.self, RunsCommand.self,
                      ReportCommand.self, JournalCommand.self, RunCommand.self, CalibrateCommand.self, DevicesCommand.self, BenchCommand.self, ScanCommand.self,
                      PKICommand.self, LedgerCommand.self, ServeCommand.self, ClientCommand.self, ExperimentCommand.self]
    )
}
