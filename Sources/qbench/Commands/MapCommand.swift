import ArgumentParser
import Foundation
import NumericsKit
import Plots
import SecureInference

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Accuracy and leakage over a grid of photon numbers and gains (the paper's map), and the best accuracy at each weight-leakage level, as CSV and SVG.",
        discussion: """
            Every grid point is simulated under the protocol's noise (no bench) for each seed; I_w and I_x come from the \
            leakage bounds of `qbench leakage` (honest, lossless client). For each --levels value L the map picks the point \
            of highest mean accuracy with I_w ≤ L and I_x ≤ --max-data-leakage, and prints its I_x beside it: pick the \
            operating point from PREFIX-best.svg. Writes PREFIX.csv, PREFIX.svg (the grid), PREFIX-best.csv and PREFIX-best.svg.
            """)

    @Option(help: "Photon numbers per mode μ, comma-separated.") var photons = "0.5,1,2,4,6,10"
    @Option(help: "Client gains G, comma-separated.") var gains = "1.3,1.5,2,3.4142,5"
    @Option(parsing: .unconditional, help: "Test images per grid point.") var images = 2000
    @Option(parsing: .unconditional, help: "Random seed (used when --seeds is not given).") var seed: UInt64 = 1
    @Option(help: "Noise seeds, comma-separated; the accuracy is their mean, the spread half their range.") var seeds: String?
    @Option(help: "Weight-leakage levels (bit/mode), comma-separated, at which to pick the best point.")
    var levels = "0.01,0.015,0.02,0.03,0.05,0.1,0.2"
    @Option(name: .customLong("max-data-leakage"), help: "Data-leakage budget I_x (bit/symbol) for the best-point choice.")
    var maxDataLeakage = 0.01
    @Option(help: "Output files prefix (writes PREFIX.csv, PREFIX.svg, PREFIX-best.csv, PREFIX-best.svg).") var output = "qbench-map"
    @Option(name: .customLong("target-accuracy"), parsing: .unconditional, help: "Accuracy target for outlining cells.") var targetAccuracy = 0.96
    @Option(parsing: .unconditional, help: "Weight-leakage budget for outlining cells, bit/mode.") var budget = 0.1
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        let modelId: String
        let images: Int
        let seeds: [UInt64]
        let dataLeakageBudget: Double
        let csv: String
        let svg: String
        let bestCsv: String
        let bestSvg: String
        let points: [OperatingPointMap.Point]
        let best: [OperatingPointMap.Choice]
    }

    static func parseList(_ s: String, _ name: String) throws -> [Double] {
        let values = s.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw ValidationError("--\(name) must be comma-separated numbers, got '\(s)'") }
        return values.map { $0! }
    }

    func validate() throws {
        guard (1...10_000).contains(images) else { throw ValidationError("--images must be between 1 and 10000") }
        if let seeds { _ = try TrainCommand.parseSeeds(seeds) }
        guard try Self.parseList(levels, "levels").allSatisfy({ $0 > 0 }) else { throw ValidationError("--levels must be positive bit/mode values") }
        guard maxDataLeakage > 0 else { throw ValidationError("--max-data-leakage must be > 0 bit") }
    }

    func run() throws {
        let mus = try Self.parseList(photons, "photons"), gs = try Self.parseList(gains, "gains")
        let levelList = try Self.parseList(levels, "levels").sorted()
        let seedList = try seeds.map(TrainCommand.parseSeeds) ?? [seed]
        let model = try modelOptions.loadModel()
        let set = try modelOptions.loadSet(.test, limit: images)
        let n = (model.network.inputSize + 1) / 2
        var points: [OperatingPointMap.Point] = []
        let bar = ProgressBar(total: mus.count * gs.count, unit: "points", enabled: !json)
        for g in gs {
            let amplifier = try ClientAmplifier(gain: g)
            for mu in mus {
                let simulation = InferenceSimulation(network: model.network, noise: try ProtocolNoiseModel(amplifier: amplifier, photonsPerMode: mu))
                var accuracies: [Double] = []
                for s in seedList { accuracies.append(try simulation.run(set, seed: s).accuracy) }
                points.append(try OperatingPointMap.Point(gain: g, photonsPerMode: mu, accuracies: accuracies, modesPerRow: n,
                                                          innerProducts: model.network.innerProductsPerImage))
                bar.update(points.count)
            }
        }
        let map = OperatingPointMap(points: points)
        let best = map.best(atWeightLeakageLevels: levelList, dataLeakageBudget: maxDataLeakage)

        var csv = "gain,photonsPerMode,inferenceSNR,accuracy,accuracySpread,weightLeakageBitsPerMode,dataLeakageBits\n"
        for p in points {
            csv += "\(p.gain),\(p.photonsPerMode),\(p.inferenceSNR),\(p.accuracy),\(p.spread),\(p.weightLeakageBitsPerMode),\(p.dataLeakageBits)\n"
        }
        var bestCSV = "weightLeakageLevel,gain,photonsPerMode,inferenceSNR,accuracy,accuracySpread,weightLeakageBitsPerMode,dataLeakageBits\n"
        for c in best {
            if let p = c.best {
                bestCSV += "\(c.weightLeakageLevel),\(p.gain),\(p.photonsPerMode),\(p.inferenceSNR),\(p.accuracy),\(p.spread),\(p.weightLeakageBitsPerMode),\(p.dataLeakageBits)\n"
            } else {
                bestCSV += "\(c.weightLeakageLevel),,,,,,,\n"
            }
        }
        let csvURL = URL(fileURLWithPath: output + ".csv"), svgURL = URL(fileURLWithPath: output + ".svg")
        let bestCSVURL = URL(fileURLWithPath: output + "-best.csv"), bestSVGURL = URL(fileURLWithPath: output + "-best.svg")
        try csv.write(to: csvURL, atomically: true, encoding: .utf8)
        try bestCSV.write(to: bestCSVURL, atomically: true, encoding: .utf8)
        try heatmap(points, mus: mus, gs: gs, model: model, images: set.count, seeds: seedList).render().write(to: svgURL)
        try bestPlot(map, best, model: model, images: set.count, seeds: seedList).render().write(to: bestSVGURL)

        if json {
            try printJSON(Output(modelId: model.modelID, images: set.count, seeds: seedList, dataLeakageBudget: maxDataLeakage,
                                 csv: csvURL.path, svg: svgURL.path, bestCsv: bestCSVURL.path, bestSvg: bestSVGURL.path,
                                 points: points, best: best))
            return
        }
        printLine("model \(model.modelID), \(set.count) test images, seeds \(seedList.map(String.init).joined(separator: ","))")
        printLine("gain   μ      F      accuracy (± half range)  I_w (bit/mode)  I_x (bit)")
        for p in points {
            printLine(String(format: "%-6.3g %-6.3g %-6.3g %7.2f %% ± %.2f         %-14.4f  %.4f", p.gain, p.photonsPerMode, p.inferenceSNR,
                             100 * p.accuracy, 100 * p.spread, p.weightLeakageBitsPerMode, p.dataLeakageBits))
        }
        printLine("best accuracy at each weight-leakage level (I_x ≤ \(format(maxDataLeakage)) bit)")
        printLine("I_w ≤      accuracy            G      μ      F      I_w      I_x")
        for c in best {
            guard let p = c.best else { printLine(String(format: "%-10.4g no grid point within both budgets", c.weightLeakageLevel)); continue }
            printLine(String(format: "%-10.4g %7.2f %% ± %.2f    %-6.3g %-6.3g %-6.3g %.4f   %.4f", c.weightLeakageLevel, 100 * p.accuracy, 100 * p.spread,
                             p.gain, p.photonsPerMode, p.inferenceSNR, p.weightLeakageBitsPerMode, p.dataLeakageBits))
        }
        printLine("wrote \(csvURL.path), \(svgURL.path), \(bestCSVURL.path) and \(bestSVGURL.path)")
    }

    func heatmap(_ points: [OperatingPointMap.Point], mus: [Double], gs: [Double], model: ModelFile, images: Int, seeds: [UInt64]) -> Heatmap {
        let accuracies = points.map(\.accuracy)
        var plot = Heatmap(
            title: "Secure inference accuracy and weight leakage (\(images) MNIST test images)",
            xLabel: "photons per mode μ", yLabel: "client gain G",
            xValues: mus.map { format($0, 3) }, yValues: gs.map { format($0, 3) },
            values: gs.indices.map { gi in mus.indices.map { mi in points[gi * mus.count + mi].accuracy } },
            cellText: gs.indices.map { gi in mus.indices.map { mi in
                let p = points[gi * mus.count + mi]
                return String(format: "%.1f %%\nI_w %.3f bit/mode\nI_x %.4f bit", 100 * p.accuracy, p.weightLeakageBitsPerMode, p.dataLeakageBits)
            } },
            range: (max(0.9, accuracies.min() ?? 0), max(0.9 + 1e-6, accuracies.max() ?? 1)),
            legend: """
                Cell: accuracy under the protocol's noise (mean over seeds \(seeds.map(String.init).joined(separator: ","))); I_w: Holevo weight leakage (honest client, lossless); I_x: data leakage (Cramér–Rao).
                Outlined: accuracy ≥ \(percent(targetAccuracy)), I_w ≤ \(format(budget)) bit/mode and I_x < 0.01 bit. Model \(model.modelID).
                """)
        plot.highlighted = gs.indices.map { gi in mus.indices.map { mi in
            let p = points[gi * mus.count + mi]
            return p.accuracy >= targetAccuracy && p.weightLeakageBitsPerMode <= budget && p.dataLeakageBits < 0.01
        } }
        return plot
    }

    func bestPlot(_ map: OperatingPointMap, _ best: [OperatingPointMap.Choice], model: ModelFile, images: Int, seeds: [UInt64]) -> LinePlot {
        var plot = LinePlot(title: "Best accuracy per weight-leakage level (\(model.modelID), \(images) images)",
                            xLabel: "weight leakage I_w (bit/mode, log)", yLabel: "accuracy (%)")
        plot.logX = true
        let chosen = best.compactMap { c in c.best.map { (c.weightLeakageLevel, $0) } }
        plot.series.append(.init(label: "every grid point", points: map.points.map { ($0.weightLeakageBitsPerMode, 100 * $0.accuracy) },
                                 color: "#bbbbbb", style: .markers))
        plot.series.append(.init(label: "best with I_x ≤ \(format(maxDataLeakage)) bit", points: chosen.map { ($0.0, 100 * $0.1.accuracy) },
                                 color: LinePlot.palette[0]))
        plot.series.append(.init(label: "chosen point", points: chosen.map { ($0.0, 100 * $0.1.accuracy) }, color: LinePlot.palette[0], style: .markers))
        plot.annotations = chosen.map { level, p in
            (level, 100 * p.accuracy, String(format: "G %.3g μ %.3g, I_x %.4f", p.gain, p.photonsPerMode, p.dataLeakageBits))
        }
        plot.referenceLines = [(100 * targetAccuracy, "target \(percent(targetAccuracy))")]
        return plot
    }
}
