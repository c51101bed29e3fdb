import ArgumentParser
import Foundation
import NumericsKit
import SecureInference

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the served 784-784-10 network on MNIST (Adam, cross-entropy, optional protocol noise).",
        discussion: "Holds out a validation split of the 60,000 training images, keeps the epoch with the best validation accuracy under noise, and reports on the 10,000 test images. Format of the output file: docs/model-format.md.")

    @Option(help: "Epochs.") var epochs = 30
    @Option(name: .customLong("batch-size"), help: "Mini-batch size.") var batchSize = 128
    @Option(name: .customLong("learning-rate"), help: "Initial Adam learning rate (cosine decay).") var learningRate = 1e-3
    @Option(name: .customLong("noise-snr"), help: "Inference SNR F of the protocol noise injected during training (0: noise-free). G=2, μ=4 is F=4.")
    var noiseSNR = 4.0
    @Option(name: .customLong("validation-images"), help: "Training images held out for validation.") var validationImages = 5000
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Output model file.") var output = "Models/mnist-784-784-10.qbm"
    @Option(help: "Directory holding the MNIST .gz files (default: the repository's Data/mnist).") var data: String?
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let modelId: String
        let output: String
        let epochs: Int
        let validationAccuracy: Double
        let validationNoisyAccuracy: Double
        let testDigitalAccuracy: Double
        let testAccuracyG2Mu4: Double
        let seconds: Double
        let cores: Int
    }

    func run() throws {
        let dir = try data.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.mnist
        let train = try MNISTSet.load(.train, directory: dir)
        let test = try MNISTSet.load(.test, directory: dir)
        var config = Trainer.Configuration()
        config.epochs = epochs
        config.batchSize = batchSize
        config.learningRate = learningRate
        config.trainingSNR = noiseSNR
        config.validationImages = validationImages
        config.seed = seed
        let started = Date()
        let (network, history) = Trainer(configuration: config).train(on: train) { e in
            if !json {
                printLine(String(format: "epoch %3d  loss %.4f  validation %.2f %% (noisy %.2f %%)  %.1f s",
                                 e.epoch, e.loss, 100 * e.validationAccuracy, 100 * e.validationNoisyAccuracy, e.seconds))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let digital = MNISTNetwork.accuracy(MNISTNetwork.predictions(network.logits(test.images)), labels: test.labels)
        let noise = try ProtocolNoiseModel(amplifier: try ClientAmplifier(gain: 2), photonsPerMode: 4)
        let noisy = try InferenceSimulation(network: network, noise: noise).run(test, seed: 1).accuracy
        let file = ModelFile(network: network, training: config, history: history, testDigitalAccuracy: digital,
                             codeVersion: QBenchVersion.withCommit)
        let url = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try file.write(to: url)
        let best = history.max { $0.validationNoisyAccuracy < $1.validationNoisyAccuracy }!
        let out = Output(modelId: file.modelID, output: output, epochs: epochs, validationAccuracy: best.validationAccuracy,
                         validationNoisyAccuracy: best.validationNoisyAccuracy, testDigitalAccuracy: digital,
                         testAccuracyG2Mu4: noisy, seconds: seconds, cores: availableCores)
        if json { try printJSON(out); return }
        printLine("""
            model             \(file.modelID) → \(output)
            best epoch        \(best.epoch): validation \(percent(best.validationAccuracy)) digital, \(percent(best.validationNoisyAccuracy)) at F = \(format(noiseSNR))
            test set          \(percent(digital)) digital, \(percent(noisy)) under the protocol at G = 2, μ = 4 (seed 1)
            training time     \(String(format: "%.0f", seconds)) s on \(availableCores) cores
            """)
    }
}
