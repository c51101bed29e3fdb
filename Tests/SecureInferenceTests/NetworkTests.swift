import Foundation
import NumericsKit
import Testing
@testable import SecureInference

/// The repository root, from this file's location (Tests/SecureInferenceTests/…).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("MNIST files")
struct MNISTTests {
    @Test func shippedTestSetLoads() throws {
        let set = try MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"))
        #expect(set.count == 10_000)
        #expect(set.images.cols == 784)
        #expect(Array(set.labels.prefix(10)) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        #expect(set.images.values.min() == -1 && set.images.values.max() == 1)
        var histogram = [Int](repeating: 0, count: 10)
        for l in set.labels { histogram[Int(l)] += 1 }
        #expect(histogram == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    }

    @Test func shippedTrainingSetLoads() throws {
        let set = try MNISTSet.load(.train, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 10)
        #expect(set.count == 10)
        #expect(Array(set.labels) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    }

    func idx(images n: Int, rows: Int = 2, cols: Int = 2, magic: UInt8 = 3) -> [UInt8] {
        [0, 0, 8, magic] + be(n) + be(rows) + be(cols) + (0..<(n * rows * cols)).map { UInt8($0 % 256) }
    }
    func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    @Test func parsesIDXAndScalesPixels() throws {
        let set = try MNISTSet.parse(images: idx(images: 2), labels: [0, 0, 8, 1] + be(2) + [3, 9])
        #expect(set.images.rows == 2 && set.images.cols == 4)
        #expect(set.images[0, 0] == -1)
        #expect(abs(set.images[1, 3] - (7 / 127.5 - 1)) < 1e-7)
        #expect(set.labels == [3, 9])
    }

    /// The files' pixels are kept as bytes and scaled when read: every way of reading an image
    /// (the whole matrix, one image, a subset in another order) gives the same scaled values, and a
    /// set given values directly reads the same way.
    @Test func storedPixelsReadAsScaledValues() throws {
        let set = try MNISTSet.parse(images: idx(images: 3, rows: 1, cols: 3), labels: [0, 0, 8, 1] + be(3) + [4, 5, 6])
        let all = set.images
        #expect(set.pixelsPerImage == 3 && set.count == 3)
        for k in 0..<3 { #expect(set.image(k) == Array(all.row(k)), "image \(k)") }
        #expect(set.image(2) == [6, 7, 8].map { Float($0) / 127.5 - 1 })
        let picked = set.subset([2, 0])
        #expect(picked.labels == [6, 4] && picked.image(0) == set.image(2) && picked.image(1) == set.image(0))
        #expect(picked.images.values == set.image(2) + set.image(0))
        let direct = MNISTSet(images: all, labels: set.labels)
        #expect(direct.subset([2, 0]).images == picked.images && direct.image(1) == set.image(1))
    }

    @Test func malformedFilesAreRefusedWithReasons() {
        #expect(throws: MNISTSet.LoadError.self) { try MNISTSet.parse(images: idx(images: 2, magic: 1), labels: [0, 0, 8, 1] + be(2) + [3, 9]) }
        #expect(throws: MNISTSet.LoadError.self) { try MNISTSet.parse(images: idx(images: 2), labels: [0, 0, 8, 1] + be(3) + [3, 9, 1]) }
        #expect(throws: MNISTSet.LoadError.self) { try MNISTSet.parse(images: Array(idx(images: 2).dropLast()), labels: [0, 0, 8, 1] + be(2) + [3, 9]) }
        #expect(throws: MNISTSet.LoadError.self) { try MNISTSet.parse(images: idx(images: 2), labels: [0, 0, 8, 1] + be(2) + [3, 12]) }
        #expect(throws: MNISTSet.LoadError.self) { try MNISTSet.load(.test, directory: URL(fileURLWithPath: "/nonexistent")) }
    }

    @Test func corruptGzipIsRefused() throws {
        var data = try Data(contentsOf: repositoryRoot.appendingPathComponent("Data/mnist/t10k-labels-idx1-ubyte.gz"))
        data[data.count / 2] ^= 0xFF
        #expect(throws: GunzipError.self) { try gunzip(data, name: "t10k-labels") }
        #expect(throws: GunzipError.self) { try gunzip(data.prefix(100), name: "truncated") }
    }
}

@Suite("Model file format")
struct ModelFileTests {
    func tiny() -> MNISTNetwork { MNISTNetwork.initialised(sizes: [6, 5, 3], seed: 4) }

    @Test func roundTripsExactly() throws {
        let file = ModelFile(network: tiny(), training: Trainer.Configuration(), history: nil, testDigitalAccuracy: 0.5, codeVersion: "test")
        let decoded = try ModelFile.decode(try file.encoded())
        #expect(decoded.network == file.network)
        #expect(decoded.header == file.header)
        #expect(decoded.modelID == file.modelID)
        #expect(decoded.header.architecture == [6, 5, 3])
    }

    @Test func corruptionIsDetected() throws {
        let data = try ModelFile(network: tiny(), training: nil, history: nil, testDigitalAccuracy: nil, codeVersion: "t").encoded()
        var flipped = data; flipped[data.count - 3] ^= 0x01
        #expect(throws: ModelFile.FormatError.self) { try ModelFile.decode(flipped) }
        #expect(throws: ModelFile.FormatError.self) { try ModelFile.decode(data.dropLast(4)) }
        #expect(throws: ModelFile.FormatError.self) { try ModelFile.decode(data + Data([0])) }
        var magic = data; magic[0] = 0x58
        #expect(throws: ModelFile.FormatError.self) { try ModelFile.decode(magic) }
        var version = data; version[4] = 2
        do { _ = try ModelFile.decode(version); Issue.record("version 2 accepted") } catch {
            #expect("\(error)".contains("format version 2"))
        }
    }
}

@Suite("Training")
struct TrainingTests {
    func batch(seed: UInt64) -> MNISTSet {
        var rng = Xoshiro256(seed: seed)
        let images = Matrix(rows: 8, cols: 6, values: (0..<48).map { _ in Float(rng.nextUnit() * 2 - 1) })
        return MNISTSet(images: images, labels: (0..<8).map { UInt8($0 % 3) })
    }

    /// Analytic gradients (through the row normalisations, the ReLU and the noise scale) against
    /// central finite differences of the same loss with the same noise draws.
    @Test(arguments: [0.0, 4.0])
    func gradientsMatchFiniteDifferences(snr: Double) throws {
        let trainer = Trainer(configuration: Trainer.Configuration())
        var net = MNISTNetwork.initialised(sizes: [6, 5, 3], seed: 2)
        for k in net.layers.indices { for i in net.layers[k].values.indices { net.layers[k].values[i] *= 3 } }
        let data = batch(seed: 3)
        let sampler = Gaussian.Sampler()
        func loss(_ n: MNISTNetwork) -> Double {
            var rng = Xoshiro256(seed: 11); var g: [Matrix] = []
            return trainer.lossAndGradients(n, data, snr: snr, sampler: sampler, rng: &rng, into: &g)
        }
        var rng = Xoshiro256(seed: 11)
        var grads: [Matrix] = []
        _ = trainer.lossAndGradients(net, data, snr: snr, sampler: sampler, rng: &rng, into: &grads)
        let h: Float = 1e-2
        var checked = 0
        for k in net.layers.indices {
            for i in stride(from: 0, to: net.layers[k].values.count, by: 3) {
                var up = net, down = net
                up.layers[k].values[i] += h; down.layers[k].values[i] -= h
                let numeric = (loss(up) - loss(down)) / Double(2 * h)
                let analytic = Double(grads[k].values[i])
                #expect(abs(numeric - analytic) < 2e-3 + 0.02 * abs(numeric), "layer \(k) weight \(i): \(analytic) vs \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 10)
    }
}

@Suite("Shipped model")
struct ShippedModelTests {
    /// The model in Models/ is what the main job serves: its digital accuracy on the 10,000 test
    /// images must stay ≥ 97.8 % and its secure-inference accuracy at G = 2, μ = 4 ≥ 96 %.
    @Test func shippedModelMeetsItsAccuracyTargets() throws {
        let model = try ModelFile.read(from: repositoryRoot.appendingPathComponent("Models/mnist-784-784-10.qbm"))
        #expect(model.header.architecture == MNISTNetwork.architecture)
        #expect(model.network.modesPerImage == 311_248)
        #expect(model.network.innerProductsPerImage == 794)
        let test = try MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"))
        let digital = MNISTNetwork.accuracy(MNISTNetwork.predictions(model.network.logits(test.images)), labels: test.labels)
        #expect(digital >= 0.978)
        let noise = try ProtocolNoiseModel(amplifier: try ClientAmplifier(gain: 2), photonsPerMode: 4)
        let result = try InferenceSimulation(network: model.network, noise: noise).run(test, seed: 42)
        #expect(result.accuracy >= 0.96)
        #expect(result.digitalCorrect == Int((digital * 10_000).rounded()))
    }

    /// The chunked simulation does not depend on chunk size for the noise-free part and is
    /// reproducible for a seed.
    @Test func simulationIsReproducible() throws {
        let net = MNISTNetwork.initialised(seed: 5)
        let test = try MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 300)
        let noise = try ProtocolNoiseModel(amplifier: try ClientAmplifier(gain: 2), photonsPerMode: 4)
        var sim = InferenceSimulation(network: net, noise: noise)
        sim.chunkSize = 100
        let a = try sim.run(test, seed: 7), b = try sim.run(test, seed: 7), c = try sim.run(test, seed: 8)
        #expect(a == b)
        #expect(a.digitalCorrect == c.digitalCorrect)
    }
}
