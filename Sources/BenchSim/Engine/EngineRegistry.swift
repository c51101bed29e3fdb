import BenchKit
import Foundation

/// The engines alive in this process, by id (weakly held: an engine lives as long as its devices).
final class EngineRegistry: @unchecked Sendable {
    static let shared = EngineRegistry()
    private let lock = NSLock()
    private var next = 1
    private var engines: [Int: Weak] = [:]

    private struct Weak { weak var engine: SimulationEngine? }

    func register() -> Int {
        lock.lock(); defer { lock.unlock() }
        next += 1
        return next - 1
    }

    func attach(_ e: SimulationEngine) {
        lock.lock(); defer { lock.unlock() }
        engines = engines.filter { $0.value.engine != nil }
        engines[e.id] = Weak(engine: e)
    }

    func engine(id: Int) -> SimulationEngine? {
        lock.lock(); defer { lock.unlock() }
        return engines[id]?.engine
    }
}

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

    /// The engine behind an opened bench's simulated devices, found through their identities
    /// (serial "bench<id>/<role>"). For tests and benchmarks: the protocol path must not use it.
    public static func engine(of bench: Bench) async throws -> SimulationEngine {
        // Families without a limit guard are handed out as the driver made them.
        for role in bench.roles {
            if let d = try? bench.device(role), let sim = d as? any SimulatedDevice { return sim.engine }
        }
        for role in bench.roles {
            guard let identity = try? await bench.device(role).identify(), identity.manufacturer == "qbench-sim",
                  identity.serial.hasPrefix("bench"), let slash = identity.serial.firstIndex(of: "/"),
                  let id = Int(identity.serial[identity.serial.index(identity.serial.startIndex, offsetBy: 5)..<slash]),
                  let engine = EngineRegistry.shared.engine(id: id) else { continue }
            return engine
        }
        throw AccessError.notSimulated(bench: bench.description.name)
    }
}
