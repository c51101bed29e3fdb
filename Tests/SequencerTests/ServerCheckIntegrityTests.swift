import BenchKit
import BenchSim
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import Testing
@testable import Sequencer

/// A bench file like sim.yaml with some lines of its `simulation:` section replaced (same name and
/// seed, so the shared calibration applies: "the bench changed after it was calibrated").
func variantBench(_ replacements: [(String, String)]) throws -> URL {
    var text = try String(contentsOf: simBench, encoding: .utf8)
    for (old, new) in replacements {
        guard text.contains(old) else { throw CocoaError(.fileReadCorruptFile) }
        text = text.replacingOccurrences(of: old, with: new)
    }
    let url = scratchDirectory().appendingPathComponent("sim.yaml")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// Issue 10: each defect reproduced through the whole run on the twin, and the end-to-end test
/// sized so that the shifts which break the budget (PROTOCOL.md §5b) fail it.
@Suite("The server's check on the twin: integrity", .serialized)
struct ServerCheckIntegrityTests {
    /// Defect 10.2: an all-equal model gave T̂ = inf and an honest run "certified after 10 images".
    @Test func degenerateModelIsRefusedBeforeLight() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        let constant = MNISTNetwork(layers: f.model.network.layers.map { Matrix(rows: $0.rows, cols: $0.cols, repeating: 0.01) })
        let model = ModelFile(network: constant, training: nil, history: nil, testDigitalAccuracy: nil, codeVersion: "test")
        await #expect(throws: RunError.self) {
            try await ProtocolRun.start(configuration(images: 10, block: 10), model: model, testSet: f.testSet, env: h.env)
        }
        #expect(try h.db.runs().isEmpty)
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// Defect 10.4: δ and the budget were not validated (δ = 0.5 certified after 10 images, a
    /// budget of inf certified, NaN never decided, δ of 0/1/NaN crashed after the first block).
    /// Every option is refused before a run record exists or light is emitted.
    @Test(arguments: [
        ("delta", 0.5), ("delta", 0), ("delta", 1), ("delta", .nan), ("budget", .infinity), ("budget", .nan),
        ("budget", -1), ("budget", 0.05), ("gain", 1), ("gain", .nan), ("photons", 0), ("photons", .infinity),
        ("vacuum", -1), ("vacuum", 0), ("vacuum", 1e7), ("images", 0), ("images", 500), ("block", 0), ("block", 1e6),
    ])
    func invalidOptionsAreRefusedBeforeLight(option: String, value: Double) async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        var c = configuration(images: 20, block: 10)
        switch option {
        case "delta": c.delta = value
        case "budget": c.budgetBitsPerMode = value
        case "gain": c.gain = value
        case "photons": c.photonsPerMode = value
        case "vacuum": c.vacuumSlotsPerRow = Int(value)
        case "images": c.images = Int(value)
        default: c.blockImages = Int(value)
        }
        do {
            _ = try await ProtocolRun.start(c, model: f.model, testSet: f.testSet, env: h.env)
            Issue.record("\(option) = \(value) was accepted")
        } catch let RunError.invalidOption(name, _, expected) {
            #expect(name.hasPrefix("--"), "\(name): \(expected)")
        }
        #expect(try h.db.runs().isEmpty)
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// Defect 10.6: an abort journaled before the status was written let `--resume` serve the
    /// aborted client another block. The decision and the status are now one transaction, and a
    /// journal holding an abort refuses any resume (here the status is set back by hand, as an
    /// older qbench killed in that window would have left it).
    @Test func abortIsFinal() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        try h.engine.setClientBehaviour(.greedyTap(keptFraction: 0.75))
        let aborted = try await ProtocolRun.start(configuration(images: 20, block: 10), model: f.model, testSet: f.testSet, env: h.env)
        #expect(aborted.aborted)
        let run = try #require(try h.db.runs().first)
        #expect(run.status == .aborted)
        #expect(try h.db.abortDecision(run.id) != nil)
        try h.db.setStatus(run.id, .running)
        let again = try await Harness.make(db: h.db, clientDb: h.clientDb)
        do {
            _ = try await ProtocolRun.resume(runId: run.id, model: f.model, testSet: f.testSet, env: again.env)
            Issue.record("an aborted session was resumed")
        } catch let RunError.notResumable(why) {
            #expect(why.contains("never serves again"))
        }
        #expect(try h.db.run(run.id).status == .aborted)
        #expect(try h.db.blocks(run.id).count == 1)
    }

    /// Defect 10.6: a run killed right after its last block resumed to `completed` with NaN
    /// estimates and `certified = false`. It resumes to the result it had.
    @Test func runKilledAfterItsLastBlockResumesToTheSameResult() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        let first = try await ProtocolRun.start(configuration(images: 20, block: 10), model: f.model, testSet: f.testSet, env: h.env)
        try h.db.setStatus(first.runId, .running)
        let again = try await Harness.make(db: h.db, clientDb: h.clientDb)
        let resumed = try await ProtocolRun.resume(runId: first.runId, model: f.model, testSet: f.testSet, env: again.env)
        #expect(resumed.transmittanceEstimate.isFinite && resumed.excessNoiseEstimate.isFinite)
        #expect(resumed.transmittanceEstimate == first.transmittanceEstimate)
        #expect(resumed.excessNoiseEstimate == first.excessNoiseEstimate)
        #expect(resumed.weightLeakageUpperBoundBitsPerMode == first.weightLeakageUpperBoundBitsPerMode)
        #expect(resumed.certified == first.certified && resumed.accuracy == first.accuracy && resumed.modes == first.modes)
    }

    /// Defect 10.5: with the server's digitiser clipping, intercept-resend (3.1 bit/mode) showed
    /// ε̂ ≈ 0 and was served 1,000 images. Here the receiver's full scale is cut to ±0.1 V after
    /// calibration: the clipped samples are counted, nothing certifies, and the session stops.
    @Test(arguments: ["honest", "intercept-resend"])
    func saturatedReceiverNeverCertifiesAndStops(client: String) async throws {
        let bench = try variantBench([("    bits: 14\n    range: 2 V", "    bits: 14\n    range: 0.1 V")])
        let h = try await Harness.make(benchFile: bench)
        let f = TwinFixture.shared
        if let b = ClientBehaviour(argument: client), b != .honest { try h.engine.setClientBehaviour(b) }
        do {
            let r = try await ProtocolRun.start(configuration(images: 40, block: 10, client: client), model: f.model, testSet: f.testSet, env: h.env)
            Issue.record("a saturated session ended \(r.certified ? "certified" : "normally")")
        } catch let failure as RunFailure {
            #expect(!failure.result.certified)
            #expect("\(failure.underlying)".contains("saturated"))
            #expect(failure.result.images <= 10)
        }
        #expect(try await h.bench.laser().isEmitting() == false)
    }

    /// Defect 10.1: the X/P basis came from xoshiro seeded with a CLI flag stored in the run
    /// database. Now each session draws a 256-bit key from the system CSPRNG; the record holds it
    /// only sealed with the station key, bound to the run id.
    @Test func basisIsFreshSecretAndSealedPerSession() throws {
        let station = StationKey.generate()
        let a = SecretBasis.fresh(.secret), b = SecretBasis.fresh(.secret)
        let layout = FrameLayout(rows: 64, modesPerRow: 392, vacuumSlotsPerRow: 392)
        var ga = a.generator(stream: 0), gb = b.generator(stream: 0)
        let pa = MeasurementFrame.randomPattern(layout: layout, shots: 1, rng: &ga)
        let pb = MeasurementFrame.randomPattern(layout: layout, shots: 1, rng: &gb)
        let signal = pa.indices.filter { pa[$0] != .vacuum }
        let agree = signal.filter { pa[$0] == pb[$0] }.count
        let xs = signal.filter { pa[$0] == .x }.count
        // Two sessions' bases are independent fair coins: agreement and X share near one half.
        #expect(abs(Double(agree) / Double(signal.count) - 0.5) < 0.01)
        #expect(abs(Double(xs) / Double(signal.count) - 0.5) < 0.01)
        let sealed = try a.sealed(with: station, runId: "r1")
        #expect(sealed.testSeed == nil && sealed.sealedKey != nil)
        // Reopened on the same station for the same run: the same basis (resume).
        var gr = try SecretBasis.open(sealed, with: station, runId: "r1").generator(stream: 0)
        #expect(MeasurementFrame.randomPattern(layout: layout, shots: 1, rng: &gr) == pa)
        // Another station, or the sealed key moved to another run: refused.
        #expect(throws: (any Error).self) { try SecretBasis.open(sealed, with: .generate(), runId: "r1") }
        #expect(throws: (any Error).self) { try SecretBasis.open(sealed, with: station, runId: "r2") }
    }

    /// A run with the production basis keeps no basis secret in the clear: the run's checkpoint
    /// carries only the sealed key, and a second run draws another one.
    @Test func productionRunsRecordOnlySealedBases() async throws {
        let h = try await Harness.make(basis: .secret)
        let f = TwinFixture.shared
        let r1 = try await ProtocolRun.start(configuration(images: 10, block: 10), model: f.model, testSet: f.testSet, env: h.env)
        let r2 = try await ProtocolRun.start(configuration(images: 10, block: 10), model: f.model, testSet: f.testSet, env: h.env)
        var keys: [Data] = []
        for r in [r1, r2] {
            let saved = try #require(try h.db.latestCheckpoint(r.runId))
            let c = try RunDatabase.decoder.decode(ServerCheckpoint.self, from: saved.data)
            let sealed = try #require(c.basis)
            #expect(sealed.testSeed == nil)
            keys.append(try #require(sealed.sealedKey))
            _ = try SecretBasis.open(sealed, with: h.env.store.key, runId: r.runId)
        }
        #expect(keys[0] != keys[1])
        // No accuracy comparison: the basis is the server's alone and never reaches the client's
        // decoding, and the two sessions' shots carry different noise, so a borderline image of
        // ten may go either way (accuracy at scale: ProtocolRunTests).
    }
}

/// The end-to-end check at certification scale (3.1e8 modes, 1,000 images, deterministic test
/// basis): T̂ and ε̂ of the honest lossless twin must sit within 3e-4 of the truth (T = 1,
/// ε = g/n + the transmitter's 1.4e-5 SNU). The estimator's own standard errors at this size are
/// 0.9e-4 (T̂) and 1.3e-4 (ε̂), so the shifts that break the budget (PROTOCOL.md §5b: ε̂ ± 5e-4
/// SNU, T̂ × 0.9995) fail it; `scripts/mutations.sh` applies them to the source and shows that
/// they do.
@Suite("The server's check on the twin: sensitivity", .serialized)
struct ServerCheckSensitivityTests {
    @Test func honestEstimatesAreResolvedAtCertificationScale() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        let testSet = try MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 1_000)
        let r = try await ProtocolRun.start(configuration(images: 1_000, block: 250), model: f.model, testSet: testSet, env: h.env)
        let blocks = try h.db.blocks(r.runId)
        let last = try #require(blocks.last)
        #expect(r.modes == 1_000 * 311_248)
        print("3.1e8-mode honest run: T̂ = \(r.transmittanceEstimate) ± \(last.transmittanceStandardError), ε̂ = \(r.excessNoiseEstimate) ± \(last.excessNoiseStandardError)")
        #expect(last.excessNoiseStandardError < 1.5e-4 && last.transmittanceStandardError < 1.1e-4, "the test is sized for σ(ε̂) ≈ 1.3e-4, σ(T̂) ≈ 0.9e-4")
        let honest = 1.0 / 392 + 1.4e-5
        #expect(abs(r.excessNoiseEstimate - honest) < 3e-4, "ε̂ = \(r.excessNoiseEstimate), honest \(honest)")
        #expect(abs(r.transmittanceEstimate - 1) < 3e-4, "T̂ = \(r.transmittanceEstimate)")
        #expect(!r.aborted)
    }
}

/// The marginal attacks of issue 10, through the whole run on the twin, over two independent bases:
/// each is aborted within an image count sized from its measured abort times, not from a lucky
/// realisation (docs/server-check.md, "Sizing the abort tests"). The abort happens once
/// (Î − b)·√N exceeds the confidence half-width, so √N at abort spreads about its median by a
/// fixed fraction per standard normal quantile; fitted to the measured times, the count below
/// leaves a cheater served past it with probability below 1e-4 per run.
/// - over-amplify:4: aborted after 300–1,400 images in 23 of 23 measured sessions; tested at 3,000.
/// - greedy-tap:0.55: aborted after 2,200, 3,100, 3,900, 4,100, 4,200 and 5,300 images in six
///   sessions (median ≈ 4,000; √N ≈ (0.98 + 0.15 q)·√4,000 at quantile q); tested at 10,000
///   (q ≈ 4), the whole test set. At 3,000 it was aborted in only 2 of the 6.
@Suite("The server's check on the twin: marginal attacks", .serialized)
struct MarginalAttackTests {
    static let testSet = try! MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 10_000)

    /// Over-amplification to G' = 4 (ε = 3.8e-3 SNU, true I_w = 0.122 bit/mode against a 0.1
    /// budget), and a greedy tap keeping 55 % instead of 50 % (mode 1 returns T = 0.9; the
    /// data-dependent deficit shows at the server as a small loss plus excess noise, true I_w 0.127).
    @Test(arguments: [("over-amplify:4", 11 as UInt64, 3_000), ("over-amplify:4", 12, 3_000),
                      ("greedy-tap:0.55", 11, 10_000), ("greedy-tap:0.55", 12, 10_000)])
    func marginalAttackIsAborted(client: String, seed: UInt64, images: Int) async throws {
        let h = try await Harness.make(basis: .deterministicForTests(seed: seed))
        try h.engine.setClientBehaviour(try #require(ClientBehaviour(argument: client)))
        let r = try await ProtocolRun.start(configuration(images: images, block: 100, client: client),
                                            model: TwinFixture.shared.model, testSet: Self.testSet, env: h.env)
        print("\(client), basis \(seed): aborted \(r.aborted) after \(r.images) images, T̂ \(r.transmittanceEstimate), ε̂ \(r.excessNoiseEstimate)")
        #expect(r.aborted && !r.certified, "served \(r.images) of \(images) images")
    }

    /// The honest client over the same 2,000 images certifies within 0.12 bit/mode (its true
    /// I_w is 0.0874; the bound needs ≈ 1e10 modes to come within 0.1 at δ = 1e-6).
    @Test func honestClientCertifies() async throws {
        let h = try await Harness.make()
        var c = configuration(images: 2_000, block: 250)
        c.budgetBitsPerMode = 0.12
        let r = try await ProtocolRun.start(c, model: TwinFixture.shared.model, testSet: Self.testSet, env: h.env)
        print("honest, 2000 images: certified \(r.certified), I_w ≤ \(r.weightLeakageUpperBoundBitsPerMode)")
        #expect(r.certified && !r.aborted)
    }
}
