import ArgumentParser
import Foundation
import Plots
import SecureInference

/// `qbench curve`: accuracy against the inference SNR F for one or more models, side by side.
struct CurveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "curve",
        abstract: "Accuracy against the inference SNR F = 2μf(G) for one or more models (the paper's curve), as CSV and SVG.",
        discussion: """
            Every point is a simulation of the test images under the protocol's noise at gain --gain and μ = F / 2f(G), \
            once per seed; the CSV keeps every seed's accuracy, the plot their mean. `qbench train` stores the same \
            measurement in the model header (docs/low-leakage.md).
            """)

    @Option(help: "Model files, comma-separated (default: the shipped model).") var models: String?
    @Option(help: "Inference SNRs F, comma-separated.") var snrs = "0.01,0.03,0.1,0.3,0.5,1,2,3,5,10,30,100"
    @Option(help: "Noise seeds, comma-separated.") var seeds = "1,2,3"
    @Option(parsing: .unconditional, help: "Client gain G (μ = F / 2f(G)).") var gain = 2.0
    @Option(parsing: .unconditional, help: "Test images per point (1–10000).") var images = 10_000
    @Option(help: "Output files prefix (writes PREFIX.csv and PREFIX.svg).") var output = "qbench-curve"
    @Option(help: "Directory holding the MNIST .gz files (default: the repository's Data/mnist).") var data: String?
    @Flag(help: "One JSON object on stdout.") var json = false

    struct ModelCurve: Encodable {
        let model: String
        let modelId: String
        let recipe: String
        let curve: NoiseCurve
    }

    func validate() throws {
        guard (1...10_000).contains(images) else { throw ValidationError("--images must be between 1 and 10000") }
        guard try MapCommand.parseList(snrs, "snrs").allSatisfy({ $0 > 0 }) else { throw ValidationError("--snrs must be positive") }
        _ = try TrainCommand.parseSeeds(seeds)
        guard gain > 1 else { throw ValidationError("--gain must be > 1") }
    }

    /// The recipe and training SNR a model header names, for labels.
    static func recipeLabel(_ header: ModelFile.Header) -> String {
        guard let t = header.training else { return "unknown recipe" }
        let noise = t.trainingSNR > 0 ? "noise F = \(format(t.trainingSNR))" + (t.noiseSchedule == .constant ? "" : " (\(t.noiseSchedule))") : "noise-free"
        return "\(t.recipe.rawValue), \(noise)"
    }

    func run() throws {
        let paths = try models.map { $0.split(separator: ",").map(String.init) } ?? [try ProjectPaths.defaultModel.path]
        let fs = try MapCommand.parseList(snrs, "snrs").sorted()
        let seedList = try TrainCommand.parseSeeds(seeds)
        let dir = try data.map { URL(fileURLWithPath: $0) } ?? ProjectPaths.mnist
        let set = try MNISTSet.load(.test, directory: dir, limit: images)
        var curves: [ModelCurve] = []
        for path in paths {
            let model = try ModelFile.read(from: URL(fileURLWithPath: path))
            try model.checkInputs(pixels: set.pixelsPerImage)
            let bar = ProgressBar(total: fs.count, unit: "F values", enabled: !json)
            let curve = try NoiseCurve.measure(model.network, on: set, snrs: fs, seeds: seedList, gain: gain) { bar.update($0) }
            curves.append(ModelCurve(model: path, modelId: model.modelID, recipe: Self.recipeLabel(model.header), curve: curve))
        }
        var csv = "model,modelId,recipe,gain,inferenceSNR,photonsPerMode,seed,accuracy\n"
        for c in curves {
            for p in c.curve.points {
                for (seed, a) in zip(c.curve.seeds, p.accuracies) {
                    csv += "\(c.model),\(c.modelId),\"\(c.recipe)\",\(c.curve.gain),\(p.inferenceSNR),\(p.photonsPerMode),\(seed),\(a)\n"
                }
            }
        }
        let csvURL = URL(fileURLWithPath: output + ".csv"), svgURL = URL(fileURLWithPath: output + ".svg")
        try csv.write(to: csvURL, atomically: true, encoding: .utf8)
        var plot = LinePlot(title: "Accuracy against inference SNR F (\(set.count) MNIST test images, G = \(format(gain)))",
                            xLabel: "inference SNR F = 2μf(G) (log)", yLabel: "accuracy (%), mean over seeds \(seedList.map(String.init).joined(separator: ","))")
        plot.logX = true
        plot.width = 860
        for (k, c) in curves.enumerated() {
            let color = LinePlot.palette[k % LinePlot.palette.count]
            let pts = c.curve.points.map { ($0.inferenceSNR, 100 * $0.mean) }
            plot.series.append(.init(label: "\(c.recipe)", points: pts, color: color))
            plot.series.append(.init(label: c.modelId, points: pts, color: color, style: .markers))
        }
        try plot.render().write(to: svgURL)
        if json { try printJSON(curves); return }
        for c in curves {
            printLine("\(c.model) (\(c.modelId), \(c.recipe)): \(c.curve.images) test images, G = \(format(c.curve.gain)), seeds \(c.curve.seeds.map(String.init).joined(separator: ",")), digital \(percent(c.curve.digitalAccuracy))")
            for p in c.curve.points {
                printLine(String(format: "  F %-7.3g μ %-8.3g %7.2f %% ± %.2f (sd), range %.2f–%.2f %%", p.inferenceSNR, p.photonsPerMode, 100 * p.mean,
                                 100 * p.standardDeviation, 100 * (p.accuracies.min() ?? 0), 100 * (p.accuracies.max() ?? 0)))
            }
        }
        printLine("wrote \(csvURL.path) and \(svgURL.path)")
    }
}
