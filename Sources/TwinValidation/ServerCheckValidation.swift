import BenchKit
import BenchSim
import Calibrate
import Foundation
import SecureInference
import Sequencer

/// The server's check on the twin: honest and cheating clients over many seeds of the bench's
/// hidden constants and noise, each on a freshly calibrated twin. For tests and benchmarks only.
public enum ServerCheckValidation {
    public struct Trial: Sendable, Codable {
        public let seed: UInt64
        public let client: String
        public let images: Int
        public let aborted: Bool
        /// Block (0-based) and images served when the run was aborted.
        public let abortBlock: Int?
        public let imagesAtAbort: Int?
        public let certified: Bool
        /// Returned modes measured when the upper bound first fell within the budget.
        public let firstCertifiedAtModes: Int?
        /// Images served when the bound first held.
        public let imagesAtFirstCertified: Int?
        public let accuracy: Double
        public let transmittance: Double
        public let excessNoise: Double
        public let weightLeakageUpperBound: Double
        public let seconds: Double
    }

    public struct Summary: Sendable, Codable {
        public struct PerClient: Sendable, Codable {
            public let client: String
            public let runs: Int
            public let aborted: Int
            public let certified: Int
            public let meanImagesAtAbort: Double?
            public let maxImagesAtAbort: Int?
            public let meanFirstCertifiedAtModes: Double?
            public let maxFirstCertifiedAtModes: Int?
            public let meanAccuracy: Double
            public let meanExcessNoise: Double
        }
        public let seeds: Int
        public let imagesPerRun: Int
        public let blockImages: Int
        public let cores: Int
        public let clients: [PerClient]
        public let trials: [Trial]
    }

    /// Runs every client on a twin reseeded with `seed`, calibrated once.
    public static func run(benchFile: URL, seed: UInt64, clients: [ClientBehaviour], images: Int, blockImages: Int,
                           model: ModelFile, testSet: MNISTSet) async throws -> [Trial] {
        let text = CalibrationValidation.reseed(try String(contentsOf: benchFile, encoding: .utf8), seed: seed)
        let description = try BenchDescription.parse(text, file: benchFile.path)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-check-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let store = CalibrationStore(root: scratch.appendingPathComponent("Calibration"), key: .generate())
        let calibrationBench = try await Bench.open(description, registry: SimulatedBench.registry())
        _ = try await CalibrationRunner.all(CalibrationContext(bench: calibrationBench, store: store, codeVersion: "validation"))
        let db = try RunDatabase(directory: scratch)
        let clientDB = try RunDatabase(directory: scratch.appendingPathComponent("client"))
        var trials: [Trial] = []
        for client in clients {
            let bench = try await Bench.open(description, registry: SimulatedBench.registry())
            try await SimulatedBench.engine(of: bench).setClientBehaviour(client)
            let env = RunEnvironment(bench: bench, store: store, database: db, clientDatabase: clientDB, codeVersion: "validation", arguments: [])
            let config = RunConfiguration(benchFile: benchFile.path, modelFile: model.modelID, dataDirectory: "", images: images,
                                          blockImages: blockImages, client: client.description, vacuumSlotsPerRow: 392)
            let started = Date()
            let r = try await ProtocolRun.start(config, model: model, testSet: testSet, env: env)
            let blocks = try db.blocks(r.runId)
            let abortBlock = blocks.first { $0.decision == LeakageCheck.Decision.abort.rawValue }
            let firstCertified = blocks.first { $0.decision == LeakageCheck.Decision.certified.rawValue }
            trials.append(Trial(seed: seed, client: client.description, images: r.images, aborted: r.aborted,
                                abortBlock: abortBlock?.blockIndex, imagesAtAbort: abortBlock?.imagesDone, certified: r.certified,
                                firstCertifiedAtModes: firstCertified?.modes, imagesAtFirstCertified: firstCertified?.imagesDone, accuracy: r.accuracy ?? .nan, transmittance: r.transmittanceEstimate,
                                excessNoise: r.excessNoiseEstimate, weightLeakageUpperBound: r.weightLeakageUpperBoundBitsPerMode,
                                seconds: Date().timeIntervalSince(started)))
        }
        return trials
    }

    /// `run` for seeds 1…`seeds`, calling `progress` after each.
    public static func run(benchFile: URL, seeds: Int, clients: [ClientBehaviour], images: Int, blockImages: Int,
                           model: ModelFile, testSet: MNISTSet, progress: (Int) -> Void = { _ in }) async throws -> [Trial] {
        var trials: [Trial] = []
        for s in 1...max(1, seeds) {
            trials += try await run(benchFile: benchFile, seed: UInt64(s), clients: clients, images: images, blockImages: blockImages,
                                    model: model, testSet: testSet)
            progress(s)
        }
        return trials
    }

    public static func summarise(_ trials: [Trial], seeds: Int, images: Int, blockImages: Int, cores: Int) -> Summary {
        let clients = trials.map(\.client).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return Summary(seeds: seeds, imagesPerRun: images, blockImages: blockImages, cores: cores, clients: clients.map { c in
            let ts = trials.filter { $0.client == c }
            let aborts = ts.compactMap(\.imagesAtAbort), certs = ts.compactMap(\.firstCertifiedAtModes)
            return .init(client: c, runs: ts.count, aborted: ts.filter(\.aborted).count, certified: ts.filter(\.certified).count,
                         meanImagesAtAbort: aborts.isEmpty ? nil : Double(aborts.reduce(0, +)) / Double(aborts.count), maxImagesAtAbort: aborts.max(),
                         meanFirstCertifiedAtModes: certs.isEmpty ? nil : Double(certs.reduce(0, +)) / Double(certs.count), maxFirstCertifiedAtModes: certs.max(),
                         meanAccuracy: ts.map(\.accuracy).reduce(0, +) / Double(max(1, ts.count)),
                         meanExcessNoise: ts.map(\.excessNoise).reduce(0, +) / Double(max(1, ts.count)))
        }, trials: trials)
    }
}
