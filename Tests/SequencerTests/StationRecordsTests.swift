import BenchKit
import Foundation
import SecureInference
import Testing
@testable import Sequencer

/// Issue 9's records: each station's database holds only its party's knowledge. The server's has
/// no images, labels, readings, predictions or accuracy; the client's has no weights, returned
/// samples or basis. The scan looks for the bytes themselves, in every file of each database.
@Suite("Station records", .serialized)
struct StationRecordsTests {
    /// Every byte of a database: the main file and its journal/WAL companions.
    static func bytes(of db: RunDatabase) throws -> Data {
        let dir = db.url.deletingLastPathComponent()
        var all = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix(db.url.lastPathComponent) {
            all.append(try Data(contentsOf: dir.appendingPathComponent(name)))
        }
        return all
    }

    static func floatBytes(_ values: ArraySlice<Float>) -> Data {
        var d = Data()
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        return d
    }

    /// Distinctive pieces of the first `images` test images: the idx bytes and the Float32 values of
    /// each image's middle rows (where the digit is), 28 pixels each.
    static func imageNeedles(_ set: MNISTSet, images: Int) -> [Data] {
        (0..<images).flatMap { k -> [Data] in
            let row = set.image(k)
            return [12, 14, 16].flatMap { r -> [Data] in
                let pixels = row[(row.startIndex + r * 28)..<(row.startIndex + (r + 1) * 28)]
                return [Data(pixels.map { UInt8(max(0, min(255, (($0 + 1) * 127.5).rounded()))) }), floatBytes(pixels)]
            }.filter { Set($0).count > 2 }  // an all-background row says nothing
        }
    }

    /// Windows of 16 weights (64 bytes) at several places of every layer.
    static func weightNeedles(_ model: ModelFile) -> [Data] {
        model.network.layers.flatMap { w in
            stride(from: 0, to: w.values.count - 16, by: max(16, w.values.count / 12)).map { floatBytes(w.values[$0..<($0 + 16)]) }
        }
    }

    @Test func neitherDatabaseHoldsTheOtherPartysSecrets() async throws {
        let h = try await Harness.make()
        let f = TwinFixture.shared
        var c = configuration(images: 20, block: 10)
        c.keepRawSamples = true  // the server keeps returned samples: its own data, in its own records
        c.rawSampleLimit = 200_000
        let r = try await ProtocolRun.start(c, model: f.model, testSet: f.testSet, env: h.env)
        let server = try Self.bytes(of: h.db), client = try Self.bytes(of: h.clientDb)
        let images = Self.imageNeedles(f.testSet, images: 20), weights = Self.weightNeedles(f.model)
        #expect(images.count >= 40 && weights.count >= 20)
        #expect(images.allSatisfy { server.range(of: $0) == nil }, "image bytes in the server's database")
        #expect(weights.allSatisfy { client.range(of: $0) == nil }, "weight bytes in the client's database")
        // Nor the other side's derived knowledge.
        #expect(try h.db.blocks(r.runId).allSatisfy { $0.accuracy == nil && $0.correct == nil })
        #expect(try h.db.run(r.runId).result?.accuracy == nil)
        #expect(try h.db.run(r.runId).configuration.dataDirectory.isEmpty)
        #expect(try h.clientDb.run(r.runId).configuration.modelFile.isEmpty)
        #expect(try h.clientDb.rawSampleCount(r.runId) == 0)
        #expect(try h.clientDb.checkpoints(r.runId).allSatisfy { String(decoding: $0, as: UTF8.self).contains("basis") == false })
        // The server's report says the accuracy is the client's.
        let report = try RunReport(database: h.db, runId: r.runId).html
        #expect(report.contains("known to the client only"))
    }

    /// The scan can see a leak: the same needles stored on purpose are found.
    @Test func theScanFindsPlantedBytes() async throws {
        let db = try RunDatabase(directory: scratchDirectory())
        let f = TwinFixture.shared
        let id = RunDatabase.newRunID()
        try db.createRun(id: id, configuration: configuration(images: 1, block: 1), bench: "scan", benchSnapshot: nil, calibrationIds: [],
                         modelId: "m", codeVersion: "test", arguments: [])
        let image = f.testSet.image(3), weights = Array(f.model.network.layers[1].values.prefix(2_000))
        try db.saveRawSamples(id, blockIndex: 0, kind: "planted", samples: image + weights)
        let bytes = try StationRecordsTests.bytes(of: db)
        #expect(Self.imageNeedles(f.testSet, images: 4).contains { bytes.range(of: $0) != nil })
        #expect(Self.weightNeedles(f.model).contains { bytes.range(of: $0) != nil })
    }
}
