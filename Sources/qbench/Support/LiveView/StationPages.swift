import BenchKit
import Foundation
import Sequencer

/// What a station serves while it runs: its live page (`--live`) and, on the server station, its
/// Prometheus metrics (`--metrics`); one HTTP server when both name the same address. The observer
/// feeds both and then the terminal.
struct StationPages {
    let live: LiveState?
    let metrics: StationMetrics?
    let observer: any RunObserver
    private let servers: [StationHTTPServer]

    /// `station` titles the page; `devices` picks whose roles it shows (nil: every role, `qbench run`).
    static func start(live liveAddress: String?, metrics metricsAddress: String? = nil, station: String, devices: Station?, bench: Bench,
                      budget: Double?, database: RunDatabase? = nil, next: any RunObserver, announce: (String) -> Void) async throws -> StationPages {
        let metricsAddress = database == nil ? nil : metricsAddress
        var observer = next
        var live: LiveState?, metrics: StationMetrics?
        if let liveAddress {
            let state = LiveState(station: station, bench: bench.description.name, budget: budget)
            state.setDevices(await bench.snapshot(of: devices))
            observer = LiveObserver(state: state, next: observer, station: devices)
            live = state
        }
        if let metricsAddress, let database {
            let m = try StationMetrics(database: database)
            observer = StationMetrics.Observer(metrics: m, next: observer)
            metrics = m
        }
        // What each address serves: both on one server when the options name the same address.
        var plan: [(address: String, option: String, live: LiveState?, metrics: StationMetrics?)] = []
        if let liveAddress, let metricsAddress, try Self.same(liveAddress, metricsAddress) {
            plan = [(liveAddress, "--live", live, metrics)]
        } else {
            if let liveAddress { plan.append((liveAddress, "--live", live, nil)) }
            if let metricsAddress { plan.append((metricsAddress, "--metrics", nil, metrics)) }
        }
        var servers: [StationHTTPServer] = []
        for p in plan {
            let server: StationHTTPServer
            do { server = try StationHTTPServer.start(p.address, option: p.option, live: p.live, metrics: p.metrics) } catch {
                servers.forEach { $0.stop() }
                throw error
            }
            if p.live != nil { announce("live page: \(server.url)") }
            if p.metrics != nil { announce("metrics: \(server.url)metrics") }
            servers.append(server)
        }
        return StationPages(live: live, metrics: metrics, observer: observer, servers: servers)
    }

    /// Both options name one fixed address (port 0 picks a port for each).
    static func same(_ a: String, _ b: String) throws -> Bool {
        let x = try StationHTTPServer.parse(a, option: "--live"), y = try StationHTTPServer.parse(b, option: "--metrics")
        return x == y && x.1 != 0
    }

    func stop() { servers.forEach { $0.stop() } }
}
