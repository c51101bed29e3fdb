import ArgumentParser
import Foundation

struct QBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbench",
        abstract: "Lab control for quantum-secure optical inference on a fibre bench (simulated by default).",
        discussion: "Physics and conventions: docs/PROTOCOL.md. Start with `qbench simulate` or `qbench leakage --gain 2 --photons 4`.",
        version: QBenchVersion.string,
        subcommands: [SimulateCommand.self, LeakageCommand.self, MapCommand.self, TrainCommand.self, CurveCommand.self, ModelCommand.self, CalibrationCommand.self, RunsCommand.self,
                      ReportCommand.self, JournalCommand.self, RunCommand.self, CalibrateCommand.self, DevicesCommand.self, BenchCommand.self, ScanCommand.self,
                      PKICommand.self, LedgerCommand.self, ServeCommand.self, ClientCommand.self, ExperimentCommand.self, AlignCommand.self, GuardCommand.self]
    )
}

/// The entry point: ArgumentParser's (after OpenBLAS is on the CPU's own kernels: `NativeKernels`),
/// plus the safety guard's release. A command that returns
/// normally has left its bench in its safe state, so its guard (if it started one) stands down;
/// on an error, a signal or a kill, the guard runs the bench's safe-state sequence itself.
@main
enum QBenchMain {
    static func main() async {
        NativeKernels.restartIfNeeded()
        do {
            var command = try QBench.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            TwinTime.saveAll()
            SafetyGuard.release()
        } catch {
            TwinTime.saveAll()
            QBench.exit(withError: error)
        }
    }
}
