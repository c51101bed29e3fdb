import Foundation
import NumericsKit
import Testing
@testable import SecureInference

@Suite("Training recipes and options")
struct TrainingRecipeTests {
    @Test(arguments: [("normalised", TrainingRecipe.normalised), ("plain", .plain), ("Plain", .plain), ("NORMALISED", .normalised)])
    func recipeArgumentsParse(argument: String, expected: TrainingRecipe) throws {
        #expect(try TrainingRecipe(argument: argument) == expected)
    }

    @Test(arguments: ["normalized-ish", "", "noisy", "authors"])
    func unknownRecipesAreRefusedWithTheChoices(argument: String) {
        #expect(throws: Trainer.ConfigurationError.badRecipe(argument)) { try TrainingRecipe(argument: argument) }
        #expect(Trainer.ConfigurationError.badRecipe(argument).description.contains("normalised or plain"))
    }

    @Test(arguments: [("constant", NoiseSchedule.constant), ("curriculum:8:10", .curriculum(startSNR: 8, epochs: 10)),
                      ("curriculum:0.5:2", .curriculum(startSNR: 0.5, epochs: 2))])
    func schedulesParse(argument: String, expected: NoiseSchedule) throws {
        let schedule = try NoiseSchedule(argument: argument)
        #expect(schedule == expected)
        #expect(try NoiseSchedule(argument: schedule.description) == schedule)
    }

    @Test(arguments: ["curriculum:8", "curriculum:-1:5", "curriculum:0:5", "curriculum:8:1", "curriculum:x:5", "linear", "constant:4", ""])
    func badSchedulesAreRefused(argument: String) {
        #expect(throws: Trainer.ConfigurationError.badSchedule(argument)) { try NoiseSchedule(argument: argument) }
    }

    /// curriculum:8:4 towards F = 1: 8, 4, 2, then 1 from epoch 4 on; noise-free stays noise-free.
    @Test(arguments: [(1, 8.0), (2, 4.0), (3, 2.0), (4, 1.0), (9, 1.0)])
    func curriculumFallsGeometrically(epoch: Int, expected: Double) {
        let schedule = NoiseSchedule.curriculum(startSNR: 8, epochs: 4)
        #expect(abs(schedule.snr(epoch: epoch, target: 1) - expected) < 1e-12)
        #expect(schedule.snr(epoch: epoch, target: 0) == 0)
        #expect(NoiseSchedule.constant.snr(epoch: epoch, target: 0.6) == 0.6)
    }

    @Test func inconsistentConfigurationsAreRefused() {
        var plainNoisy = Trainer.Configuration()
        plainNoisy.recipe = .plain
        plainNoisy.trainingSNR = 4
        #expect(throws: Trainer.ConfigurationError.noisyPlainRecipe(snr: 4)) { try plainNoisy.validated() }
        plainNoisy.trainingSNR = 0
        #expect((try? plainNoisy.validated()) != nil)

        var curriculumNoiseFree = Trainer.Configuration()
        curriculumNoiseFree.trainingSNR = 0
        curriculumNoiseFree.noiseSchedule = .curriculum(startSNR: 4, epochs: 3)
        #expect(throws: Trainer.ConfigurationError.scheduleWithoutNoise) { try curriculumNoiseFree.validated() }

        var lr = Trainer.Configuration()
        lr.finalLearningRateFraction = 1.5
        #expect(throws: Trainer.ConfigurationError.self) { try lr.validated() }
    }

    @Test func selectionSNRDefaultsToTheTrainingSNR() {
        var c = Trainer.Configuration()
        c.trainingSNR = 0.6
        #expect(c.effectiveSelectionSNR == 0.6)
        c.selectionSNR = 0
        #expect(c.effectiveSelectionSNR == 0)
    }
}

@Suite("Plain recipe")
struct PlainRecipeTests {
    func batch() -> MNISTSet {
        var rng = Xoshiro256(seed: 3)
        let images = Matrix(rows: 8, cols: 6, values: (0..<48).map { _ in Float(rng.nextUnit() * 2 - 1) })
        return MNISTSet(images: images, labels: (0..<8).map { UInt8($0 % 3) })
    }

    func trainer(_ recipe: TrainingRecipe) -> Trainer {
        var c = Trainer.Configuration()
        c.recipe = recipe
        c.trainingSNR = 0
        return Trainer(configuration: c)
    }

    func loss(_ recipe: TrainingRecipe, _ net: MNISTNetwork, _ data: MNISTSet) -> (Double, [Matrix]) {
        var rng = Xoshiro256(seed: 11)
        var grads: [Matrix] = []
        let l = trainer(recipe).lossAndGradients(net, data, snr: 0, sampler: Gaussian.Sampler(), rng: &rng, into: &grads)
        return (l, grads)
    }

    /// The normalised recipe's loss does not change when the images are scaled (each layer's input
    /// is normalised); the plain recipe's does (the logits scale with the input, the network is
    /// positively homogeneous), and equals the cross-entropy of W2·ReLU(W1·x) computed here by hand.
    @Test func plainRecipeDoesNotNormalise() {
        let net = MNISTNetwork.initialised(sizes: [6, 5, 3], seed: 2)
        let data = batch()
        var scaled = data.images
        for i in scaled.values.indices { scaled.values[i] *= 10 }
        let big = MNISTSet(images: scaled, labels: data.labels)
        #expect(abs(loss(.normalised, net, data).0 - loss(.normalised, net, big).0) < 1e-5)
        #expect(abs(loss(.plain, net, data).0 - loss(.plain, net, big).0) > 1e-3)

        var expected = 0.0
        for r in 0..<data.count {
            let x = data.image(r)
            let h = (0..<5).map { i in max(0, (0..<6).reduce(Float(0)) { $0 + net.layers[0][i, $1] * x[$1] }) }
            let z = (0..<3).map { c in (0..<5).reduce(Float(0)) { $0 + net.layers[1][c, $1] * h[$1] } }
            let m = z.max()!
            let lse = log(z.reduce(Float(0)) { $0 + exp($1 - m) }) + m
            expected += Double(lse - z[Int(data.labels[r])])
        }
        expected /= Double(data.count)
        #expect(abs(loss(.plain, net, data).0 - expected) < 1e-5)
    }

    /// The plain recipe's analytic gradients against central finite differences.
    @Test func plainGradientsMatchFiniteDifferences() {
        var net = MNISTNetwork.initialised(sizes: [6, 5, 3], seed: 2)
        for k in net.layers.indices { for i in net.layers[k].values.indices { net.layers[k].values[i] *= 3 } }
        let data = batch()
        let grads = loss(.plain, net, data).1
        let h: Float = 1e-2
        var checked = 0
        for k in net.layers.indices {
            for i in stride(from: 0, to: net.layers[k].values.count, by: 2) {
                var up = net, down = net
                up.layers[k].values[i] += h; down.layers[k].values[i] -= h
                let numeric = (loss(.plain, up, data).0 - loss(.plain, down, data).0) / Double(2 * h)
                let analytic = Double(grads[k].values[i])
                #expect(abs(numeric - analytic) < 2e-3 + 0.02 * abs(numeric), "layer \(k) weight \(i): \(analytic) vs \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 20)
    }
}

@Suite("Training refuses images the network cannot take")
struct TrainingInputTests {
    /// 10 × 10-pixel images once reached gemm's size precondition (docs/trap-audit.md).
    @Test func imagesOtherThan28By28AreRefused() throws {
        let set = MNISTSet(images: Matrix(rows: 20, cols: 100, values: [Float](repeating: 0.1, count: 2000)), labels: [UInt8](repeating: 3, count: 20))
        var c = Trainer.Configuration()
        c.validationImages = 5
        c.epochs = 1
        #expect(throws: Trainer.ConfigurationError.self) { _ = try Trainer(configuration: c).train(on: set) }
        #expect(throws: MNISTSet.LoadError.self) { try set.requireStandardPixels(from: "/data") }
    }
}
