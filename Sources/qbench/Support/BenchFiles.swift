import BenchKit
import BenchSim
import Foundation

extension ProjectPaths {
    /// The default bench: the digital twin of `Devices/benches/sim.yaml`.
    static var defaultBench: URL { get throws { try inRepository("Devices/benches/sim.yaml") } }
}

/// The drivers this qbench build knows.
enum Drivers {
    static var registry: DriverRegistry { DriverRegistry([SimDriver()]) }

    /// Loads a bench file (default: the simulated bench) and opens it.
    static func open(_ path: String?) async throws -> Bench {
        let url = try path.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.defaultBench
        return try await Bench.open(try BenchDescription.load(url), registry: registry)
    }
}

/// A limit's value with its unit, as a bench file writes it.
func formatLimit(_ value: Double, _ dimension: Parameter.Dimension) -> String {
    switch dimension {
    case .voltage: "\(Voltage(si: value))"
    case .current: "\(Current(si: value))"
    case .power: "\(Power(si: value))"
    case .temperature: String(format: "%.2f °C", value - 273.15)
    case .decibels: "\(Decibels(value))"
    case .ratio: String(format: "%g", value)
    case .flag: value != 0 ? "open" : "closed"
    }
}
