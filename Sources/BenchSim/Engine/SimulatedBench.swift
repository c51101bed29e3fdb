import BenchKit
import Foundation

/// Entry points to the simulated bench for tests, benchmarks and the CLI.
public enum SimulatedBench {
    public enum AccessError: Error, CustomStringConvertible {
        case notSimulated(bench: String)
        public var description: String {
            switch self {
            case let .notSimulated(b): "bench '\(b)' has no device of the sim driver: open a bench whose roles use 'driver: sim' (e.g. Devices/benches/sim.yaml)"
            }
        }
    }

    /// A registry holding the `sim` driver.
    public static func registry() -> DriverRegistry { DriverRegistry([SimDriver()]) }

    /// Parses and opens a bench file with the `sim` driver (plus any `extra` drivers).
    public static func open(_ file: URL, extra: [any DriverFactory] = []) async throws -> Bench {
        var registry = registry()
        for f in extra { registry.register(f) }
        return try await Bench.open(try BenchDescription.load(file), registry: registry)
    }

    /// The engine behind an opened bench's simulated devices (kept in the bench's shared
    /// resources). For tests and benchmarks: the protocol path must not use it.
    public static func engine(of bench: Bench) async throws -> SimulationEngine {
        guard let engine = await bench.shared.existing(SimDriver.engineKey, as: SimulationEngine.self) else {
            throw AccessError.notSimulated(bench: bench.description.name)
        }
        return engine
    }
}
