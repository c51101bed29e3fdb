import BenchKit
import BenchSim
import Foundation
import Testing
@testable import Sequencer

/// An instrument unplugged (or power-cycled) during a run on the twin: the session pauses like an
/// interlock trip, reconnects it by its address, and continues to the same result; one that never
/// comes back ends the run interrupted, with the instruments safe.
@Suite("Protocol runs on the twin: reconnect", .serialized)
struct ReconnectRunTests {
    /// The run's result and the blocks' decisions, which a pause must not change.
    struct Outcome: Equatable {
        let images: Int
        let accuracy: Double?
        let transmittance: Double
        let excessNoise: Double
        let certified: Bool
        let aborted: Bool
        let decisions: [String]
    }

    func run(_ h: Harness, env: RunEnvironment? = nil) async throws -> (Outcome, String) {
        let f = TwinFixture.shared
        let r = try await ProtocolRun.start(configuration(images: 40, block: 20), model: f.model, testSet: f.testSet, env: env ?? h.env)
        let outcome = Outcome(images: r.images, accuracy: r.accuracy, transmittance: r.transmittanceEstimate, excessNoise: r.excessNoiseEstimate,
                              certified: r.certified, aborted: r.aborted, decisions: try h.db.blocks(r.runId).map(\.decision))
        return (outcome, r.runId)
    }

    /// An instrument (`role`) disconnects between two bursts (a server's after the server's
    /// first burst, a client's once the client has journaled block 0); the twin clears the fault
    /// 0.5 s after its station journaled the disconnect (so the fault cannot pass unseen on a
    /// loaded machine). The station pauses the session before the next burst, reconnects it and
    /// resumes; the run completes with the result of the same run without the fault, and both
    /// journals show the pause.
    @Test("an instrument disconnected before a burst is reconnected and the run ends as without it",
          arguments: [Role.serverReceiver, .serverModulator, .clientReceiver])
    func disconnectBeforeABurst(role: Role) async throws {
        let (expected, _) = try await run(try await Harness.make())
        let station = role.station == .client ? "client" : "server"
        let h = try await Harness.make(onFirstProgress: { engine in
            if station == "server" { try? engine.inject(SimulatedFault(role: role, kind: .disconnect)) }
        }, onStep: { engine, text in
            if station == "client", text.hasPrefix("client: block 0:") { try? engine.inject(SimulatedFault(role: role, kind: .disconnect)) }
            if text.hasPrefix("\(station): instrument disconnected") {
                engine.clearFaults(role: role, after: .milliseconds(500))
            }
        })
        let (outcome, runId) = try await run(h)
        #expect(outcome == expected)
        let (own, peer) = role.station == .client ? (h.clientDb, h.db) : (h.db, h.clientDb)
        let journal = try own.journalEntries(runId)
        let steps = journal.map(\.step)
        let disconnected = try #require(journal.first { $0.step == "instrument disconnected" })
        #expect(disconnected.detail?.hasPrefix(role.rawValue) == true, "\(disconnected.detail ?? "")")
        let reconnected = try #require(journal.first { $0.step == "instrument reconnected" })
        #expect(reconnected.detail?.contains("\(role.rawValue): ") == true && reconnected.detail?.contains("s/n") == true, "\(reconnected.detail ?? "")")
        // In order: the pause, the safe state, the reconnect, the safe state again, then the warm-up:
        // the role's own safe-state step runs twice, the second time once it is back. (The first
        // fails if the station reaches it before the twin's timer clears the fault, which on a
        // loaded machine it may not.)
        let pausedAt = try #require(steps.firstIndex(of: "instrument disconnected"))
        let backAt = try #require(steps.firstIndex(of: "instrument reconnected"))
        let ownSafe = journal[pausedAt..<backAt].filter { $0.kind == .safeState && $0.step.hasPrefix(role.rawValue + ":") }
        #expect(ownSafe.count == 2 && ownSafe.last?.detail == "ok", "\(ownSafe.map(\.detail))")
        let peerSteps = try peer.journalEntries(runId).map(\.step)
        #expect(peerSteps.contains("\(station) paused") && peerSteps.contains("\(station) resumed"), "\(peerSteps)")
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// The receiver disconnects at the fetch of a burst whose light was already fired: that
    /// burst is lost, so the session stops (interrupted, resumable) instead of pausing.
    @Test("a disconnect after the light was fired stops the session resumably")
    func disconnectAfterTheLight() async throws {
        // Its next calls: the next burst's slot pattern, arm, then the fetch (the third).
        let h = try await Harness.make(onFirstProgress: { engine in
            try? engine.inject(SimulatedFault(role: .serverReceiver, kind: .disconnect, afterCalls: 2))
        })
        do {
            _ = try await run(h)
            Issue.record("the run completed without the burst's samples")
        } catch let failure as RunFailure {
            #expect(failure.status == .interrupted)
            #expect("\(failure.underlying)".contains("stopped: server.receiver was disconnected after the light of burst 1 of layer 0 of block 0 was fired"), "\(failure.underlying)")
            let steps = try h.db.journalEntries(failure.runId).map(\.step)
            #expect(!steps.contains("instrument disconnected"))
        }
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// The instrument never comes back: after `reconnectTimeout` the run ends interrupted with the
    /// typed error naming the role and its address, the server's instruments safe.
    @Test("a server instrument that never comes back ends the run interrupted at the timeout, safe",
          arguments: [Role.serverReceiver, .serverModulator])
    func disconnectNeverCleared(role: Role) async throws {
        let h = try await Harness.make(onFirstProgress: { engine in try? engine.inject(SimulatedFault(role: role, kind: .disconnect)) })
        var env = h.env
        env.reconnectTimeout = .seconds(1)
        let started = ContinuousClock.now
        do {
            _ = try await run(h, env: env)
            Issue.record("the run completed without its receiver")
        } catch let failure as RunFailure {
            #expect(ContinuousClock.now - started >= .seconds(1))
            #expect(failure.status == .interrupted)
            let error = try #require(failure.underlying as? Bench.ReconnectError, "\(failure.underlying)")
            let address = "sim://" + role.rawValue.replacingOccurrences(of: ".", with: "-")
            #expect(error.role == role && error.timeout == .seconds(1) && error.address == address)
            #expect("\(error)".contains("\(role.rawValue) at \(address) did not come back within 1.0 seconds"), "\(error)")
            #expect((error.last as? DeviceError)?.kind == .disconnected)
            let journal = try h.db.journalEntries(failure.runId)
            #expect(journal.contains { $0.step == "instrument disconnected" } && !journal.contains { $0.step == "instrument reconnected" })
            let safe = journal.filter { $0.kind == .safeState }
            #expect(safe.contains { $0.step == "server.laser: ramp-down" && $0.detail == "ok" })
            #expect(safe.contains { $0.step == "shutter: close" && $0.detail == "ok" })
        }
        #expect(try await h.bench.laser().isEmitting() == false)
        #expect(try await h.bench.shutter().isOpen() == false)
    }
}
