/// Streaming mean and variance (Welford), mergeable across threads (Chan et al.).
public struct RunningMoments: Sendable, Equatable, Codable {
    public private(set) var count: Int = 0
    public private(set) var mean: Double = 0
    /// Sum of squared deviations from the mean.
    public private(set) var m2: Double = 0

    public init() {}

    public mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// Merges a block given by its raw sums (count, Σx, Σx²).
    public mutating func add(count n: Int, sum: Double, sumOfSquares: Double) {
        guard n > 0 else { return }
        var block = RunningMoments()
        block.count = n
        block.mean = sum / Double(n)
        block.m2 = max(0, sumOfSquares - sum * sum / Double(n))
        merge(block)
    }

    public mutating func merge(_ other: RunningMoments) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let n = Double(count + other.count)
        let delta = other.mean - mean
        mean += delta * Double(other.count) / n
        m2 += other.m2 + delta * delta * Double(count) * Double(other.count) / n
        count += other.count
    }

    /// Unbiased sample variance (n − 1 denominator); 0 below two samples.
    public var variance: Double { count > 1 ? m2 / Double(count - 1) : 0 }
    public var standardDeviation: Double { variance.squareRoot() }
    /// Standard error of the mean.
    public var standardError: Double { count > 0 ? (variance / Double(count)).squareRoot() : .infinity }
}
