import ArgumentParser
import Foundation
import SecureInference

/// `qbench model`: what a model file says about itself (recipe, training options, noise curve, provenance).
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Show a model file's header: recipe, training options and time, the noise curve measured after training, provenance.",
        discussion: "With --set-provenance the header's provenance text is replaced and the file rewritten; the weights, their CRC-32 and the model id do not change.")

    @Option(help: "Model file (default: the shipped Models/mnist-784-784-10.qbm).") var model: String?
    @Option(name: .customLong("set-provenance"), help: "Replace the header's provenance text and rewrite the file.") var setProvenance: String?
    @Flag(help: "The header as JSON on stdout.") var json = false

    func run() throws {
        let url = try model.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.defaultModel
        var file = try ModelFile.read(from: url)
        if let setProvenance {
            file.header.provenance = setProvenance
            try file.write(to: url)
        }
        let h = file.header
        if json { try printJSON(h); return }
        printLine("model             \(file.modelID) (\(url.path))")
        printLine("created           \(h.createdAt) by qbench \(h.codeVersion)")
        if let t = h.training {
            printLine("recipe            \(t.recipe.rawValue): \(t.recipe.summary)")
            printLine("training          \(t.epochs) epochs, batch \(t.batchSize), lr \(format(t.learningRate)) → ×\(format(t.finalLearningRateFraction)), noise F = \(format(t.trainingSNR)) (\(t.noiseSchedule)), selection at F = \(format(t.effectiveSelectionSNR)) on \(t.validationImages) validation images, seed \(t.seed)")
        } else {
            printLine("training          not recorded")
        }
        if let s = h.trainingSeconds { printLine("training time     \(String(format: "%.0f", s)) s on \(h.trainingCores.map(String.init) ?? "?") cores") }
        if let d = h.testDigitalAccuracy { printLine("test set          \(percent(d)) digital") }
        if let c = h.noiseCurve {
            printLine("noise curve       G = \(format(c.gain)), \(c.images) test images, seeds \(c.seeds.map(String.init).joined(separator: ","))")
            for p in c.points {
                printLine(String(format: "  F %-6.3g μ %-7.3g %7.2f %% ± %.2f (sd over seeds)", p.inferenceSNR, p.photonsPerMode, 100 * p.mean, 100 * p.standardDeviation))
            }
        } else {
            printLine("noise curve       not in the header (measure one with `qbench curve --models \(url.path)`)")
        }
        printLine("provenance        \(h.provenance ?? "not recorded")")
    }
}
