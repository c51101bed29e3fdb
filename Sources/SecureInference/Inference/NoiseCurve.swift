import Foundation

/// A model's accuracy against the inference SNR F = 2μf(G), measured under the protocol's noise
/// model (`InferenceSimulation`) at one gain, μ = F / (2 f(G)), over several noise seeds. Kept in
/// the model file's header so a model says how robust it is.
public struct NoiseCurve: Codable, Sendable, Equatable {
    public struct Point: Codable, Sendable, Equatable {
        /// Inference SNR F (dimensionless).
        public let inferenceSNR: Double
        /// Photons per mode μ at the curve's gain.
        public let photonsPerMode: Double
        /// One accuracy per seed, in the order of `NoiseCurve.seeds`.
        public let accuracies: [Double]
        public var mean: Double { accuracies.reduce(0, +) / Double(max(1, accuracies.count)) }
        /// Sample standard deviation over the seeds (0 for one seed).
        public var standardDeviation: Double {
            guard accuracies.count > 1 else { return 0 }
            let m = mean
            return (accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(accuracies.count - 1)).squareRoot()
        }
        /// Half the range over the seeds: (max − min) / 2.
        public var halfRange: Double { ((accuracies.max() ?? 0) - (accuracies.min() ?? 0)) / 2 }
    }

    /// Client gain G used for every point.
    public let gain: Double
    /// Test images per point (the first ones of the set).
    public let images: Int
    public let seeds: [UInt64]
    public let points: [Point]
    /// Noise-free accuracy on the same images.
    public let digitalAccuracy: Double

    /// The default F list of `qbench train`'s curve: low-leakage end to the paper's headline point.
    public static let defaultSNRs: [Double] = [0.25, 0.5, 0.6, 0.75, 1, 2, 4, 10]
    public static let defaultSeeds: [UInt64] = [1, 2, 3]

    public init(gain: Double, images: Int, seeds: [UInt64], points: [Point], digitalAccuracy: Double) {
        self.gain = gain; self.images = images; self.seeds = seeds; self.points = points; self.digitalAccuracy = digitalAccuracy
    }

    /// Measures `network` on `set` at each F in `snrs` for each seed.
    public static func measure(_ network: MNISTNetwork, on set: MNISTSet, snrs: [Double], seeds: [UInt64] = defaultSeeds,
                               gain: Double = 2, progress: (_ pointsDone: Int) -> Void = { _ in }) throws(ProtocolDomainError) -> NoiseCurve {
        let amplifier = try ClientAmplifier(gain: gain)
        var points: [Point] = []
        for f in snrs {
            try require(f > 0 && f.isFinite, "inference SNR F", f, "F > 0")
            let mu = f / (2 * amplifier.snrFactor)
            let simulation = InferenceSimulation(network: network, noise: try ProtocolNoiseModel(amplifier: amplifier, photonsPerMode: mu))
            var accuracies: [Double] = []
            for seed in seeds { accuracies.append(try simulation.run(set, seed: seed).accuracy) }
            points.append(Point(inferenceSNR: f, photonsPerMode: mu, accuracies: accuracies))
            progress(points.count)
        }
        let digital = MNISTNetwork.accuracy(MNISTNetwork.predictions(network.logits(set.images)), labels: set.labels)
        return NoiseCurve(gain: gain, images: set.count, seeds: seeds, points: points, digitalAccuracy: digital)
    }
}
