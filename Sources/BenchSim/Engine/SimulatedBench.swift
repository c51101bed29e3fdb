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

    /// A TCP port on 127.0.0.1 that nothing listens on now, for the twin's fibre between two
    /// sites in one process or on one machine (`BenchDescription.site(of:fiber:)`).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        let named = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard fd >= 0, bound == 0, named == 0 else { throw FiberSocketError("no free TCP port on 127.0.0.1 for the twin's fibre") }
        return Int(UInt16(bigEndian: a.sin_port))
    }

    /// The sites of a split twin continue the one-table twin they were split from: its simulated
    /// clock (and with it every drift) and its shot and capture counters. A twin calibrated as one
    /// table and then run as two sites must not start again from time zero: its drifts would be
    /// wound back behind the calibration and its noise streams replayed from the first shot. (The
    /// certification difference once blamed on this was a noise realisation: docs/performance.md,
    /// "Correction".)
    public static func continueTwin(of table: Bench, at sites: [Bench]) async throws {
        let state = try await engine(of: table).checkpoint()
        for site in sites { try await engine(of: site).restore(state) }
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
