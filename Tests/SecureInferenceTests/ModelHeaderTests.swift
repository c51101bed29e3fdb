import Foundation
import NumericsKit
import Testing
@testable import SecureInference

@Suite("Model header: recipe, noise curve, provenance")
struct ModelHeaderTests {
    func tiny() -> MNISTNetwork { MNISTNetwork.initialised(sizes: [6, 5, 3], seed: 4) }

    @Test(arguments: [TrainingRecipe.normalised, .plain])
    func newKeysRoundTrip(recipe: TrainingRecipe) throws {
        var config = Trainer.Configuration()
        config.recipe = recipe
        config.trainingSNR = recipe == .plain ? 0 : 0.6
        config.noiseSchedule = recipe == .plain ? .constant : .curriculum(startSNR: 4, epochs: 5)
        config.selectionSNR = 0.6
        let curve = NoiseCurve(gain: 2, images: 100, seeds: [1, 2, 3],
                               points: [.init(inferenceSNR: 0.5, photonsPerMode: 0.5, accuracies: [0.9, 0.92, 0.91])], digitalAccuracy: 0.97)
        let history = [Trainer.EpochReport(epoch: 1, loss: 0.3, validationAccuracy: 0.9, validationNoisyAccuracy: 0.8, seconds: 2, trainingSNR: 4)]
        let file = ModelFile(network: tiny(), training: config, history: history, testDigitalAccuracy: 0.97, codeVersion: "test",
                             noiseCurve: curve, trainingSeconds: 12.5, trainingCores: 2, provenance: "unit test")
        let decoded = try ModelFile.decode(try file.encoded())
        #expect(decoded.header == file.header)
        #expect(decoded.header.training?.recipe == recipe)
        #expect(decoded.header.training?.noiseSchedule == config.noiseSchedule)
        #expect(decoded.header.noiseCurve?.points.first?.accuracies == [0.9, 0.92, 0.91])
        #expect(decoded.header.provenance == "unit test")
        #expect(decoded.network == file.network)
    }

    /// A version-1 file written before recipes and noise curves existed (header JSON as the
    /// old writer produced it) still loads: normalised recipe, constant noise, no curve.
    @Test func oldHeaderWithoutTheNewKeysLoads() throws {
        let network = tiny()
        let oldHeader = """
            {"architecture":[6,5,3],"codeVersion":"0.1.0+old","createdAt":"2026-11-24T21:09:15Z","formatVersion":1,
             "history":[{"epoch":1,"loss":0.9,"seconds":3.9,"validationAccuracy":0.91,"validationNoisyAccuracy":0.90}],
             "layers":[{"cols":6,"rows":5},{"cols":5,"rows":3}],"preprocessing":"old",
             "testDigitalAccuracy":0.98,
             "training":{"batchSize":128,"epochs":30,"finalLearningRateFraction":0.05,"learningRate":0.001,"seed":1,"trainingSNR":4,"validationImages":5000},
             "weightsCRC32":"\(ModelFile.checksum(network))"}
            """
        let json = Data(oldHeader.utf8)
        var data = Data(ModelFile.magic)
        withUnsafeBytes(of: UInt32(1).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(contentsOf: ModelFile.weightBytes(network))
        let file = try ModelFile.decode(data)
        #expect(file.network == network)
        #expect(file.header.training?.recipe == .normalised)
        #expect(file.header.training?.noiseSchedule == .constant)
        #expect(file.header.training?.selectionSNR == nil)
        #expect(file.header.training?.effectiveSelectionSNR == 4)
        #expect(file.header.history?.first?.trainingSNR == nil)
        #expect(file.header.noiseCurve == nil && file.header.provenance == nil && file.header.trainingSeconds == nil)
    }

    /// The shipped model predates the new keys and must still load.
    @Test func shippedModelStillLoads() throws {
        let file = try ModelFile.read(from: repositoryRoot.appendingPathComponent("Models/mnist-784-784-10.qbm"))
        #expect(file.header.training?.recipe == .normalised)
        #expect(file.header.architecture == MNISTNetwork.architecture)
    }

    @Test func noiseCurvePointStatistics() {
        let p = NoiseCurve.Point(inferenceSNR: 1, photonsPerMode: 1, accuracies: [0.90, 0.92, 0.94])
        #expect(abs(p.mean - 0.92) < 1e-12)
        #expect(abs(p.standardDeviation - 0.02) < 1e-12)
        #expect(abs(p.halfRange - 0.02) < 1e-12)
        #expect(NoiseCurve.Point(inferenceSNR: 1, photonsPerMode: 1, accuracies: [0.5]).standardDeviation == 0)
    }

    /// At a huge F the measured curve equals the noise-free accuracy (on images whose top two
    /// logits are well apart, so the tiny noise cannot swap them); μ = F / 2f(G).
    @Test func measuredCurveApproachesDigitalAccuracy() throws {
        var rng = Xoshiro256(seed: 9)
        let all = Matrix(rows: 200, cols: 6, values: (0..<1200).map { _ in Float(rng.nextUnit() * 2 - 1) })
        let logits = tiny().logits(all)
        let kept = (0..<all.rows).filter { r in
            let v = Array(logits.row(r)).sorted(by: >)
            return v[0] - v[1] > 1e-2
        }
        var values: [Float] = []
        for r in kept { values += all.row(r) }
        let images = Matrix(rows: kept.count, cols: 6, values: values)
        let predictions = MNISTNetwork.predictions(tiny().logits(images))
        // Labels: the network's own answer for even rows, another class for odd rows.
        let labels = predictions.enumerated().map { i, p in UInt8(i % 2 == 0 ? p : (p + 1) % 3) }
        let set = MNISTSet(images: images, labels: labels)
        #expect(kept.count > 40)
        let curve = try NoiseCurve.measure(tiny(), on: set, snrs: [1e9, 1], seeds: [1, 2], gain: 2)
        #expect(curve.points.count == 2 && curve.points[0].accuracies.count == 2)
        #expect(curve.points[0].mean == curve.digitalAccuracy)
        #expect(abs(curve.points[1].photonsPerMode - 1) < 1e-12)   // f(2) = 1/2
        #expect(throws: ProtocolDomainError.self) { try NoiseCurve.measure(tiny(), on: set, snrs: [0], seeds: [1]) }
    }
}
