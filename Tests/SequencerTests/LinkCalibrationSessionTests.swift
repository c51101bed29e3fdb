import BenchKit
import BenchSim
import Calibrate
import Foundation
import SessionProtocol
import Testing
@testable import Sequencer

/// The joint link calibration of two sites (docs/two-sites.md): each station on its half of the
/// twin, its own store and key, the session over the in-process channel.
@Suite("Joint link calibration", .serialized)
struct LinkCalibrationSessionTests {
    /// Each site calibrated alone with what it can measure alone, then the link jointly: the
    /// client's record gives its decoder what the one-table calibration (a meter carried to the
    /// client's input) gives it; each record holds its own station's part only; and the client then
    /// joins an inference session on it.
    @Test func jointCalibrationMatchesTheOneTableOne() async throws {
        var settings = CalibrationSettings()
        settings.referenceShots = 64
        let table = try BenchDescription.load(simBench)
        let port = try SimulatedBench.freeLoopbackPort()
        let serverSite = try await Bench.open(try table.site(of: .server, fiber: ("127.0.0.1", port)), registry: SimulatedBench.registry())
        let clientSite = try await Bench.open(try table.site(of: .client, fiber: ("127.0.0.1", port)), registry: SimulatedBench.registry())
        let serverStore = CalibrationStore(root: scratchDirectory().appendingPathComponent("server"), key: .generate())
        let clientStore = CalibrationStore(root: scratchDirectory().appendingPathComponent("client"), key: .generate())
        let serverKinds = try await CalibrationRunner.all(CalibrationContext(bench: serverSite, store: serverStore, settings: settings, codeVersion: "test")).map(\.kind)
        let clientKinds = try await CalibrationRunner.all(CalibrationContext(bench: clientSite, store: clientStore, settings: settings, codeVersion: "test")).map(\.kind)
        #expect(serverKinds == [.laser, .modulator, .attenuation, .homodyne, .backToBack])
        #expect(clientKinds == [.homodyne])

        var plan = LinkCalibrationSession.Plan(settings)
        plan.gain = settings.gain
        let channels = InProcessSessionChannel.pair()
        let serverEnv = StationEnvironment(bench: serverSite, store: serverStore, database: try RunDatabase(directory: scratchDirectory()), codeVersion: "test", arguments: [])
        let clientEnv = StationEnvironment(bench: clientSite, store: clientStore, database: try RunDatabase(directory: scratchDirectory()), codeVersion: "test", arguments: [])
        async let clientRecord = LinkCalibrationSession.join(env: clientEnv, channel: channels.client)
        let serverRecord = try await LinkCalibrationSession.serve(plan, env: serverEnv, client: "test-client", channel: channels.server)
        let client = try await clientRecord

        // The one-table calibration of the same twin (the store of every other Sequencer test).
        let oneTable = try await TwinFixture.shared.calibratedStore()
        let reference = try oneTable.active(bench: "sim", role: Role.link.rawValue, kind: .link)
        func value(_ r: CalibrationRecord, _ name: String) throws -> Double { try #require(r[name], "\(r.id) has no \(name)").value }
        let gain = try value(client, "client.reading-gain"), refGain = try value(reference, "client.reading-gain")
        #expect(abs(gain / refGain - 1) < 0.01, "reading gain \(gain) vs one table \(refGain)")
        let phase = try value(client, "client.lo-phase"), refPhase = try value(reference, "client.lo-phase")
        #expect(abs(remainder(phase - refPhase, 2 * Double.pi)) < 0.02, "LO phase \(phase) vs one table \(refPhase)")
        #expect(abs(try value(serverRecord, "client.gain") / value(reference, "client.gain") - 1) < 0.01)
        #expect(abs(try value(serverRecord, "client.kept-fraction") - value(reference, "client.kept-fraction")) < 0.01)
        // Each its own part: the server knows nothing of the client's readings, the client nothing
        // the server measured but the verdicts it was sent.
        #expect(serverRecord.values.keys.allSatisfy { !$0.hasPrefix("client.reading") && $0 != "client.lo-phase" })
        #expect(Set(client.values.keys) == ["client.reading-gain", "client.reading-offset", "client.lo-phase", "gain.set"])
        // The client's decoder takes it.
        let loaded = try await ClientCalibration.load(bench: clientSite, store: clientStore)
        #expect(loaded.clientReadingGain == gain)
    }

    /// A client in the wrong mode refuses before any light: an inference client offered a link
    /// calibration, a calibrating client offered an inference.
    @Test func purposeMismatchIsDeniedBeforeAnyLight() throws {
        var p = LinkCalibrationSession.Plan().parameters
        #expect(throws: RunError.self) { _ = try LinkCalibrationSession.Plan(checking: { var q = p; q.purpose = .inference; return q }()) }
        p.layers[0].modesPerRow = 392
        #expect(throws: RunError.self) { _ = try LinkCalibrationSession.Plan(checking: p) }
        #expect(throws: Never.self) { _ = try LinkCalibrationSession.Plan(checking: LinkCalibrationSession.Plan().parameters) }
    }
}
