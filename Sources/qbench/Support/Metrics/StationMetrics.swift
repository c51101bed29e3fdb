import BenchKit
import Foundation
import Prometheus
import Sequencer

/// The server station's Prometheus metrics (`qbench serve --metrics [HOST:]PORT`, `GET /metrics`,
/// docs/live-view.md): what a lab's monitoring scrapes from a station that serves for days.
///
/// - `qbench_sessions_total{outcome}`: sessions ended, by how (certified, not-certified, aborted,
///   interrupted, failed: the run database's status, completed split by the last decision).
/// - `qbench_aborts_total{reason}`: sessions that did not complete, by why (`AbortReason`).
/// - `qbench_client_weight_leakage_bits_per_symbol{client}` and `qbench_client_images{client}`:
///   the ledger's account of every client this station has served (read from the run database at
///   start and after every block, so a restarted station reports what its clients hold).
/// - `qbench_blocks_total{decision}`: the check's decisions, block by block.
/// - `qbench_signal_modes_per_second`, `qbench_session_signal_modes`, `qbench_session_images`,
///   `qbench_session_active`: the session being served.
final class StationMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let database: RunDatabase
    private let modesPerSecond: Gauge, sessionModes: Gauge, sessionImages: Gauge, active: Gauge

    static var sessions: MetricNameDescriptor { MetricNameDescriptor(namespace: "qbench", metricName: "sessions", unitName: "total",
                                               helpText: "Sessions ended, by outcome (certified, not-certified, aborted, interrupted, failed)") }
    static var aborts: MetricNameDescriptor { MetricNameDescriptor(namespace: "qbench", metricName: "aborts", unitName: "total",
                                             helpText: "Sessions that did not complete, by reason") }
    static var blocks: MetricNameDescriptor { MetricNameDescriptor(namespace: "qbench", metricName: "blocks", unitName: "total",
                                             helpText: "Blocks checked, by the server's decision") }
    static var leakage: MetricNameDescriptor { MetricNameDescriptor(namespace: "qbench", subsystem: "client", metricName: "weight_leakage", unitName: "bits_per_symbol",
                                              helpText: "Certified weight leakage a client holds over every session served (the ledger)") }
    static var clientImages: MetricNameDescriptor { MetricNameDescriptor(namespace: "qbench", subsystem: "client", metricName: "images",
                                                   helpText: "Images served to a client over every session (the ledger)") }

    init(database: RunDatabase) throws {
        self.database = database
        modesPerSecond = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "qbench", metricName: "signal_modes_per_second",
                                                                             helpText: "Signal modes measured per second in the session being served"))
        sessionModes = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "qbench", subsystem: "session", metricName: "signal_modes",
                                                                           helpText: "Signal modes measured so far in the session being served"))
        sessionImages = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "qbench", subsystem: "session", metricName: "images",
                                                                            helpText: "Images done so far in the session being served"))
        active = registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "qbench", subsystem: "session", metricName: "active",
                                                                     helpText: "1 while a session is being served"))
        // Every series a dashboard expects exists from the start, at zero.
        for o in Outcome.allCases { _ = registry.makeCounter(descriptor: Self.sessions, labels: [("outcome", o.rawValue)]) }
        for r in AbortReason.allCases { _ = registry.makeCounter(descriptor: Self.aborts, labels: [("reason", r.rawValue)]) }
        try refreshLedger()
    }

    enum Outcome: String, CaseIterable {
        case certified, notCertified = "not-certified", aborted, interrupted, failed
    }

    /// Why a session did not complete: the check's abort, the lifetime budget, or what stopped it.
    enum AbortReason: String, CaseIterable {
        /// The server's check: the weight leakage's lower bound exceeded the budget.
        case leakageBudget = "leakage-budget"
        /// The client's ledger would exceed its lifetime budget (refused before light).
        case lifetimeBudget = "lifetime-budget"
        /// The other station went away, aborted or broke the protocol.
        case peer
        /// The receiver clipped; the check's numbers were not finite; the operating point was refused.
        case saturated, check, operatingPoint = "operating-point"
        case interlock, stopped
        /// Anything else (a device fault, a full disk): the journal says what.
        case other

        init(_ error: Error) {
            switch error {
            case let e as RunFailure: self.init(e.underlying)
            case let e as RunError:
                switch e {
                case .ledger: self = .lifetimeBudget
                case .peer, .denied: self = .peer
                case .saturated: self = .saturated
                case .check: self = .check
                case .operatingPoint, .invalidOption, .privacy: self = .operatingPoint
                case .interlock: self = .interlock
                case .stopped: self = .stopped
                case .notResumable: self = .other
                }
            default: self = .other
            }
        }
    }

    /// A session the station served to its end: completed, or aborted by the check.
    func ended(_ r: RunResult) {
        let outcome: Outcome = r.aborted ? .aborted : r.certified ? .certified : .notCertified
        registry.makeCounter(descriptor: Self.sessions, labels: [("outcome", outcome.rawValue)]).increment()
        if r.aborted { registry.makeCounter(descriptor: Self.aborts, labels: [("reason", AbortReason.leakageBudget.rawValue)]).increment() }
        finish()
    }

    /// A session that ended early: interrupted (the peer left, a stop) or failed.
    func ended(_ status: RunStatus, because error: Error) {
        registry.makeCounter(descriptor: Self.sessions, labels: [("outcome", (status == .interrupted ? Outcome.interrupted : .failed).rawValue)]).increment()
        registry.makeCounter(descriptor: Self.aborts, labels: [("reason", AbortReason(error).rawValue)]).increment()
        finish()
    }

    private func finish() {
        active.set(to: 0)
        try? refreshLedger()
    }

    /// Every client's account, as the ledger in the run database holds it.
    func refreshLedger() throws {
        for a in try database.accounts() {
            registry.makeGauge(descriptor: Self.leakage, labels: [("client", a.client)]).set(to: a.chargeBitsPerSymbol)
            registry.makeGauge(descriptor: Self.clientImages, labels: [("client", a.client)]).set(to: Double(a.images))
        }
    }

    var text: Data { Data(registry.emitToBuffer()) }

    /// Feeds the session gauges from the run's observer calls, then hands each call on.
    struct Observer: RunObserver {
        let metrics: StationMetrics
        let next: any RunObserver

        func started(runId: String, plan: [PlanStep]) {
            metrics.active.set(to: 1)
            metrics.modesPerSecond.set(to: 0)
            next.started(runId: runId, plan: plan)
        }
        func step(_ text: String) { next.step(text) }
        func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?) {
            metrics.sessionImages.set(to: Double(imagesDone))
            metrics.sessionModes.set(to: Double(modes))
            if modesPerSecond.isFinite { metrics.modesPerSecond.set(to: modesPerSecond) }
            next.progress(imagesDone: imagesDone, images: images, modes: modes, modesPerSecond: modesPerSecond, excessNoise: excessNoise)
        }
        func block(_ record: BlockRecord) {
            metrics.registry.makeCounter(descriptor: StationMetrics.blocks, labels: [("decision", record.decision)]).increment()
            next.block(record)
        }
        func afterBlock(_ block: Int, bench: Bench) async {
            try? metrics.refreshLedger()
            await next.afterBlock(block, bench: bench)
        }
    }
}
