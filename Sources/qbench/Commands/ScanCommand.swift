import ArgumentParser
import Drivers
import Foundation

/// `qbench scan [--json]`: what is connected, which driver speaks to it, and a bench-file
/// snippet binding it (docs/real-bench.md).
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "List USBTMC instruments (VID:PID, serial, *IDN?) and GPIO chips, the driver for each, and a bench-file snippet.",
        discussion: "Needs read/write access to the USB devices and /dev/gpiochip*: see docs/real-bench.md for the udev rule and the gpio group.")

    @Flag(help: "One JSON object on stdout.") var json = false
    @Option(name: .customLong("timeout-ms"), parsing: .unconditional, help: "Timeout of each *IDN? query, in milliseconds.") var timeoutMilliseconds = 2000
    @Option(help: "The instrument files (default: Devices/instruments of the repository).") var instruments: String?

    func run() async throws {
        let library = try instruments.map { InstrumentLibrary(directory: URL(fileURLWithPath: $0)) } ?? InstrumentLibrary.standard()
        let report = await BenchScan.run(descriptions: try DriverCatalog.descriptions(library: library),
                                         timeout: .milliseconds(max(1, timeoutMilliseconds)))
        if json { try printJSON(report) } else { printLine(BenchScan.text(report)) }
    }
}
