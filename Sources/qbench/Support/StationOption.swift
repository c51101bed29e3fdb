import ArgumentParser
import BenchKit
import Foundation
import Sequencer

extension Station: ExpressibleByArgument {}

/// Which station's records a command reads: each station keeps its own run database
/// (`$QBENCH_HOME/runs.sqlite` for the server, `$QBENCH_HOME/client/runs.sqlite` for the client).
struct StationOption: ParsableArguments {
    @Option(help: "Whose records: server (default; no accuracy: it never sees a prediction) or client (its accuracy and the verdicts it received).")
    var station: Station = .server

    var directory: URL { Self.directory(station) }

    static func directory(_ station: Station) -> URL {
        station == .server ? QBenchHome.directory : QBenchHome.directory.appendingPathComponent("client")
    }
}
