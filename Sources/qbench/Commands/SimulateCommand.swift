import ArgumentParser
import Foundation
import NumericsKit
import SecureInference

/// Options shared by the commands that load the shipped network and data.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model file (default: the shipped Models/mnist-784-784-10.qbm).") var model: String?
    @Option(help: "Directory holding the MNIST .gz files (default: the repository's Data/mnist).") var data: String?

    /// The model, refused unless it takes MNIST's 28 × 28 pixels (another shape would trap in
    /// the encoder or the matrix products).
    func loadModel() throws -> ModelFile {
        let file = try ModelFile.read(from: model.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.defaultModel)
        try file.checkInputs(pixels: MNISTSet.standardPixels)
        return file
    }

    /// The images, refused unless they have MNIST's 28 × 28 pixels.
    func loadSet(_ split: MNISTSet.Split, limit: Int?) throws -> MNISTSet {
        let dir = try data.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.mnist
        let set = try MNISTSet.load(split, directory: dir, limit: limit)
        try set.requireStandardPixels(from: dir.path)
        return set
    }
}

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Secure inference of the MNIST test set under the protocol's noise model (no bench).",
        discussion: "Every inner product's client reading is drawn per PROTOCOL.md §3: mean 2√(G−1) Re β, variance (2G²−3G+2)/G.")

    @Option(parsing: .unconditional, help: "Client amplifier gain G.") var gain = 2.0
    @Option(parsing: .unconditional, help: "Mean photon number per mode μ.") var photons = 4.0
    @Option(parsing: .unconditional, help: "Test images to classify (1–10000).") var images = 10_000
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Client behaviour: honest | greedy-tap:R | over-amplify:G2 | intercept-resend.") var client = "honest"
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let images: Int
        let accuracy: Double
        let digitalAccuracy: Double
        let gain: Double
        let photonsPerMode: Double
        let weightLeakageBitsPerMode: Double
        let dataLeakageBits: Double
        let seed: UInt64
    }

    func validate() throws {
        guard (1...10_000).contains(images) else { throw ValidationError("--images must be between 1 and 10000") }
        guard ClientBehaviour(argument: client) != nil else { throw ValidationError("--client must be honest, greedy-tap:R, over-amplify:G2 or intercept-resend") }
    }

    func run() throws {
        let behaviour = ClientBehaviour(argument: client)!
        let amplifier = try ClientAmplifier(gain: gain)
        let model = try modelOptions.loadModel()
        let set = try modelOptions.loadSet(.test, limit: images)
        let noise = try ProtocolNoiseModel(amplifier: amplifier, photonsPerMode: photons, behaviour: behaviour)
        let leakage = try LeakageSummary(gain: gain, photonsPerMode: photons,
                                         modesPerRow: (model.network.inputSize + 1) / 2,
                                         innerProducts: model.network.innerProductsPerImage)
        let bar = ProgressBar(total: set.count, unit: "images", enabled: !json)
        let started = Date()
        let result = try InferenceSimulation(network: model.network, noise: noise).run(set, seed: seed) { bar.update($0) }
        let seconds = Date().timeIntervalSince(started)
        let out = Output(images: result.images, accuracy: result.accuracy, digitalAccuracy: result.digitalAccuracy,
                         gain: gain, photonsPerMode: photons, weightLeakageBitsPerMode: leakage.weightLeakageBitsPerMode,
                         dataLeakageBits: leakage.dataLeakageBits, seed: seed)
        if json { try printJSON(out); return }
        let modes = Double(result.images * model.network.modesPerImage)
        printLine("""
            secure inference  \(result.images) MNIST test images, model \(model.modelID), client \(behaviour)
            operating point   G = \(format(gain)), μ = \(format(photons)) photons/mode (inference SNR F = \(format(amplifier.inferenceSNR(photonsPerMode: photons))))
            accuracy          \(percent(result.accuracy)) under the protocol's noise (digital: \(percent(result.digitalAccuracy)))
            weight leakage    \(format(leakage.weightLeakageBitsPerMode)) bit/mode (honest, lossless bound)
            data leakage      \(format(leakage.dataLeakageBits)) bit/symbol (Cramér–Rao)
            optical modes     \(format(modes, 3)) (\(model.network.modesPerImage) per image), \(String(format: "%.1f", seconds)) s, seed \(seed)
            """)
    }
}
