import Foundation
import NumericsKit
import Plots
import SecureInference

/// The attack table of issue 10: for each client behaviour, the probability that the server's check
/// has aborted, and has certified, after k images served, over seeds of the twin; beside each
/// behaviour the weight leakage it really takes (I_w at the channel the server's estimators converge
/// to for it, PROTOCOL.md §7). For `qbench bench attacks` only.
public enum AttackTable {
    public struct Row: Sendable, Codable {
        public let client: String
        public let trueTransmittance: Double
        public let trueExcessNoise: Double
        public let trueLeakageBitsPerMode: Double
        public let runs: Int
        /// (images served, fraction of runs aborted by then, fraction certified by then).
        public let curve: [Point]
        public struct Point: Sendable, Codable { public let images: Int; public let aborted: Double; public let certified: Double }
    }

    /// The channel an attack presents to the server's estimators on this model's first layer and a
    /// sample of inputs (its asymptotic T̂ and ε̂), and I_w there.
    public static func trueLeakage(_ behaviour: ClientBehaviour, model: ModelFile, inputs: MNISTSet, gain: Double,
                                   photons mu: Double, samples: Int = 8) throws -> (t: Double, eps: Double, bits: Double) {
        let layer = try EncodedLayer(weights: model.network.layers[0], photonsPerMode: mu)
        let measurement = try behaviour.measurement(nominal: try ClientAmplifier(gain: gain))
        var channel = ExpectedChannel()
        for k in 0..<min(samples, inputs.count) {
            let xi = ClientEncoding.symbols(inputs.image(k))
            for r in 0..<layer.weights.rows {
                let alpha = layer.amplitudes(row: r)
                channel.add(sent: alpha, returned: ReturnedLight.modes(amplitudes: alpha, symbols: xi, measurement: measurement,
                                                                       preparationNoise: behaviour.preparationNoise))
            }
        }
        let t = min(1, channel.transmittance), eps = channel.excessNoise
        return (t, eps, try WeightLeakage.bitsPerMode(photonsPerMode: mu, transmittance: max(t, 1e-12), excessNoise: eps))
    }

    public static func rows(_ trials: [ServerCheckValidation.Trial], images: Int, blockImages: Int,
                            truth: [String: (t: Double, eps: Double, bits: Double)]) -> [Row] {
        let clients = trials.map(\.client).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return clients.map { c in
            let ts = trials.filter { $0.client == c }
            let n = Double(max(1, ts.count))
            let curve = stride(from: blockImages, through: images, by: blockImages).map { k in
                Row.Point(images: k, aborted: Double(ts.filter { ($0.imagesAtAbort ?? Int.max) <= k }.count) / n,
                          certified: Double(ts.filter { ($0.imagesAtFirstCertified ?? Int.max) <= k }.count) / n)
            }
            let tr = truth[c] ?? (.nan, .nan, .nan)
            return Row(client: c, trueTransmittance: tr.t, trueExcessNoise: tr.eps, trueLeakageBitsPerMode: tr.bits, runs: ts.count, curve: curve)
        }
    }

    public static func csv(_ rows: [Row]) -> String {
        var out = "client,true_transmittance,true_excess_noise_snu,true_leakage_bit_per_mode,runs,images,p_aborted,p_certified\n"
        for r in rows {
            for p in r.curve {
                out += "\(r.client),\(r.trueTransmittance),\(r.trueExcessNoise),\(r.trueLeakageBitsPerMode),\(r.runs),\(p.images),\(p.aborted),\(p.certified)\n"
            }
        }
        return out
    }

    public static func plot(_ rows: [Row], budget: Double) -> String {
        let colors = LinePlot.palette
        var series: [LinePlot.Series] = []
        for (k, r) in rows.enumerated() {
            let label = String(format: "%@ (I_w %.3f)", r.client as NSString, r.trueLeakageBitsPerMode)
            series.append(.init(label: "abort: " + label, points: r.curve.map { (Double($0.images), $0.aborted) }, color: colors[k % colors.count]))
            if r.curve.contains(where: { $0.certified > 0 }) {
                series.append(.init(label: "certified: " + label, points: r.curve.map { (Double($0.images), $0.certified) },
                                    color: colors[k % colors.count], style: .dashed))
            }
        }
        var plot = LinePlot(title: String(format: "The server's check against images served (budget %.3g bit/mode)", budget),
                            xLabel: "images served", yLabel: "fraction of runs")
        plot.series = series
        plot.width = 900
        return plot.render().rendered
    }
}
