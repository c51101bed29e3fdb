import ArgumentParser
import Foundation
import NumericsKit
import SecureInference

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the served 784-784-10 network on MNIST (Adam, cross-entropy, a recipe, optional protocol noise).",
        discussion: """
            Recipes (docs/low-leakage.md): 'normalised' L2-normalises every layer's input during training as the inference does \
            (optionally with the protocol's noise at --noise-snr, constant or on a curriculum); 'plain' is the authors' recipe \
            (no normalisation during training, noise-free) that reproduces the paper's accuracy curve. \
            Holds out a validation split of the 60,000 training images and keeps the epoch with the best validation accuracy \
            under noise at --selection-snr (default: the training SNR); the test set is only used afterwards, to measure the \
            model's noise curve (accuracy vs F on the 10,000 test images, stated seeds), which goes into the model header. \
            Format of the output file: docs/model-format.md.
            """)

    @Option(parsing: .unconditional, help: "Epochs.") var epochs = 30
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Mini-batch size.") var batchSize = 128
    @Option(name: .customLong("learning-rate"), help: "Initial Adam learning rate.") var learningRate = 1e-3
    @Option(name: .customLong("final-lr-fraction"), help: "Final learning rate as a fraction of the initial one, cosine decay (1: constant, the authors' plain Adam).")
    var finalLRFraction = 0.05
    @Option(help: "Training recipe: normalised | plain.") var recipe = "normalised"
    @Option(name: .customLong("noise-snr"), help: "Inference SNR F of the protocol noise injected during training (0: noise-free). G=2, μ=4 is F=4.")
    var noiseSNR = 4.0
    @Option(name: .customLong("noise-schedule"), help: "constant | curriculum:F0:E (F falls geometrically from F0 in epoch 1 to --noise-snr in epoch E).")
    var noiseSchedule = "constant"
    @Option(name: .customLong("selection-snr"), help: "F at which the validation split picks the epoch (default: --noise-snr; 0: noise-free accuracy).")
    var selectionSNR: Double?
    @Option(name: .customLong("validation-images"), parsing: .unconditional, help: "Training images held out for validation.") var validationImages = 5000
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Output model file.") var output = "Models/mnist-784-784-10.qbm"
    @Option(help: "Directory holding the MNIST .gz files (default: the repository's Data/mnist).") var data: String?
    @Option(name: .customLong("curve-snrs"), help: "Inference SNRs F of the noise curve stored in the header, comma-separated, or 'none'.")
    var curveSNRs = NoiseCurve.defaultSNRs.map { format($0) }.joined(separator: ",")
    @Option(name: .customLong("curve-seeds"), help: "Noise seeds of the curve, comma-separated.") var curveSeeds = "1,2,3"
    @Option(name: .customLong("curve-gain"), parsing: .unconditional, help: "Client gain G of the curve (μ = F / 2f(G)).") var curveGain = 2.0
    @Option(help: "Free-text provenance stored in the header (why this model, what it is for).") var provenance: String?
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let modelId: String
        let output: String
        let recipe: TrainingRecipe
        let noiseSchedule: String
        let epochs: Int
        let bestEpoch: Int
        let validationAccuracy: Double
        let validationNoisyAccuracy: Double
        let selectionSNR: Double
        let testDigitalAccuracy: Double
        let noiseCurve: NoiseCurve?
        let seconds: Double
        let curveSeconds: Double
        let cores: Int
    }

    func configurationFromOptions() throws -> Trainer.Configuration {
        var config = Trainer.Configuration()
        config.epochs = epochs
        config.batchSize = batchSize
        config.learningRate = learningRate
        config.finalLearningRateFraction = finalLRFraction
        config.trainingSNR = noiseSNR
        config.validationImages = validationImages
        config.seed = seed
        config.recipe = try TrainingRecipe(argument: recipe)
        config.noiseSchedule = try NoiseSchedule(argument: noiseSchedule)
        config.selectionSNR = selectionSNR
        return try config.validated()
    }

    func validate() throws {
        do { _ = try configurationFromOptions() } catch let e as Trainer.ConfigurationError { throw ValidationError(e.description) }
        if curveSNRs != "none" { _ = try MapCommand.parseList(curveSNRs, "curve-snrs") }
        guard curveGain > 1 else { throw ValidationError("--curve-gain must be > 1") }
        _ = try Self.parseSeeds(curveSeeds)
    }

    static func parseSeeds(_ s: String) throws -> [UInt64] {
        let seeds = s.split(separator: ",").map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        guard !seeds.isEmpty, seeds.allSatisfy({ $0 != nil }) else { throw ValidationError("seeds must be comma-separated non-negative integers, got '\(s)'") }
        return seeds.map { $0! }
    }

    func run() throws {
        let config = try configurationFromOptions()
        let dir = try data.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.mnist
        let train = try MNISTSet.load(.train, directory: dir)
        let test = try MNISTSet.load(.test, directory: dir)
        try train.requireStandardPixels(from: dir.path)
        try test.requireStandardPixels(from: dir.path)
        let started = Date()
        let (network, history) = try Trainer(configuration: config).train(on: train) { e in
            if !json {
                printLine(String(format: "epoch %3d  F %-6.3g loss %.4f  validation %.2f %% (at selection F %.3g: %.2f %%)  %.1f s",
                                 e.epoch, e.trainingSNR ?? 0, e.loss, 100 * e.validationAccuracy, config.effectiveSelectionSNR,
                                 100 * e.validationNoisyAccuracy, e.seconds))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let digital = MNISTNetwork.accuracy(MNISTNetwork.predictions(network.logits(test.images)), labels: test.labels)
        let curveStarted = Date()
        var curve: NoiseCurve?
        if curveSNRs != "none" {
            let snrs = try MapCommand.parseList(curveSNRs, "curve-snrs")
            let bar = ProgressBar(total: snrs.count, unit: "F values", enabled: !json)
            curve = try NoiseCurve.measure(network, on: test, snrs: snrs, seeds: try Self.parseSeeds(curveSeeds), gain: curveGain) { bar.update($0) }
        }
        let curveSeconds = Date().timeIntervalSince(curveStarted)
        let file = ModelFile(network: network, training: config, history: history, testDigitalAccuracy: digital,
                             codeVersion: QBenchVersion.withCommit, noiseCurve: curve, trainingSeconds: seconds,
                             trainingCores: availableCores, provenance: provenance)
        let url = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try file.write(to: url)
        // The epoch train() returned: the first with the highest validation accuracy at the selection SNR.
        let best = history.first { $0.validationNoisyAccuracy == history.map(\.validationNoisyAccuracy).max() }!
        let out = Output(modelId: file.modelID, output: output, recipe: config.recipe, noiseSchedule: config.noiseSchedule.description,
                         epochs: epochs, bestEpoch: best.epoch, validationAccuracy: best.validationAccuracy,
                         validationNoisyAccuracy: best.validationNoisyAccuracy, selectionSNR: config.effectiveSelectionSNR,
                         testDigitalAccuracy: digital, noiseCurve: curve, seconds: seconds, curveSeconds: curveSeconds, cores: availableCores)
        if json { try printJSON(out); return }
        printLine("""
            model             \(file.modelID) → \(output)
            recipe            \(config.recipe.rawValue) (\(config.recipe.summary)); noise F = \(format(config.trainingSNR)), schedule \(config.noiseSchedule)
            best epoch        \(best.epoch): validation \(percent(best.validationAccuracy)) digital, \(percent(best.validationNoisyAccuracy)) at selection F = \(format(config.effectiveSelectionSNR))
            test set          \(percent(digital)) digital
            training time     \(String(format: "%.0f", seconds)) s on \(availableCores) cores
            """)
        if let curve {
            printLine("noise curve       G = \(format(curve.gain)), \(curve.images) test images, seeds \(curve.seeds.map(String.init).joined(separator: ",")), \(String(format: "%.0f", curveSeconds)) s")
            for p in curve.points {
                printLine(String(format: "  F %-6.3g μ %-7.3g %7.2f %% ± %.2f (sd over seeds)", p.inferenceSNR, p.photonsPerMode, 100 * p.mean, 100 * p.standardDeviation))
            }
        }
    }
}
