import ArgumentParser
import Foundation
import NumericsKit
import Plots
import SecureInference

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Accuracy and leakage over a grid of photon numbers and gains (the paper's map), as CSV and SVG.")

    @Option(help: "Photon numbers per mode μ, comma-separated.") var photons = "0.5,1,2,4,6,10"
    @Option(help: "Client gains G, comma-separated.") var gains = "1.3,1.5,2,3.4142,5"
    @Option(help: "Test images per grid point.") var images = 2000
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Output files prefix (writes PREFIX.csv and PREFIX.svg).") var output = "qbench-map"
    @Option(name: .customLong("target-accuracy"), help: "Accuracy target for outlining cells.") var targetAccuracy = 0.96
    @Option(help: "Weight-leakage budget for outlining cells, bit/mode.") var budget = 0.1
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Point: Encodable {
        let gain: Double
        let photonsPerMode: Double
        let inferenceSNR: Double
        let accuracy: Double
        let weightLeakageBitsPerMode: Double
        let dataLeakageBits: Double
    }

    struct Output: Encodable {
        let images: Int
        let csv: String
        let svg: String
        let points: [Point]
    }

    static func parseList(_ s: String, _ name: String) throws -> [Double] {
        let values = s.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { throw ValidationError("--\(name) must be comma-separated numbers, got '\(s)'") }
        return values.map { $0! }
    }

    func run() throws {
        let mus = try Self.parseList(photons, "photons"), gs = try Self.parseList(gains, "gains")
        let model = try modelOptions.loadModel()
        let set = try modelOptions.loadSet(.test, limit: images)
        let n = (model.network.inputSize + 1) / 2
        var points: [Point] = []
        let bar = ProgressBar(total: mus.count * gs.count, unit: "points", enabled: !json)
        for g in gs {
            let amplifier = try ClientAmplifier(gain: g)
            for mu in mus {
                let noise = try ProtocolNoiseModel(amplifier: amplifier, photonsPerMode: mu)
                let r = try InferenceSimulation(network: model.network, noise: noise).run(set, seed: seed)
                let leak = try LeakageSummary(gain: g, photonsPerMode: mu, modesPerRow: n, innerProducts: model.network.innerProductsPerImage)
                points.append(Point(gain: g, photonsPerMode: mu, inferenceSNR: amplifier.inferenceSNR(photonsPerMode: mu),
                                    accuracy: r.accuracy, weightLeakageBitsPerMode: leak.weightLeakageBitsPerMode,
                                    dataLeakageBits: leak.dataLeakageBits))
                bar.update(points.count)
            }
        }
        var csv = "gain,photonsPerMode,inferenceSNR,accuracy,weightLeakageBitsPerMode,dataLeakageBits\n"
        for p in points {
            csv += "\(p.gain),\(p.photonsPerMode),\(p.inferenceSNR),\(p.accuracy),\(p.weightLeakageBitsPerMode),\(p.dataLeakageBits)\n"
        }
        let csvURL = URL(fileURLWithPath: output + ".csv"), svgURL = URL(fileURLWithPath: output + ".svg")
        try csv.write(to: csvURL, atomically: true, encoding: .utf8)
        let accuracies = points.map(\.accuracy)
        let heatmap = Heatmap(
            title: "Secure inference accuracy and weight leakage (\(set.count) MNIST test images)",
            xLabel: "photons per mode μ", yLabel: "client gain G",
            xValues: mus.map { format($0, 3) }, yValues: gs.map { format($0, 3) },
            values: gs.indices.map { gi in mus.indices.map { mi in points[gi * mus.count + mi].accuracy } },
            cellText: gs.indices.map { gi in mus.indices.map { mi in
                let p = points[gi * mus.count + mi]
                return String(format: "%.1f %%\nI_w %.3f bit/mode\nI_x %.4f bit", 100 * p.accuracy, p.weightLeakageBitsPerMode, p.dataLeakageBits)
            } },
            range: (max(0.9, accuracies.min() ?? 0), max(0.9 + 1e-6, accuracies.max() ?? 1)),
            legend: """
                Cell: accuracy under the protocol's noise; I_w: Holevo weight leakage (honest client, lossless); I_x: data leakage (Cramér–Rao).
                Outlined: accuracy ≥ \(percent(targetAccuracy)), I_w ≤ \(format(budget)) bit/mode and I_x < 0.01 bit. Model \(model.modelID), seed \(seed).
                """)
        var plot = heatmap
        plot.highlighted = gs.indices.map { gi in mus.indices.map { mi in
            let p = points[gi * mus.count + mi]
            return p.accuracy >= targetAccuracy && p.weightLeakageBitsPerMode <= budget && p.dataLeakageBits < 0.01
        } }
        try plot.render().write(to: svgURL)
        if json { try printJSON(Output(images: set.count, csv: csvURL.path, svg: svgURL.path, points: points)); return }
        printLine("gain   μ      F      accuracy  I_w (bit/mode)  I_x (bit)")
        for p in points {
            printLine(String(format: "%-6.3g %-6.3g %-6.3g %7.2f %%  %-14.4f  %.4f", p.gain, p.photonsPerMode, p.inferenceSNR, 100 * p.accuracy, p.weightLeakageBitsPerMode, p.dataLeakageBits))
        }
        printLine("wrote \(csvURL.path) and \(svgURL.path)")
    }
}
