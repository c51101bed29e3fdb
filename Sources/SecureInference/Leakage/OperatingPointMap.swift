import Foundation

/// Accuracy and leakage of a model over a grid of operating points (μ, G), and the choice a user
/// makes from it: at each weight-leakage level, the most accurate point whose weight leakage is
/// within that level and whose data leakage is within a data budget (`qbench map`).
public struct OperatingPointMap: Sendable, Equatable, Codable {
    public struct Point: Sendable, Equatable, Codable {
        public let gain: Double
        public let photonsPerMode: Double
        /// F = 2μf(G).
        public let inferenceSNR: Double
        /// One accuracy per seed.
        public let accuracies: [Double]
        /// Holevo weight leakage of the honest lossless client, bit/mode.
        public let weightLeakageBitsPerMode: Double
        /// Cramér–Rao data leakage, bit/symbol.
        public let dataLeakageBits: Double

        public init(gain: Double, photonsPerMode: Double, inferenceSNR: Double, accuracies: [Double],
                    weightLeakageBitsPerMode: Double, dataLeakageBits: Double) {
            self.gain = gain; self.photonsPerMode = photonsPerMode; self.inferenceSNR = inferenceSNR
            self.accuracies = accuracies; self.weightLeakageBitsPerMode = weightLeakageBitsPerMode; self.dataLeakageBits = dataLeakageBits
        }

        public var accuracy: Double { accuracies.reduce(0, +) / Double(max(1, accuracies.count)) }
        /// Half the range over the seeds.
        public var spread: Double { ((accuracies.max() ?? 0) - (accuracies.min() ?? 0)) / 2 }

        private enum EncodedKeys: String, CodingKey {
            case gain, photonsPerMode, inferenceSNR, accuracies, weightLeakageBitsPerMode, dataLeakageBits, accuracy, accuracySpread
        }

        /// The stored fields plus the mean accuracy and its spread, for JSON readers (decoding
        /// reads the stored fields and ignores the two derived ones).
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: EncodedKeys.self)
            try c.encode(gain, forKey: .gain)
            try c.encode(photonsPerMode, forKey: .photonsPerMode)
            try c.encode(inferenceSNR, forKey: .inferenceSNR)
            try c.encode(accuracies, forKey: .accuracies)
            try c.encode(weightLeakageBitsPerMode, forKey: .weightLeakageBitsPerMode)
            try c.encode(dataLeakageBits, forKey: .dataLeakageBits)
            try c.encode(accuracy, forKey: .accuracy)
            try c.encode(spread, forKey: .accuracySpread)
        }

        /// The leakage figures from the project's bounds (`LeakageSummary`), for a network whose
        /// inner products have `modesPerRow` modes and `innerProducts` inner products per image.
        public init(gain: Double, photonsPerMode mu: Double, accuracies: [Double], modesPerRow: Int,
                    innerProducts: Int) throws(ProtocolDomainError) {
            let leak = try LeakageSummary(gain: gain, photonsPerMode: mu, modesPerRow: modesPerRow, innerProducts: innerProducts)
            self.init(gain: gain, photonsPerMode: mu, inferenceSNR: try ClientAmplifier(gain: gain).inferenceSNR(photonsPerMode: mu),
                      accuracies: accuracies, weightLeakageBitsPerMode: leak.weightLeakageBitsPerMode,
                      dataLeakageBits: leak.dataLeakageBits)
        }
    }

    /// The best point at one weight-leakage level, or none if no point is within both budgets.
    public struct Choice: Sendable, Equatable, Codable {
        /// Weight-leakage level, bit/mode.
        public let weightLeakageLevel: Double
        public let best: Point?
    }

    public let points: [Point]
    public init(points: [Point]) { self.points = points }

    /// For each level (bit/mode), the point of highest mean accuracy with I_w ≤ level and
    /// I_x ≤ `dataLeakageBudget` (bit); ties go to the lower I_w, then the lower I_x.
    public func best(atWeightLeakageLevels levels: [Double], dataLeakageBudget: Double = .infinity) -> [Choice] {
        levels.map { level in
            let admissible = points.filter { $0.weightLeakageBitsPerMode <= level && $0.dataLeakageBits <= dataLeakageBudget }
            let best = admissible.min { a, b in
                if a.accuracy != b.accuracy { return a.accuracy > b.accuracy }
                if a.weightLeakageBitsPerMode != b.weightLeakageBitsPerMode { return a.weightLeakageBitsPerMode < b.weightLeakageBitsPerMode }
                return a.dataLeakageBits < b.dataLeakageBits
            }
            return Choice(weightLeakageLevel: level, best: best)
        }
    }

    /// The points no other point beats on both accuracy (higher) and weight leakage (lower) among
    /// those within the data budget, in order of increasing I_w: the curve a user picks from.
    public func frontier(dataLeakageBudget: Double = .infinity) -> [Point] {
        let admissible = points.filter { $0.dataLeakageBits <= dataLeakageBudget }
            .sorted { ($0.weightLeakageBitsPerMode, -$0.accuracy) < ($1.weightLeakageBitsPerMode, -$1.accuracy) }
        var out: [Point] = []
        for p in admissible where p.accuracy > (out.last?.accuracy ?? -.infinity) { out.append(p) }
        return out
    }
}
