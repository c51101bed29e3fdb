import BenchKit
import BenchSim
import Calibrate
import Foundation
import SecureInference
import Testing
@testable import Sequencer

/// The two stations' own decisions before any light: the client's data-leakage budget, the
/// server's lifetime ledger; and the session plan's edge cases.
@Suite("Stations: refusals before light", .serialized)
struct StationSessionTests {
    /// G = 2 and n = 392 leak I_x = 0.00725 bit/symbol: a client with a budget below that refuses.
    @Test(arguments: [(0.007, false), (0.0073, true)])
    func clientChecksTheOperatingPointAgainstItsPrivacyBudget(budget: Double, served: Bool) async throws {
        var h = try await Harness.make()
        var env = h.env
        env.dataLeakageBudgetBits = budget
        h = Harness(bench: h.bench, engine: h.engine, env: env, db: h.db, clientDb: h.clientDb)
        let f = TwinFixture.shared
        do {
            let r = try await ProtocolRun.start(configuration(images: 10, block: 10), model: f.model, testSet: f.testSet, env: h.env)
            #expect(served, "served above the client's budget \(budget)")
            #expect(r.images == 10)
        } catch let failure as RunFailure {
            #expect(!served, "refused within the budget: \(failure)")
            #expect("\(failure.underlying)".contains("above its budget"))
            #expect(h.engine.shotsFired == 0)
            #expect(try h.clientDb.runs().isEmpty)
            #expect(try !h.db.journalEntries(failure.runId).map(\.step).contains("warm-up"))
        }
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// A second session that could take the client beyond its lifetime budget is refused before light.
    @Test func ledgerRefusesASessionBeyondTheLifetimeBudget() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        let first = try await ProtocolRun.start(configuration(images: 10, block: 10), model: f.model, testSet: f.testSet, env: h.env)
        let held = try h.db.account(ServerStation.localClient).chargeBitsPerSymbol
        #expect(held == 10 * first.weightLeakageUpperBoundBitsPerMode)
        let planned = 0.1 * 10
        for (lifetime, served) in [(held + planned * 0.99, false), (held + planned * 1.01, true)] {
            let next = try await Harness.make(db: h.db, clientDb: h.clientDb)
            var env = next.env
            env.lifetimeBudgetBitsPerSymbol = lifetime
            do {
                _ = try await ProtocolRun.start(configuration(images: 10, block: 10), model: f.model, testSet: f.testSet, env: env)
                #expect(served, "served beyond the lifetime budget")
            } catch let failure as RunFailure {
                #expect(!served, "refused within the lifetime budget: \(failure)")
                #expect("\(failure.underlying)".contains("lifetime budget"))
                #expect(next.engine.shotsFired == 0)
            }
        }
        #expect(try h.db.accounts().first?.sessions == 2)
    }

    /// A block larger than the run is the whole run (the session plan once refused it).
    @Test func blockLargerThanTheRunIsOneBlock() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        let r = try await ProtocolRun.start(configuration(images: 10, block: 100), model: f.model, testSet: f.testSet, env: h.env)
        #expect(r.images == 10 && r.blocks == 1)
    }
}
